"""bench/language_cost.py in its quick mode: time per message, in wall and CPU time."""

from __future__ import annotations

import re

from .support import run_quick


def test_it_prints_the_time_per_message_against_its_baseline() -> None:
    output = run_quick("language_cost.py")
    assert "language layer, 100 messages" in output, output
    for clock in ("wall time", "CPU time"):
        figures = rf"^  {clock}: .* p50 [0-9.]+ ms, p95 [0-9.]+ ms = [0-9]+x the baseline"
        assert re.search(figures, output, re.MULTILINE), output
