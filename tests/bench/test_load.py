"""`make bench-load` in its tiny mode: every phase runs and every figure is printed.

The figures' values are the benchmark's business (docs/performance.md), never a test's.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from .support import BENCH, run_quick


@pytest.fixture(scope="module")
def output() -> str:
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("node and npm are needed for the load generator (autocannon)")
    if not (BENCH / "node_modules" / "autocannon").is_dir():
        subprocess.run(
            ["npm", "ci", "--prefix", str(BENCH), "--no-audit", "--no-fund", "--loglevel=error"],
            check=True,
            timeout=600,
        )
    return run_quick("load.py")


NUMBER = r"[0-9]+(\.[0-9]+)?"


@pytest.mark.parametrize("app", ["project", "naive", "floor"])
@pytest.mark.parametrize("channel", ["sms", "voice"])
def test_it_measures_each_app_on_each_channel(output: str, app: str, channel: str) -> None:
    row = rf"^{app} +{channel} +{NUMBER} +{NUMBER} +{NUMBER} +{NUMBER} +{NUMBER} +0$"
    assert re.search(row, output, re.MULTILINE), output


def test_it_prints_the_ratios_against_the_naive_handler_and_the_floor(output: str) -> None:
    for channel in ("sms", "voice"):
        line = rf"^ratio {channel}: project/naive {NUMBER}x .*project/floor {NUMBER}x"
        assert re.search(line, output, re.MULTILINE), output


def test_it_prints_the_notification_delay_memory_session_size_and_start_up(output: str) -> None:
    assert re.search(rf"staff text at the twilio client .* p95 {NUMBER} ms", output), output
    assert re.search(rf"web worker RSS after the run: {NUMBER} MB, {NUMBER} MB", output), output
    assert re.search(rf"stored sessions: [1-9][0-9]*, median {NUMBER} B, max", output), output
    assert re.search(rf"start-up .*: {NUMBER} s", output), output


@pytest.mark.parametrize("app", ["project", "naive", "floor"])
@pytest.mark.parametrize("channel", ["sms", "voice"])
def test_it_prints_where_each_phases_cpu_went(output: str, app: str, channel: str) -> None:
    line = (
        rf"^  cpu {app} +{channel} +total +{NUMBER}: app {NUMBER}, redis {NUMBER}, "
        + (rf"rq worker {NUMBER}, " if app == "project" else "")
        + rf"load generator {NUMBER}; web workers {NUMBER}% / {NUMBER}%$"
    )
    assert re.search(line, output, re.MULTILINE), output
