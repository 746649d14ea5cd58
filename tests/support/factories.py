"""Test data: Task and CallbackRequest factories; each test module overrides what it asserts on."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from intake.flow.engine import Session
from intake.flow.events import CallbackRequest
from intake.tasks import Task, new_task_id

NUMBER = "+13125550199"
# What a confirmed SMS callback for the evening says, in a task or in the request behind it.
CALLBACK: dict[str, Any] = dict(
    kind="callback",
    priority="normal",
    channel="sms",
    language="en",
    from_number=NUMBER,
    callback_number=NUMBER,
    name="Sam",
    best_time="evening",
    best_time_window="evening",
    for_whom="self",
    voicemail_ok=False,
    text_ok=True,
)


def make_task(task_id: str | None = None, **overrides: Any) -> Task:
    """A normal SMS callback task for +13125550199, created now, unless overridden."""
    data: dict[str, Any] = dict(
        id=task_id or new_task_id(), created_at=datetime.now(UTC), topics=[], **CALLBACK
    )
    data.update(overrides)
    return Task(**data)


def make_request(**overrides: Any) -> CallbackRequest:
    """A confirmed SMS callback request from +13125550199, for the evening, unless overridden."""
    data: dict[str, Any] = dict(CALLBACK)
    data.update(overrides)
    return CallbackRequest(**data)


def crisis_for_brother(category: str, day: date, tz: ZoneInfo) -> dict[str, Any]:
    """Fields of an urgent crisis task for someone's brother, who asked for 'tonight after 6'."""
    return dict(
        kind="crisis",
        priority="urgent",
        crisis_category=category,
        best_time="tonight after 6",
        best_time_window="evening",
        best_time_start=datetime.combine(day, time(18), tz),
        best_time_end=datetime.combine(day, time(21), tz),
        for_whom="other",
        for_whom_detail="brother",
    )


def make_session(contact: str = NUMBER, at: datetime | None = None, **overrides: Any) -> Session:
    """An SMS session in English at the menu, for `contact`, started and updated `at` (now)."""
    at = at or datetime.now(UTC)
    data: dict[str, Any] = dict(
        flow="helpline",
        channel="sms",
        language="en",
        contact=contact,
        state="menu",
        started_at=at,
        updated_at=at,
    )
    data.update(overrides)
    return Session(**data)
