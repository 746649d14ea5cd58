"""Describing failures without personal data."""

from __future__ import annotations

import traceback


def describe(error: BaseException) -> str:
    """The exception type and where it happened; never its message, which may hold personal data."""
    frames = traceback.extract_tb(error.__traceback__)[-3:]
    where = " <- ".join(f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno}" for f in reversed(frames))
    return f"{type(error).__name__} at {where or 'unknown'}"
