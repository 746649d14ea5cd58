"""Speed-to-lead reports: tallies written as tasks change, the figures, `intake report`, purge."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from redis import Redis

from intake import reports
from intake.config import Settings
from intake.desk import Desk
from intake.store import Store
from tests.support import factories
from tests.support.stores import make_store

from .test_lifecycle import run_cli

NY = ZoneInfo("America/New_York")
ANA = "ana@center.org"
MONDAY = date(2026, 11, 2)
NAME = "Sam Rivera"


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NY)


class Clock:
    def __init__(self) -> None:
        self.now = at(MONDAY, 0)

    def __call__(self) -> datetime:
        return self.now


def timeline(store: Store, redis: Redis, settings: Settings, monday: date) -> None:
    """Five tasks over a Monday and a Tuesday, claimed and tried at known times.

    Claims after 3, 8, 30 and 90 minutes (targets: urgent 5 min, normal 60 business minutes);
    first attempts after 4, 10, 40 and 100 minutes; two reached, one never claimed.
    """
    clock = Clock()
    desk = Desk(store, redis, settings, clock=clock)
    tuesday = monday + timedelta(days=1)
    urgent = dict(kind="crisis", priority="urgent", crisis_category="suicide")
    plan: list[tuple[str, datetime, dict[str, Any], list[tuple[int, str, str | None]]]] = [
        ("u1", at(monday, 14), urgent, [(3, "claim", None), (4, "attempt", "reached")]),
        (
            "u2",
            at(monday, 14, 10),
            {**urgent, "channel": "voice", "language": "es"},
            [(8, "claim", None), (10, "attempt", "no_answer"), (20, "attempt", "reached")],
        ),
        ("n1", at(monday, 9), {}, [(30, "claim", None), (40, "attempt", "no_answer")]),
        ("n2", at(tuesday, 15), {}, [(90, "claim", None), (100, "attempt", "declined")]),
        ("n3", at(tuesday, 16), {"channel": "voice"}, []),
    ]
    for task_id, created, fields, steps in plan:
        store.create_task(
            factories.make_task(task_id, created_at=created, due_at=created, name=NAME, **fields)
        )
        for minutes, action, outcome in steps:
            clock.now = created + timedelta(minutes=minutes)
            details = {"outcome": outcome} if outcome else {}
            desk.change(task_id, action, ANA, **details)
        if steps:
            clock.now = created + timedelta(hours=3)
            desk.change(task_id, "done", ANA)


def test_it_reports_claim_and_attempt_times_contact_rate_and_outcomes(
    redis_conn: Redis, settings: Settings
) -> None:
    store = make_store(redis_conn)
    timeline(store, redis_conn, settings, MONDAY)
    data = reports.report(store, MONDAY, MONDAY + timedelta(days=1), NY)
    overall = data["overall"]
    assert overall == {
        "conversations": 0,
        "callback_requested": 0,
        "completed": 3,
        "crisis_tasks": 2,
        "claimed": 4,
        "time_to_claim": {"median": 8 * 60, "p90": 90 * 60},
        "claimed_within_target": 0.5,
        "attempted": 4,
        "time_to_first_attempt": {"median": 10 * 60, "p90": 100 * 60},
        "reached": 2,
        "contact_rate": 0.5,
        "outcomes": {
            "no_answer": 2,
            "left_voicemail": 0,
            "reached": 2,
            "wrong_number": 0,
            "declined": 1,
        },
    }
    by: Any = data["by"]
    assert by["priority"]["urgent"]["time_to_claim"] == {"median": 180, "p90": 480}
    assert by["priority"]["urgent"]["claimed_within_target"] == 0.5
    assert by["priority"]["normal"]["time_to_claim"] == {"median": 1800, "p90": 5400}
    assert by["priority"]["normal"]["claimed_within_target"] == 0.5
    assert by["channel"]["voice"]["completed"] == 1 and by["channel"]["voice"]["claimed"] == 1
    assert by["language"]["es"]["contact_rate"] == 1.0
    assert list(by["hour"]) == ["09", "14", "15", "16"]  # business time, not UTC
    assert by["hour"]["14"]["claimed"] == 2
    assert list(by["weekday"]) == ["Mon", "Tue"]
    assert by["weekday"]["Tue"]["completed"] == 2
    # A range that leaves Tuesday out leaves its tasks out.
    monday_only: Any = reports.report(store, MONDAY, MONDAY, NY)["overall"]
    assert (monday_only["completed"], monday_only["claimed"]) == (1, 3)


def test_a_task_is_counted_once_however_often_it_is_stored_or_claimed(
    redis_conn: Redis, settings: Settings
) -> None:
    store = make_store(redis_conn)
    clock = Clock()
    desk = Desk(store, redis_conn, settings, clock=clock)
    task = factories.make_task("t1", created_at=at(MONDAY, 10), due_at=at(MONDAY, 10))
    assert store.create_task(task) and not store.create_task(task)  # a retried job
    clock.now = at(MONDAY, 10, 5)
    desk.change("t1", "claim", ANA)
    desk.change("t1", "done", ANA)
    desk.change("t1", "reopen", ANA)
    clock.now = at(MONDAY, 12)
    desk.change("t1", "claim", ANA)  # a second claim is not a time to claim
    overall: Any = reports.report(store, MONDAY, MONDAY, NY)["overall"]
    assert (overall["completed"], overall["claimed"]) == (1, 1)
    assert overall["time_to_claim"] == {"median": 300, "p90": 300}


def test_intake_report_prints_the_same_figures(
    redis_conn: Redis, settings: Settings, settings_env: dict[str, str]
) -> None:
    store = make_store(redis_conn)
    timeline(store, redis_conn, settings, MONDAY)
    since, until = MONDAY.isoformat(), (MONDAY + timedelta(days=1)).isoformat()
    done = run_cli(settings_env, "report", "--since", since, "--until", until, "--json")
    assert done.returncode == 0, done.stderr
    expected = reports.report(store, MONDAY, MONDAY + timedelta(days=1), NY)
    assert json.loads(done.stdout) == expected
    shown = run_cli(settings_env, "report", "--since", since, "--until", until)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == f"Speed to lead, {since} to {until} (America/New_York)"
    assert (
        "all: claim median 8 min, p90 1 h 30 min, within target 50% of 4; "
        "first attempt median 10 min, p90 1 h 40 min; contact rate 50% (2/4)"
    ) in lines
    assert "  urgent: claim median 3 min, p90 8 min, within target 50% of 2; " in shown.stdout
    refused = run_cli(settings_env, "report", "--since", "yesterday")
    assert refused.returncode == 2 and "not a date" in refused.stderr


def test_the_report_survives_intake_purge_and_names_nobody(
    redis_conn: Redis, settings: Settings, settings_env: dict[str, str]
) -> None:
    store = make_store(redis_conn)
    long_ago = date(2026, 9, 7)  # a Monday, long past RETENTION_DAYS (30)
    timeline(store, redis_conn, settings, long_ago)
    before = reports.report(store, long_ago, long_ago + timedelta(days=1), NY)
    purged = run_cli(settings_env, "purge", "--json")
    assert purged.returncode == 0, purged.stderr
    assert json.loads(purged.stdout)["tasks"] == 4  # every done task; n3 is still open
    assert [t.id for t in store.list_tasks()] == ["n3"]
    assert reports.report(store, long_ago, long_ago + timedelta(days=1), NY) == before
    tallies = b" ".join(
        k + b" " + b" ".join(f + b"=" + v for f, v in redis_conn.hgetall(k).items())
        for k in redis_conn.keys("intake:report:*")
    )
    assert tallies  # kept
    for personal in (NAME.encode(), b"Sam", factories.NUMBER.encode(), b"5550199", b"u1", b"n2"):
        assert personal not in tallies
