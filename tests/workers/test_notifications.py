"""What staff and callers receive, and when escalations fall due: pure functions, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from intake.app import load_flow
from intake.config import Settings
from intake.flow.segments import segment_count
from intake.notifications import (
    business_deadline,
    confirmation_sms,
    crm_payload,
    escalations,
    not_before,
    reminder_sms,
    staff_email,
    staff_sms,
)
from intake.tasks import CRISIS_CATEGORIES
from intake.web.staff.present import CRISIS
from tests.support.worker import new_task

NY = ZoneInfo("America/New_York")


def at(text: str) -> datetime:
    """A New York wall-clock time, e.g. '2026-11-23 10:00' (a Monday)."""
    return datetime.fromisoformat(text).replace(tzinfo=NY)


@pytest.fixture
def office(settings_env: dict[str, str]) -> Settings:
    """Monday to Friday, 08:00-20:00 New York (the defaults)."""
    return Settings.from_env(settings_env)


@pytest.mark.parametrize(
    ("start", "minutes", "deadline"),
    [
        ("2026-11-23 10:00", 60, "2026-11-23 11:00"),  # Monday, within hours
        ("2026-11-23 19:30", 60, "2026-11-24 08:30"),  # 30 min today, 30 tomorrow
        ("2026-11-23 21:15", 60, "2026-11-24 09:00"),  # after hours: counts from opening
        ("2026-11-24 06:00", 60, "2026-11-24 09:00"),  # before opening
        ("2026-11-27 19:45", 60, "2026-11-30 08:45"),  # Friday evening -> Monday
        ("2026-11-28 12:00", 60, "2026-11-30 09:00"),  # Saturday
        ("2026-11-23 19:00", 60, "2026-11-23 20:00"),  # exactly at closing
        ("2026-11-23 08:00", 12 * 60 + 1, "2026-11-24 08:01"),  # a whole day and a minute
    ],
)
def test_it_counts_only_business_minutes(
    office: Settings, start: str, minutes: float, deadline: str
) -> None:
    assert business_deadline(at(start), minutes, office) == at(deadline).astimezone(UTC)


def test_it_counts_business_minutes_in_the_business_time_zone(office: Settings) -> None:
    start = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)  # Monday 19:30 in New York
    assert business_deadline(start, 60, office) == at("2026-11-24 08:30").astimezone(UTC)


def test_it_counts_real_minutes_across_a_clock_change(settings_env: dict[str, str]) -> None:
    always = Settings.from_env(
        settings_env | {"BUSINESS_DAYS": "all", "BUSINESS_HOURS": "00:00-24:00"}
    )
    start = at("2026-11-01 00:30")  # clocks go back at 02:00 that night
    assert business_deadline(start, 180, always) == start.astimezone(UTC) + timedelta(hours=3)


def test_it_counts_straight_through_when_always_open(settings_env: dict[str, str]) -> None:
    always = Settings.from_env(
        settings_env | {"BUSINESS_DAYS": "all", "BUSINESS_HOURS": "00:00-24:00"}
    )
    start = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)  # a Saturday
    assert business_deadline(start, 0.02, always) == start + timedelta(seconds=1.2)


def test_it_escalates_urgent_tasks_twice_and_normal_ones_once(settings_env: dict[str, str]) -> None:
    s = Settings.from_env(
        settings_env
        | {"STAFF_NOTIFY_NUMBERS": "+13125550101", "ESCALATION_NUMBERS": "+13125550109"}
    )
    created = at("2026-11-23 10:00").astimezone(UTC)
    urgent = new_task(kind="crisis", created_at=created)
    normal = new_task(created_at=created)
    assert [(e.level, e.at) for e in escalations(urgent, s)] == [
        (1, created + timedelta(minutes=5)),
        (2, created + timedelta(minutes=10)),
    ]
    assert [(e.level, e.at) for e in escalations(normal, s)] == [(1, created + timedelta(hours=1))]


def test_it_never_schedules_an_escalation_early_in_rq_whole_seconds(
    settings_env: dict[str, str],
) -> None:
    """RQ keeps scheduled times in whole seconds, truncated: 10:00:01.2 would run at 10:00:01."""
    s = Settings.from_env(
        settings_env
        | {
            "STAFF_NOTIFY_NUMBERS": "+13125550101",
            "ESCALATION_NUMBERS": "+13125550109",
            "URGENT_CLAIM_MINUTES": "0.02",
        }
    )
    created = at("2026-11-23 10:00").astimezone(UTC) + timedelta(microseconds=100)
    plan = escalations(new_task(kind="crisis", created_at=created), s)
    assert [(e.level, e.at) for e in plan] == [
        (1, created.replace(microsecond=0) + timedelta(seconds=2)),
        (2, created.replace(microsecond=0) + timedelta(seconds=3)),
    ]
    assert not_before(created.replace(microsecond=0)) == created.replace(microsecond=0)


def test_it_escalates_to_nobody_when_no_numbers_are_set(office: Settings) -> None:
    assert escalations(new_task(kind="crisis"), office) == []
    assert escalations(new_task(), office) == []


def test_it_tells_staff_only_priority_id_and_link(settings_env: dict[str, str]) -> None:
    s = Settings.from_env(settings_env | {"PROGRAM_NAME": "Bayside Recovery"})
    task = new_task(kind="crisis", topics=["opioids"])
    texts = [staff_sms(task, s, level) for level in (0, 1, 2)] + [reminder_sms(task, s)]
    subject, body = staff_email(task, s)
    link = f"https://intake.example.org/staff/tasks/{task.id}"
    assert texts[0] == f"New URGENT task {task.id} at Bayside Recovery. Open {link}"
    for text in [*texts, subject + "\n" + body]:
        assert task.id in text
        for secret in ("Sam", "Rivera", "555", "crisis", "opioid", "evening", "overdose", "suicid"):
            assert secret.lower() not in text.lower(), (secret, text)
    for text in texts:
        assert link in text and segment_count(text) <= 2
    assert "URGENT" in texts[0] and "URGENT" in subject and "Priority: urgent" in body
    assert "URGENT" not in staff_sms(new_task(), s)


@pytest.mark.parametrize("category", CRISIS_CATEGORIES)
def test_it_never_tells_staff_the_kind_of_crisis_or_whom_it_is_for(
    office: Settings, category: str
) -> None:
    task = new_task(
        kind="crisis",
        crisis_category=category,
        for_whom="other",
        for_whom_detail="brother",
        best_time="tonight after 6",
        best_time_start=at("2026-11-24 18:00"),
        best_time_end=at("2026-11-24 21:00"),
    )
    subject, body = staff_email(task, office)
    texts = [staff_sms(task, office, level) for level in (0, 1, 2)]
    texts += [reminder_sms(task, office), subject, body]
    words = (category, category.replace("_", " "), CRISIS[category])
    for text in texts:
        assert task.id in text
        for secret in (*words, "brother", "tonight", "18:00"):
            assert secret.lower() not in text.lower(), (secret, text)


def test_it_gives_the_crm_only_id_priority_and_link_by_default(office: Settings) -> None:
    task = new_task(kind="crisis")
    payload = crm_payload(task, office)
    assert payload == {
        "event": "task.created",
        "task": {"id": task.id, "priority": "urgent"},
        "url": f"https://intake.example.org/staff/tasks/{task.id}",
    }


def test_it_gives_the_crm_every_task_field_when_asked(settings_env: dict[str, str]) -> None:
    full = Settings.from_env({**settings_env, "CRM_PAYLOAD": "full"})
    task = new_task()
    payload = crm_payload(task, full)
    assert payload["event"] == "task.created"
    assert payload["task"] == task.as_detail()
    assert payload["task"]["name"] == "Sam Rivera"
    assert payload["task"]["callback_number"] == "+13125550188"
    assert payload["task"]["kind"] == "callback" and payload["task"]["topics"] == ["opioids"]
    assert payload["url"] == f"https://intake.example.org/staff/tasks/{task.id}"


MONDAY_NOON = at("2026-11-23 12:00")
TUESDAY_EVENING = dict(
    best_time_window="evening",
    best_time_start=at("2026-11-24 18:00"),
    best_time_end=at("2026-11-24 21:00"),
)


@pytest.mark.parametrize(
    ("language", "said", "window", "expected"),
    [
        ("en", "mañana", {"best_time_window": None}, "will call you (at the time you gave)."),
        ("es", "mañana", {"best_time_window": None}, "le llamara (a la hora que indico)."),
        ("en", None, {"best_time_window": None}, "will call you (not given)."),
        ("en", "whenever", {"best_time_window": "any"}, "will call you (any time)."),
        ("en", "this is Sam, tomorrow after 6", TUESDAY_EVENING, "(tomorrow 6 PM to 9 PM)."),
        ("es", "soy Sam, manana despues de las 6", TUESDAY_EVENING, "(manana 6 PM a 9 PM)."),
    ],
)
def test_it_confirms_to_callers_in_their_language_with_our_words_for_the_time(
    office: Settings, language: str, said: str | None, window: dict[str, object], expected: str
) -> None:
    task = new_task(channel="voice", language=language, best_time=said, **window)
    text = confirmation_sms(task, load_flow(office, train=False), MONDAY_NOON)
    assert expected in text, text
    assert text.startswith("Helpline: ")
    assert "(727) 391-7001" in text and "STOP" in text and segment_count(text) <= 2
    for word in ("mañana", "Sam", "this is", "soy", "after", "despues", "whenever"):
        assert word not in text, (word, text)
