"""The engine is pure: no flask, twilio, redis or rq, in its source or when imported."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {"flask", "twilio", "redis", "rq", "werkzeug", "requests"}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_it_imports_no_io_libraries_in_source() -> None:
    for path in (ROOT / "intake" / "flow").glob("*.py"):
        assert not imported_modules(path) & FORBIDDEN, path


def test_it_pulls_in_no_io_libraries_at_runtime() -> None:
    code = (
        "import sys, intake.flow.engine, intake.flow.loader, intake.flow.model;"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {sorted(FORBIDDEN)!r});"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_web_never_imports_workers() -> None:
    for path in (ROOT / "intake").rglob("*.py"):
        assert "workers" not in imported_modules(path), path
