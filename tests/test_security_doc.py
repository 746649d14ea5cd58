"""docs/security.md names the test behind each control: every one it names must exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# `web/test_sms.py::test_name`, `web/test_sms.py`, or `::test_name` (same file as the one before)
REFERENCE = re.compile(r"`((?:[\w/]+\.py)?)(?:::(\w+))?`")


def references() -> list[tuple[str, str]]:
    found = []
    for row in (ROOT / "docs" / "security.md").read_text().splitlines():
        if not row.startswith("|"):
            continue
        test_cell = row.rstrip(" |").rsplit("|", 1)[-1]
        last = ""
        for path, name in REFERENCE.findall(test_cell):
            last = path or last
            if last:
                found.append((last, name))
    return found


def test_every_control_names_a_test_that_exists() -> None:
    refs = references()
    assert len(refs) >= 20
    missing = [
        f"{path}::{name}"
        for path, name in refs
        if not (ROOT / "tests" / path).is_file()
        or (name and f"def {name}(" not in (ROOT / "tests" / path).read_text())
    ]
    assert missing == []
