"""A job for tests/workers/test_worker.py: what a forked job finds in its process."""

from __future__ import annotations

import sys


def imported(module: str) -> bool:
    return module in sys.modules


def flows_loaded() -> bool:
    from workers import jobs

    return jobs.flow.cache_info().currsize == 1
