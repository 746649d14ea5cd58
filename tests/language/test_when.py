"""parse_when cases as data: tests/language/cases/when.yaml, each a text and the window it means."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from intake.flow.language.when import TimeWindow, parse_when, window_for_label

CASES = Path(__file__).parent / "cases" / "when.yaml"
TZ = ZoneInfo("America/New_York")
NOW = "2026-11-25 03:00"
WORDS = (
    "tonight after 6 tomorrow morning manana por la tarde despues de las 6 at 3 3pm 10-2pm "
    "between 2 and 4 entre las y a before noon antes 6:30 18.30 noon midnight in an hour en una "
    "hora 30 minutes now asap ya any time cuando sea monday el lunes next weekend dec 3 12/3 "
    "5 de diciembre 0 12 24 99 am pm tmrw 2nite tonightttt x xla half past once one"
).split()


def local(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=TZ)


def shown(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M") if value else None


def load_cases() -> list[Any]:
    cases = yaml.safe_load(CASES.read_text(encoding="utf-8"))
    return [
        pytest.param(case, id=case["text"] + (f" @ {case['now']}" if "now" in case else ""))
        for case in cases
    ]


@pytest.mark.parametrize("case", load_cases())
def test_it_reads_the_time(case: dict[str, Any]) -> None:
    now = local(case.get("now", NOW)).astimezone(UTC)  # callers pass UTC
    window = parse_when(case["text"], now, TZ)
    if case["want"] is None:
        assert window is None
        return
    assert window is not None
    assert [window.label, shown(window.start), shown(window.end)] == case["want"]
    assert window.start is not None and window.start.tzinfo is TZ


def test_it_has_enough_cases_in_both_languages() -> None:
    assert len(load_cases()) >= 60


def test_it_gives_the_next_named_window() -> None:
    now = local("2026-11-25 14:00")
    assert window_for_label("morning", now, TZ) == TimeWindow(
        "morning", local("2026-11-26 09:00"), local("2026-11-26 12:00")
    )
    assert window_for_label("afternoon", now, TZ) == TimeWindow(
        "afternoon", local("2026-11-25 12:00"), local("2026-11-25 17:00")
    )
    assert window_for_label("evening", now, TZ) == TimeWindow(
        "evening", local("2026-11-25 17:00"), local("2026-11-25 21:00")
    )


def test_it_gives_now_and_any_from_the_current_time() -> None:
    now = datetime(2026, 11, 25, 19, 5, tzinfo=UTC)
    assert window_for_label("now", now, TZ) == TimeWindow(
        "now", local("2026-11-25 14:05"), local("2026-11-25 15:05")
    )
    assert window_for_label("any", now, TZ) == TimeWindow("any", local("2026-11-25 14:05"), None)


def test_it_rejects_an_unknown_label() -> None:
    with pytest.raises(ValueError):
        window_for_label("brunch", local(NOW), TZ)


def test_it_is_deterministic() -> None:
    now = local(NOW)
    first = [parse_when(case.values[0]["text"], now, TZ) for case in load_cases()]
    second = [parse_when(case.values[0]["text"], now, TZ) for case in load_cases()]
    assert first == second


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=8)), max_size=8),
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31)),
)
def test_it_gives_a_window_not_yet_over_or_none(words: list[str], naive: datetime) -> None:
    now = naive.replace(tzinfo=UTC)
    window = parse_when(" ".join(words), now, TZ)
    if window is None:
        return
    assert window.start is not None and window.start.tzinfo is TZ
    if window.end is not None:
        assert window.start < window.end
        assert window.end > now
