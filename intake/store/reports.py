"""The reports' tallies: counts by UTC day, hour and dimension; nothing personal.

`report:<UTC date>` is a hash of tally field -> count. The retention purge leaves it alone: it
names no person, number, task or word anyone said.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from ..tallies import Tally
from .base import PREFIX, StoreBase, _strings


class ReportStore(StoreBase):
    """Adds and reads tallies."""

    def _report_key(self, day: date) -> str:
        return f"{PREFIX}:report:{day.isoformat()}"

    def add_tallies(self, tallies: Iterable[Tally], pipe: Any = None) -> None:
        """Count each tally once, on `pipe` (inside its transaction) or at once."""
        target = pipe if pipe is not None else self.redis.pipeline(transaction=False)
        for t in tallies:
            target.hincrby(self._report_key(t.day), t.field, 1)
        if pipe is None:
            target.execute()

    def tallies(self, days: Iterable[date]) -> list[tuple[Tally, int]]:
        """Every tally of these UTC days with its count."""
        wanted = list(days)
        pipe = self.redis.pipeline(transaction=False)
        for day in wanted:
            pipe.hgetall(self._report_key(day))
        found: list[tuple[Tally, int]] = []
        for day, fields in zip(wanted, pipe.execute(), strict=True):
            for name, count in zip(_strings(fields.keys()), fields.values(), strict=True):
                found.append((Tally.parse(day, name), int(count)))
        return found
