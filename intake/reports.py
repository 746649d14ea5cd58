"""Speed-to-lead reports from the tallies (intake/tallies.py): one computation for
/staff/reports, its CSV and `intake report`.

Figures for a range of days in the business time zone: time to claim and to first attempt
(median, p90), the share claimed within target, contact rate (reached / attempted), the outcome
mix and the funnel (first message -> callback requested -> completed -> reached), overall and by
channel, language, priority, hour of day and day of week.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from . import tallies as t
from .store import Store
from .tasks import OUTCOMES

DIMENSIONS = ("channel", "language", "priority", "hour", "weekday")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
FUNNEL = (
    ("conversations", "First message"),
    ("callback_requested", "Callback requested"),
    ("completed", "Completed conversation"),
    ("reached", "Reached"),
)
# The CSV's columns after dimension and group: every figure of a summary, flat.
CSV_FIGURES = (
    "conversations",
    "callback_requested",
    "completed",
    "crisis_tasks",
    "claimed",
    "claim_median_s",
    "claim_p90_s",
    "claimed_within_target",
    "attempted",
    "first_attempt_median_s",
    "first_attempt_p90_s",
    "reached",
    "contact_rate",
    *(f"outcome_{o}" for o in OUTCOMES),
)
DEFAULT_DAYS = 30


@dataclass(frozen=True)
class Row:
    """A tally placed in local time, with its count."""

    at: datetime  # the local hour it counts in
    channel: str
    language: str
    priority: str
    metric: str
    value: str
    count: int


def default_range(today: date) -> tuple[date, date]:
    """The last DEFAULT_DAYS days, today included."""
    return today - timedelta(days=DEFAULT_DAYS - 1), today


def load(store: Store, since: date, until: date, tz: ZoneInfo) -> list[Row]:
    """The tallies of local days `since` to `until` (both included)."""
    days = [since - timedelta(days=1) + timedelta(days=i) for i in range((until - since).days + 3)]
    rows = []
    for tally, count in store.tallies(days):
        local = datetime.combine(tally.day, datetime.min.time(), UTC).replace(hour=tally.hour)
        local = local.astimezone(tz)
        if since <= local.date() <= until:
            rows.append(
                Row(
                    local,
                    tally.channel,
                    tally.language,
                    tally.priority,
                    tally.metric,
                    tally.value,
                    count,
                )
            )
    return rows


def percentile(values: dict[int, int], share: float) -> int | None:
    """The nearest-rank percentile of counted values (value -> how many); None if none."""
    total = sum(values.values())
    if not total:
        return None
    rank = max(1, math.ceil(share * total))
    seen = 0
    for value in sorted(values):
        seen += values[value]
        if seen >= rank:
            return value
    return None  # not reached: rank <= total


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def summary(rows: Iterable[Row]) -> dict[str, object]:
    """Every figure for these rows."""
    counts: dict[str, int] = defaultdict(int)
    claims: dict[int, int] = defaultdict(int)
    firsts: dict[int, int] = defaultdict(int)
    outcomes = dict.fromkeys(OUTCOMES, 0)
    for r in rows:
        if r.metric == t.TASK:
            counts["completed" if r.value == "callback" else "crisis_tasks"] += r.count
        elif r.metric == t.CLAIM:
            claims[int(r.value)] += r.count
        elif r.metric == t.FIRST_ATTEMPT:
            firsts[int(r.value)] += r.count
        elif r.metric == t.CLAIM_IN_TARGET:
            counts["in_target"] += r.count if r.value == "1" else 0
        elif r.metric == t.OUTCOME:
            outcomes[r.value] = outcomes.get(r.value, 0) + r.count
        else:
            counts[r.metric] += r.count
    claimed, attempted = sum(claims.values()), sum(firsts.values())
    return {
        "conversations": counts[t.CONVERSATION],
        "callback_requested": counts[t.DETAILS],
        "completed": counts["completed"],
        "crisis_tasks": counts["crisis_tasks"],
        "claimed": claimed,
        "time_to_claim": {"median": percentile(claims, 0.5), "p90": percentile(claims, 0.9)},
        "claimed_within_target": ratio(counts["in_target"], claimed),
        "attempted": attempted,
        "time_to_first_attempt": {
            "median": percentile(firsts, 0.5),
            "p90": percentile(firsts, 0.9),
        },
        "reached": counts[t.REACHED],
        "contact_rate": ratio(counts[t.REACHED], attempted),
        "outcomes": outcomes,
    }


KEYS: dict[str, Callable[[Row], str]] = {
    "channel": lambda r: r.channel,
    "language": lambda r: r.language,
    "priority": lambda r: r.priority,
    "hour": lambda r: f"{r.at.hour:02d}",
    "weekday": lambda r: WEEKDAYS[r.at.weekday()],
}


def figures(rows: list[Row], since: date, until: date, tz: ZoneInfo) -> dict[str, object]:
    """The whole report: overall and by each dimension, as plain JSON types."""
    by: dict[str, dict[str, object]] = {}
    for dimension, key in KEYS.items():
        groups: dict[str, list[Row]] = defaultdict(list)
        for r in rows:
            groups[key(r)].append(r)
        order = list(WEEKDAYS) if dimension == "weekday" else sorted(groups)
        by[dimension] = {g: summary(groups[g]) for g in order if g in groups}
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "timezone": str(tz),
        "overall": summary(rows),
        "by": by,
    }


def report(store: Store, since: date, until: date, tz: ZoneInfo) -> dict[str, object]:
    """Load and compute: what the page, the CSV and `intake report` show."""
    return figures(load(store, since, until, tz), since, until, tz)


def flat(s: dict[str, object]) -> dict[str, object]:
    """A summary as one CSV row's figures."""
    claim = s["time_to_claim"]
    first = s["time_to_first_attempt"]
    outcomes = s["outcomes"]
    assert isinstance(claim, dict) and isinstance(first, dict) and isinstance(outcomes, dict)
    values: dict[str, object] = {k: s[k] for k in CSV_FIGURES if k in s}
    values |= {
        "claim_median_s": claim["median"],
        "claim_p90_s": claim["p90"],
        "first_attempt_median_s": first["median"],
        "first_attempt_p90_s": first["p90"],
    }
    values |= {f"outcome_{o}": outcomes.get(o, 0) for o in OUTCOMES}
    return values


def csv_rows(data: dict[str, object]) -> list[list[str]]:
    """The report as a table: dimension, group, then CSV_FIGURES; 'all' first."""
    header = ["dimension", "group", *CSV_FIGURES]
    overall = data["overall"]
    by = data["by"]
    assert isinstance(overall, dict) and isinstance(by, dict)
    lines = [("all", "all", overall)]
    for dimension in DIMENSIONS:
        lines += [(dimension, group, s) for group, s in by[dimension].items()]
    out = [header]
    for dimension, group, s in lines:
        values = flat(s)
        out.append(
            [dimension, group, *("" if values[k] is None else str(values[k]) for k in CSV_FIGURES)]
        )
    return out


def duration(seconds: object) -> str:
    """'—', '45 s', '12 min', '2 h 5 min'."""
    if not isinstance(seconds, int):
        return "—"
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min" if minutes % 60 else f"{minutes // 60} h"


def percent(share: object) -> str:
    return f"{share * 100:.0f}%" if isinstance(share, float) else "—"


def text(data: dict[str, object]) -> str:
    """The report for a terminal: overall, then a line per group of each dimension."""
    overall = data["overall"]
    by = data["by"]
    assert isinstance(overall, dict) and isinstance(by, dict)
    lines = [f"Speed to lead, {data['since']} to {data['until']} ({data['timezone']})", ""]
    lines += _lines("all", overall)
    for dimension in DIMENSIONS:
        lines += ["", f"By {dimension}:"]
        for group, s in by[dimension].items():
            lines += ["  " + _line(group, s)]
    return "\n".join(lines)


def _lines(name: str, s: dict[str, object]) -> list[str]:
    outcomes = s["outcomes"]
    assert isinstance(outcomes, dict)
    mix = ", ".join(f"{o} {n}" for o, n in outcomes.items())
    return [
        "Funnel: " + " -> ".join(f"{label.lower()} {s[key]}" for key, label in FUNNEL),
        f"Crisis tasks: {s['crisis_tasks']}",
        _line(name, s),
        f"Outcomes: {mix}",
    ]


def _line(group: str, s: dict[str, object]) -> str:
    claim, first = s["time_to_claim"], s["time_to_first_attempt"]
    assert isinstance(claim, dict) and isinstance(first, dict)
    return (
        f"{group}: claim median {duration(claim['median'])}, p90 {duration(claim['p90'])}, "
        f"within target {percent(s['claimed_within_target'])} of {s['claimed']}; "
        f"first attempt median {duration(first['median'])}, p90 {duration(first['p90'])}; "
        f"contact rate {percent(s['contact_rate'])} ({s['reached']}/{s['attempted']})"
    )
