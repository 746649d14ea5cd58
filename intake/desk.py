"""The admissions desk: task changes from the CLI and the dashboard, and their side effects."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from redis import Redis

from . import metrics, notifications, speed, tallies
from .config import Settings
from .notifications import (
    MESSAGE_JOB,
    ON_FAILURE,
    SEND_JOB_TIMEOUT,
    cancel_escalations,
    queue_name,
    schedule_reminder,
)
from .queues import job_queue
from .store import Store
from .tasks import Task, TransitionError

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

    def message(self, task_id: str, body: str, by: str) -> str:
        """Queue a text from staff to the task's person, on the channel they wrote from;
        returns the staged message's id. Raises TransitionError when it may not go, KeyError
        when there is no such task.

        Only WhatsApp tasks: a WhatsApp person is answered on WhatsApp only, at the number
        that wrote (never a typed callback number, which could be anyone's), and only if
        they did not say no to texts. The job sends it (free-form within WhatsApp's 24 hours,
        else the template, else nothing) and the audit trail says which.
        """
        task = self.store.get_task(task_id)
        if task is None:
            raise KeyError(task_id)
        if task.channel != "whatsapp" or not task.from_number:
            raise TransitionError("only a WhatsApp task can be answered by message")
        if task.text_ok is False:
            raise TransitionError("they asked not to be texted")
        text = body.strip()
        if not text:
            raise TransitionError("the message is empty")
        queue = job_queue(queue_name(task), self.redis, self.settings)
        with self.redis.pipeline() as pipe:
            pipe.multi()
            message_id = self.store.stage_message(task.id, text, pipe)
            queue.enqueue(
                MESSAGE_JOB,
                task.id,
                message_id,
                job_id=f"message-{task.id}-{message_id}",
                job_timeout=SEND_JOB_TIMEOUT,
                retry=notifications.SEND_RETRY,  # read when used: tests shorten it
                on_failure=ON_FAILURE,
                meta={"task": task.id, "channel": "whatsapp message"},
                description=f"whatsapp message for task {task.id}",
                pipeline=pipe,
            )
            pipe.execute()
        self.store.note_view(task.id, by.lower(), "message_queued", "WhatsApp")
        log.info("task %s: whatsapp message queued by staff", task.id)
        return message_id
