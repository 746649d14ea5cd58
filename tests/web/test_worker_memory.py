"""A web worker hides what its app loaded from the garbage collector and gives back the memory
loading freed (intake.app.keep_for_life)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# In a child process: the gunicorn settings module sets up metrics as it is imported, and a
# frozen heap is for good.
CHILD = """
import gc
from intake import gunicorn_conf
assert gc.get_freeze_count() == 0
gunicorn_conf.post_worker_init(None)
print(gc.get_freeze_count(), len(gc.get_objects(generation=2)))
"""


def test_a_web_worker_freezes_what_it_loaded_once_it_has_booted() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    frozen, left = map(int, done.stdout.split())
    assert frozen > 10_000  # the modules gunicorn's settings import, at least
    assert left < frozen / 10  # the oldest generation is all but empty: nothing to walk


# Loading leaves freed heap behind (the flows' example texts, normalised once); glibc keeps it
# unless asked to give it back.
TRIM = """
from intake.app import keep_for_life


def resident_mb():
    with open("/proc/self/status") as status:
        return [int(line.split()[1]) for line in status if line.startswith("VmRSS:")][0] / 1024


texts = [bytearray(2000) for _ in range(40_000)]  # about 80 MB, outside Python's small pools
kept = texts[-1]  # the heap's top stays in use, so freeing the rest returns nothing by itself
del texts
before = resident_mb()
keep_for_life()
print(before, resident_mb())
"""


def test_a_web_worker_gives_back_the_memory_loading_freed() -> None:
    done = subprocess.run(
        [sys.executable, "-c", TRIM], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    before, after = map(float, done.stdout.split())
    assert before - after > 40  # most of the 80 MB freed went back to the system
