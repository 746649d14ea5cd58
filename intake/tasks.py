"""Task: what admissions staff receive, built from a CallbackRequest, and its lifecycle."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import UTC, datetime, time, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from .flow.events import CallbackRequest

log = logging.getLogger(__name__)

Status = Literal["new", "claimed", "rescheduled", "done", "reopened"]
Outcome = Literal["no_answer", "left_voicemail", "reached", "wrong_number", "declined"]
OUTCOMES: tuple[str, ...] = get_args(Outcome)
# The phrase groups in flows/safety/crisis.yaml.
CrisisCategory = Literal["suicide", "self_harm", "overdose", "danger"]
CRISIS_CATEGORIES: tuple[str, ...] = get_args(CrisisCategory)
ACTIONS = ("claim", "attempt", "reschedule", "done", "reopen")
# The fields `intake tasks list --json` prints, in this order.
CONTRACT_FIELDS = (
    "id",
    "kind",
    "priority",
    "status",
    "created_at",
    "channel",
    "language",
    "from_number",
    "callback_number",
    "name",
    "best_time",
    "best_time_window",
    "for_whom",
    "voicemail_ok",
    "text_ok",
    "topics",
)
# When each preferred window starts and ends, in the center's time zone.
WINDOWS: dict[str, tuple[time, time]] = {
    "morning": (time(9), time(12)),
    "afternoon": (time(12), time(17)),
    "evening": (time(17), time(21)),
}


class TransitionError(Exception):
    """A lifecycle change that is not allowed; the message says why, for staff."""


class Attempt(BaseModel):
    """One call attempt by a staff member."""

    outcome: Outcome
    by: str
    at: datetime
    note: str | None = None


class AuditEntry(BaseModel):
    """Who did what when. Written once, never edited or deleted."""

    at: datetime
    by: str
    action: str
    detail: str = ""


class Task(BaseModel):
    """A ready-to-call task. Field names and order are the `tasks list --json` contract."""

    model_config = ConfigDict(extra="forbid")

    id: str
    kind: Literal["callback", "crisis"]
    priority: Literal["urgent", "normal"]
    status: Status = "new"
    created_at: datetime
    channel: Literal["sms", "voice", "whatsapp"]
    language: str
    from_number: str | None
    callback_number: str | None
    name: str | None
    best_time: str | None
    best_time_window: Literal["now", "morning", "afternoon", "evening", "any"] | None
    for_whom: Literal["self", "other"] | None
    voicemail_ok: bool | None
    text_ok: bool | None
    topics: list[str]
    # Shown to staff but kept out of CONTRACT_FIELDS: scripts rely on exactly those.
    best_time_start: datetime | None = None
    best_time_end: datetime | None = None
    for_whom_detail: str | None = None
    crisis_category: CrisisCategory | None = None
    # lifecycle
    claimed_by: str | None = None
    due_at: datetime | None = None
    attempts: list[Attempt] = []
    delivery_failed: bool = False  # a staff notification could not be delivered
    escalated: bool = False  # unclaimed past its target: staff were texted again

    def as_json(self) -> dict[str, object]:
        """The contract fields in plain JSON types, created_at as ISO 8601 UTC with a Z."""
        data = self.model_dump(mode="json", include=set(CONTRACT_FIELDS))
        data["created_at"] = iso(self.created_at)
        return {k: data[k] for k in CONTRACT_FIELDS}

    def as_detail(self) -> dict[str, object]:
        """Everything staff see about a task (`tasks show --json`)."""
        data = self.as_json()
        data["best_time_start"] = iso(self.best_time_start) if self.best_time_start else None
        data["best_time_end"] = iso(self.best_time_end) if self.best_time_end else None
        data["for_whom_detail"] = self.for_whom_detail
        data["crisis_category"] = self.crisis_category
        data["claimed_by"] = self.claimed_by
        data["due_at"] = iso(self.due_at) if self.due_at else None
        data["attempts"] = [
            {"outcome": a.outcome, "by": a.by, "at": iso(a.at), "note": a.note}
            for a in self.attempts
        ]
        data["delivery_failed"] = self.delivery_failed
        data["escalated"] = self.escalated
        return data

    @property
    def is_open(self) -> bool:
        return self.status != "done"

    def sort_key(self) -> tuple[int, datetime, datetime]:
        """Urgent first, then due time (the person's preferred window), then oldest."""
        return (
            0 if self.priority == "urgent" else 1,
            self.due_at or self.created_at,
            self.created_at,
        )


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def due_time(
    created_at: datetime, window: str | None, tz: ZoneInfo, asked: datetime | None = None
) -> datetime:
    """When to call: not before the time asked for (`asked`), else the window's start, or now."""
    if asked is not None:
        return max(created_at, asked.astimezone(UTC))
    if window not in WINDOWS:
        return created_at  # now, any time, or not recognisable
    start, end = WINDOWS[window]
    local = created_at.astimezone(tz)
    if local.time() < start:
        return datetime.combine(local.date(), start, tz).astimezone(UTC)
    if local.time() < end:
        return created_at
    return datetime.combine(local.date() + timedelta(days=1), start, tz).astimezone(UTC)


def change(
    task: Task,
    action: str,
    by: str,
    now: datetime,
    outcome: str | None = None,
    when: datetime | None = None,
    note: str | None = None,
) -> tuple[Task, AuditEntry]:
    """Apply one lifecycle action; raise TransitionError saying why if it is not allowed."""
    t = task.model_copy(deep=True)
    if action == "claim":
        if t.status == "claimed":
            who = "you" if t.claimed_by == by else t.claimed_by
            raise TransitionError(f"task {t.id} is already claimed by {who}")
        if t.status == "done":
            raise TransitionError(f"task {t.id} is done; reopen it first")
        t.status, t.claimed_by = "claimed", by
        return t, AuditEntry(at=now, by=by, action="claimed")
    if action == "reopen":
        if t.status != "done":
            raise TransitionError(f"task {t.id} is {t.status}, not done: nothing to reopen")
        t.status, t.claimed_by = "reopened", None
        return t, AuditEntry(at=now, by=by, action="reopened", detail=note or "")
    if action not in ACTIONS:
        raise TransitionError(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
    if t.status != "claimed":
        raise TransitionError(f"task {t.id} is {t.status}: claim it before you {action}")
    if t.claimed_by != by:
        raise TransitionError(f"task {t.id} is claimed by {t.claimed_by}, not you")
    if action == "attempt":
        if outcome not in OUTCOMES:
            raise TransitionError(f"outcome must be one of {', '.join(OUTCOMES)}")
        if outcome == "left_voicemail" and t.voicemail_ok is not True:
            raise TransitionError(f"task {t.id}: the person did not allow a voicemail")
        t.attempts.append(
            Attempt.model_validate({"outcome": outcome, "by": by, "at": now, "note": note})
        )
        return t, AuditEntry(
            at=now, by=by, action="attempt", detail=outcome + (f": {note}" if note else "")
        )
    if action == "reschedule":
        if when is None:
            raise TransitionError("reschedule needs a new time")
        t.status, t.due_at = "rescheduled", when
        return t, AuditEntry(at=now, by=by, action="rescheduled", detail=f"to {iso(when)}")
    t.status = "done"
    return t, AuditEntry(at=now, by=by, action="done", detail=note or "")


def new_task_id(seed: str | None = None) -> str:
    """A short id staff can read out; derived from `seed` when the task must be unique per seed."""
    if seed is None:
        return secrets.token_hex(5)
    return hashlib.sha256(seed.encode()).hexdigest()[:10]


def task_from_request(request: CallbackRequest, task_id: str, now: datetime, tz: ZoneInfo) -> Task:
    """The task a callback or crisis request becomes, due when the person asked to be called."""
    category = request.crisis_category
    if category is not None and category not in CRISIS_CATEGORIES:
        # A category this code has no words for must not cost the person their urgent task.
        log.warning("task %s: crisis category not recognised; stored without it", task_id)
        category = None
    return Task(
        id=task_id,
        kind=request.kind,
        priority=request.priority,
        created_at=now,
        channel=request.channel,
        language=request.language,
        from_number=request.from_number or None,
        callback_number=request.callback_number,
        name=request.name,
        best_time=request.best_time,
        best_time_window=request.best_time_window,
        for_whom=request.for_whom,
        voicemail_ok=request.voicemail_ok,
        text_ok=request.text_ok,
        topics=list(request.topics),
        best_time_start=request.best_time_start,
        best_time_end=request.best_time_end,
        for_whom_detail=request.for_whom_detail,
        crisis_category=category,
        due_at=due_time(now, request.best_time_window, tz, request.best_time_start),
    )
