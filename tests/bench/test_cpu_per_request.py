"""bench/cpu_per_request.py in its quick mode: the three apps are measured and compared."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_it_prints_each_apps_cpu_time_and_the_ratios() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "cpu_per_request.py"), "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for app in ("floor", "naive", "project"):
        assert re.search(rf"^  {app} +[0-9]+ us$", done.stdout, re.MULTILINE), done.stdout
    assert re.search(r"project / naive: [0-9.]+x .* [0-9.]+x the floor", done.stdout)
