"""The admissions desk: task changes from the CLI and the dashboard, and their side effects."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from redis import Redis

from .config import Settings
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
        task = self.store.change_task(task_id, action, by.lower(), self.clock(), **details)
        log.info("task %s: %s by staff", task.id, action)
        return task
