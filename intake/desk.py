"""The admissions desk: task changes from the CLI and the dashboard, and their side effects."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from redis import Redis

from . import metrics, speed, tallies
from .config import Settings
from .notifications import cancel_escalations, schedule_reminder
from .store import Store
from .tasks import Task

log = logging.getLogger(__name__)


class Desk:
    """One way to change a task, whoever asks: the CLI and /staff both come here."""

    def __init__(
        self,
        store: Store,
        redis: Redis,
        settings: Settings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.redis = redis
        self.settings = settings
        self.clock = clock

    def change(self, task_id: str, action: str, by: str, **details: Any) -> Task:
        """Apply `action`; raises TransitionError (refused) or KeyError (no such task)."""
        now = self.clock()

        def tally(before: Task, after: Task) -> list[tallies.Tally]:
            target = speed.claim_target(before, self.settings)
            return tallies.changed(before, after, action, now, target)

        task = self.store.change_task(task_id, action, by.lower(), now, tally=tally, **details)
        log.info("task %s: %s by staff", task.id, action)
        if action == "claim":
            metrics.task_claimed(task, self.clock())
            self._claimed(task)
        return task

    def _claimed(self, task: Task) -> None:
        """Someone owns it now: no more escalations; remind them when it falls due."""
        cancel_escalations(self.redis, task.id)
        owner = self.store.get_staff(task.claimed_by) if task.claimed_by else None
        if owner is not None:
            schedule_reminder(self.redis, task, owner, self.clock(), self.settings)
