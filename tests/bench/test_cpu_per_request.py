"""bench/cpu_per_request.py in its quick mode: the three apps are measured and compared."""

from __future__ import annotations

import re

from .support import run_quick


def test_it_prints_each_apps_cpu_time_and_the_ratios() -> None:
    output = run_quick("cpu_per_request.py")
    for app in ("floor", "naive", "project"):
        assert re.search(rf"^  {app} +[0-9]+ us$", output, re.MULTILINE), output
    assert re.search(r"project / naive: [0-9.]+x .* [0-9.]+x the floor", output)
