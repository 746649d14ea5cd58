""".env.example lists exactly the variables intake/config.py reads, each with a comment."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from intake.config import Settings

ROOT = Path(__file__).resolve().parents[1]


class RecordingEnv(dict[str, str]):
    """An environment that remembers every name looked up in it."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)


def example_lines() -> list[str]:
    return (ROOT / ".env.example").read_text().splitlines()


def example_names() -> list[str]:
    """Variable names in .env.example, set or commented out."""
    matches = (re.match(r"#? ?([A-Z][A-Z0-9_]*)=", line) for line in example_lines())
    return [m.group(1) for m in matches if m]


def test_it_lists_every_variable_config_reads(settings_env: dict[str, str]) -> None:
    env = RecordingEnv(settings_env)
    Settings.from_env(env)
    assert sorted(example_names()) == sorted(env.read)


def test_it_lists_each_variable_once_with_a_comment() -> None:
    names = example_names()
    assert len(names) == len(set(names))
    lines = example_lines()
    for i, line in enumerate(lines):
        if re.match(r"#? ?[A-Z][A-Z0-9_]*=", line):
            above = lines[i - 1]
            assert above.startswith("# ") and not re.match(r"# [A-Z][A-Z0-9_]*=", above), line


def test_it_leaves_redis_url_unset_so_make_run_starts_redis() -> None:
    assert "# REDIS_URL=redis://127.0.0.1:6379/0" in example_lines()
