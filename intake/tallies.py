"""What the reports count, as events happen: tallies without personal data.

A tally is a count in one bucket: the UTC day and hour (of the conversation's start or of the
task's creation), channel, language, priority, a metric and its value (a duration in whole
seconds, an outcome, a kind). Nothing in a tally names a person, a number or a task, so the
tallies outlive the retention purge and the reports with them (intake/reports.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from .tasks import Task

SEP = "|"
NONE = "-"  # a dimension a metric does not have (a conversation has no priority yet)
# Metrics, in funnel order first.
CONVERSATION = "conversation"  # a first message: a conversation started
DETAILS = "details"  # the person started giving callback details (asked for a callback)
TASK = "task"  # value: callback (details confirmed: a completed conversation) or crisis
CLAIM = "claim"  # value: seconds from creation to the first claim
CLAIM_IN_TARGET = "claim_in_target"  # value: 1 or 0
FIRST_ATTEMPT = "first_attempt"  # value: seconds from creation to the first call attempt
REACHED = "reached"  # the task's first attempt that reached the person
OUTCOME = "outcome"  # value: each attempt's outcome
METRICS = (CONVERSATION, DETAILS, TASK, CLAIM, CLAIM_IN_TARGET, FIRST_ATTEMPT, REACHED, OUTCOME)


@dataclass(frozen=True)
class Tally:
    """One count to add: its day (the store's key) and its field."""

    day: date
    hour: int
    channel: str
    language: str
    priority: str
    metric: str
    value: str = NONE

    @property
    def field(self) -> str:
        parts = (str(self.hour), self.channel, self.language, self.priority, self.metric)
        return SEP.join((*parts, self.value))

    @classmethod
    def parse(cls, day: date, field: str) -> Tally:
        hour, channel, language, priority, metric, value = field.split(SEP, 5)
        return cls(day, int(hour), channel, language, priority, metric, value)


def _clean(text: str) -> str:
    return text.replace(SEP, "_") or NONE


def tally(
    at: datetime, channel: str, language: str, priority: str, metric: str, value: str = NONE
) -> Tally:
    """A tally in the UTC hour of `at`."""
    utc = at.astimezone(UTC)
    return Tally(
        utc.date(), utc.hour, _clean(channel), _clean(language), _clean(priority), metric, value
    )


def of_task(task: Task, metric: str, value: str = NONE) -> Tally:
    """A tally about a task, in the hour it was created (so a range's figures are its tasks')."""
    return tally(task.created_at, task.channel, task.language, task.priority, metric, value)


def created(task: Task) -> list[Tally]:
    return [of_task(task, TASK, task.kind)]


def changed(before: Task, after: Task, action: str, now: datetime, target: datetime) -> list[Tally]:
    """What a lifecycle change adds: the first claim (and whether it met `target`), the first
    attempt, each attempt's outcome and the first time the person was reached."""
    found: list[Tally] = []
    seconds = str(max(0, int((now - before.created_at).total_seconds())))
    if action == "claim" and before.status == "new":
        found.append(of_task(after, CLAIM, seconds))
        found.append(of_task(after, CLAIM_IN_TARGET, "1" if now <= target else "0"))
    if action == "attempt" and len(after.attempts) > len(before.attempts):
        outcome = after.attempts[-1].outcome
        found.append(of_task(after, OUTCOME, outcome))
        if not before.attempts:
            found.append(of_task(after, FIRST_ATTEMPT, seconds))
        if outcome == "reached" and all(a.outcome != "reached" for a in before.attempts):
            found.append(of_task(after, REACHED))
    return found


# The flow's states that take callback details (flows/helpline.yaml): callback_name, ...
DETAILS_PREFIX = "callback_"


def stepped(
    before_state: str | None, state: str, channel: str, language: str, now: datetime
) -> list[Tally]:
    """What one conversation step adds: a first message (no conversation before it), and the
    step into the callback details."""
    found: list[Tally] = []
    if before_state is None:
        found.append(tally(now, channel, language, NONE, CONVERSATION))
    entering = state.startswith(DETAILS_PREFIX)
    if entering and not (before_state or "").startswith(DETAILS_PREFIX):
        found.append(tally(now, channel, language, NONE, DETAILS))
    return found
