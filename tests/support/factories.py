"""Test data: Task and CallbackRequest factories; each test module overrides what it asserts on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

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
