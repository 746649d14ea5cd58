"""Speed to lead: each task's claim target, whether it is overdue, and who wrote before.

Shared by the queue (intake/web/staff/present.py) and the reports (intake/reports.py), so the
dashboard and `intake report` hold tasks to the same targets.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

from .config import Settings
from .notifications import business_deadline
from .tasks import WINDOWS, Task

# Tasks from the same number this close together are linked on the queue, both ways.
RELATED_DAYS = 7
# What Twilio sends as From for a hidden, unknown, restricted or blocked caller ID: not a person.
NOT_A_PERSON = ("+266696687", "+86282452253", "+7378742833", "+2562533")


def claim_target(task: Task, settings: Settings) -> datetime:
    """When the task should be claimed by: URGENT_CLAIM_MINUTES of wall time for an urgent task,
    NORMAL_CLAIM_MINUTES of business time (BUSINESS_DAYS, BUSINESS_HOURS) for a normal one."""
    if task.priority == "urgent":
        return task.created_at + timedelta(minutes=settings.urgent_claim_minutes)
    return business_deadline(task.created_at, settings.normal_claim_minutes, settings)


def window_opens(task: Task, settings: Settings) -> datetime:
    """When the person's window to be called starts: the time or window they named, else (as
    soon as possible, any time, not asked) the claim target."""
    named = task.best_time_start is not None or task.best_time_window in WINDOWS
    if named and task.due_at is not None:
        return task.due_at
    return claim_target(task, settings)


def overdue(task: Task, now: datetime, settings: Settings) -> bool:
    """Open, nobody has tried to call yet, and the person's window has started."""
    return task.is_open and not task.attempts and window_opens(task, settings) <= now


def related(tasks: list[Task], number_ref: Callable[[str], str]) -> dict[str, list[Task]]:
    """For each task, the other tasks from the same number within RELATED_DAYS of it.

    Numbers are compared by their keyed HMAC (the store's number_ref), in memory only.
    """
    by_person: dict[str, list[Task]] = defaultdict(list)
    for task in tasks:
        number = task.callback_number or task.from_number
        if number and number not in NOT_A_PERSON:
            by_person[number_ref(number)].append(task)
    links: dict[str, list[Task]] = {}
    window = timedelta(days=RELATED_DAYS)
    for group in by_person.values():
        for task in group:
            others = [
                t
                for t in group
                if t.id != task.id and abs(t.created_at - task.created_at) <= window
            ]
            if others:
                links[task.id] = sorted(others, key=lambda t: t.created_at)
    return links
