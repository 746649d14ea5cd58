"""Staff tasks, their audit trail, notifications queued once, and the spool's replay."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import WatchError

from .. import tallies
from ..tallies import Tally
from ..tasks import AuditEntry, Task, change
from .base import PREFIX, _strings, is_task_id, utcnow
from .reports import ReportStore
from .sessions import optouts_key


class TaskStore(ReportStore):
    """Tasks and what follows them."""

    # --- tasks -------------------------------------------------------------

    def _task_key(self, task_id: str) -> str:
        return f"{PREFIX}:task:{task_id}"

    def _audit_key(self, task_id: str) -> str:
        return f"{PREFIX}:task:{task_id}:audit"

    # --- staged tasks: what a create_task job reads by id (its arguments hold only the id) ----

    STAGED_TTL = 30 * 24 * 3600  # outlives every retry, and a failed job's stay in RQ

    def _staged_key(self, task_id: str) -> str:
        return f"{PREFIX}:staged:{task_id}"

    def stage_task(self, task: Task, pipe: Any) -> None:
        """Queue on `pipe` the sealed task for its create_task job (same MULTI as the job)."""
        pipe.set(self._staged_key(task.id), self.seal(task.model_dump_json()), ex=self.STAGED_TTL)

    def staged_task(self, task_id: str) -> Task | None:
        """The task a create_task job is to store; None once stored (or never staged)."""
        if not is_task_id(task_id):
            return None
        raw = self.redis.get(self._staged_key(task_id))
        return None if raw is None else Task.model_validate_json(self.unseal(raw))

    # --- a message staff write to the person (WhatsApp), staged for its job ---------

    def _message_key(self, message_id: str) -> str:
        return f"{PREFIX}:message:{message_id}"

    def stage_message(self, task_id: str, body: str, pipe: Any) -> str:
        """Queue on `pipe` the sealed text staff wrote for the task's person; returns its id
        (the job that sends it carries ids only)."""
        message_id = secrets.token_hex(8)
        sealed = self.seal(json.dumps({"task": task_id, "body": body}))
        pipe.set(self._message_key(message_id), sealed, ex=self.STAGED_TTL)
        return message_id

    def staged_message(self, message_id: str) -> tuple[str, str] | None:
        """(task id, text) of a staged message; None once sent (or never staged)."""
        if not re.fullmatch(r"[0-9a-f]{16}", message_id):
            return None
        raw = self.redis.get(self._message_key(message_id))
        if raw is None:
            return None
        data = json.loads(self.unseal(raw))
        return str(data["task"]), str(data["body"])

    def drop_message(self, message_id: str) -> None:
        self.redis.delete(self._message_key(message_id))

    def create_task(self, task: Task) -> bool:
        """Store a task once; a retried job finds it there. Returns True if it was new.

        Its staged copy, if any, goes in the same step.
        """
        created = float(task.created_at.astimezone(UTC).timestamp())
        entry = AuditEntry(
            at=task.created_at,
            by="system",
            action="created",
            detail=f"{task.priority} {task.kind} via {task.channel}",
        )
        # SET NX decides; the audit entry and the reports' tally are only written when this
        # call created the task, so a retried job counts it once.
        [counted] = tallies.created(task)
        script = self.redis.register_script(_CREATE_TASK)
        was_new = script(
            keys=[
                self._task_key(task.id),
                f"{PREFIX}:tasks",
                f"{PREFIX}:notify:due",
                self._audit_key(task.id),
                self._staged_key(task.id),
                self._report_key(counted.day),
            ],
            args=[
                self.seal(task.model_dump_json()),
                created,
                task.id,
                self.seal(entry.model_dump_json()),
                counted.field,
            ],
        )
        return bool(was_new)

    def change_task(
        self,
        task_id: str,
        action: str,
        by: str,
        now: datetime,
        tally: Callable[[Task, Task], list[Tally]] | None = None,
        **details: Any,
    ) -> Task:
        """Apply a lifecycle action atomically; raises TransitionError or KeyError.

        `tally(before, after)`: the reports' counts this change adds, in the same transaction.
        """
        task = self._update_task(
            task_id, lambda t: change(t, action, by, now, **details), tally=tally
        )
        if task is None:
            raise KeyError(task_id)
        return task

    def _update_task(
        self,
        task_id: str,
        mutate: Callable[[Task], tuple[Task, AuditEntry]],
        tally: Callable[[Task, Task], list[Tally]] | None = None,
    ) -> Task | None:
        """Read, change and write a task with its audit entry, retrying if it changed meanwhile."""
        if not is_task_id(task_id):
            return None
        key = self._task_key(task_id)
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    if raw is None:
                        return None
                    before = Task.model_validate_json(self.unseal(raw))
                    task, entry = mutate(before)
                    counts = tally(before, task) if tally is not None else []
                    pipe.multi()
                    pipe.set(key, self.seal(task.model_dump_json()))
                    pipe.rpush(self._audit_key(task_id), self.seal(entry.model_dump_json()))
                    for t in counts:
                        pipe.hincrby(self._report_key(t.day), t.field, 1)
                    pipe.execute()
                    return task
                except WatchError:
                    continue  # someone else changed it meanwhile: decide again on fresh data

    def audit(self, task_id: str) -> list[AuditEntry]:
        """The task's audit trail, oldest first."""
        if not is_task_id(task_id):
            return []
        raws = self.redis.lrange(self._audit_key(task_id), 0, -1)
        return [AuditEntry.model_validate_json(self.unseal(r)) for r in raws]

    def flag_delivery_failed(self, task_id: str, channel: str) -> None:
        """Mark a task whose staff notification gave up, for the dashboard."""

        def flag(task: Task) -> tuple[Task, AuditEntry]:
            task.delivery_failed = True
            entry = AuditEntry(at=utcnow(), by="system", action="delivery_failed", detail=channel)
            return task, entry

        self._update_task(task_id, flag)

    def get_task(self, task_id: str) -> Task | None:
        if not is_task_id(task_id):
            return None
        raw = self.redis.get(self._task_key(task_id))
        return None if raw is None else Task.model_validate_json(self.unseal(raw))

    def list_tasks(self) -> list[Task]:
        """Every task: urgent first, then due time, then oldest."""
        ids = _strings(self.redis.zrange(f"{PREFIX}:tasks", 0, -1))
        if not ids:
            return []
        raws = self.redis.mget([self._task_key(i) for i in ids])
        tasks = [Task.model_validate_json(self.unseal(r)) for r in raws if r is not None]
        return sorted(tasks, key=Task.sort_key)

    def notifications_due(self) -> list[str]:
        """Task ids whose staff notification has not been delivered yet."""
        return _strings(self.redis.zrange(f"{PREFIX}:notify:due", 0, -1))

    def notification_sent(self, task_id: str) -> None:
        self.redis.zrem(f"{PREFIX}:notify:due", task_id)

    # --- notifications and escalation ------------------------------------------
    # A task's notifications are queued once (a marker written in the same transaction as the
    # jobs); staff count as told when every pending delivery (staff SMS, email, CRM) is done.

    NOTIFY_TTL = 30 * 24 * 3600  # markers outlive any retry by far

    def queue_notifications_once(self, task_id: str, deliveries: list[str], enqueue: Any) -> bool:
        """Run `enqueue(pipeline)` and record `deliveries` as pending, atomically, once per task."""
        marker = f"{PREFIX}:notify:queued:{task_id}"
        pending = f"{PREFIX}:notify:pending:{task_id}"

        def apply(pipe: Any) -> None:
            enqueue(pipe)
            if deliveries:
                pipe.sadd(pending, *deliveries)
                pipe.expire(pending, self.NOTIFY_TTL)

        return self._once(marker, self.NOTIFY_TTL, apply)

    def _once(self, marker: str, ttl: int, apply: Any) -> bool:
        """Run `apply(pipeline)` and set `marker` in one MULTI, unless `marker` is already set.

        Either all of it happens or none; a second caller (another worker, a second replay)
        finds the marker and does nothing.
        """
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(marker)
                    if pipe.exists(marker):
                        return False
                    pipe.multi()
                    apply(pipe)
                    pipe.set(marker, "1", ex=ttl)
                    pipe.execute()
                    return True
                except WatchError:
                    continue  # someone else wrote the marker meanwhile: look again

    def notifications_queued(self, task_id: str) -> bool:
        return bool(self.redis.exists(f"{PREFIX}:notify:queued:{task_id}"))

    def pending_deliveries(self, task_id: str) -> list[str]:
        return sorted(_strings(self.redis.smembers(f"{PREFIX}:notify:pending:{task_id}")))

    def delivery_done(self, task_id: str, delivery: str) -> bool:
        """Mark one delivery done; True (and the task no longer due) when it was the last."""
        script = self.redis.register_script(
            """
            local removed = redis.call('SREM', KEYS[1], ARGV[1])
            if removed == 1 and redis.call('SCARD', KEYS[1]) == 0 then
              redis.call('ZREM', KEYS[2], ARGV[2])
              return 1
            end
            return 0
            """
        )
        last = script(
            keys=[f"{PREFIX}:notify:pending:{task_id}", f"{PREFIX}:notify:due"],
            args=[delivery, task_id],
        )
        return bool(last)

    def note_escalation(self, task_id: str, detail: str) -> None:
        """Flag the task as escalated (for the queue) with an 'escalated' audit entry."""

        def flag(task: Task) -> tuple[Task, AuditEntry]:
            task.escalated = True
            entry = AuditEntry(at=utcnow(), by="system", action="escalated", detail=detail)
            return task, entry

        self._update_task(task_id, flag)

    def note_view(self, task_id: str, by: str, action: str = "viewed", detail: str = "") -> None:
        """Add an audit entry saying who saw the task's personal details (page, export) and when."""
        if not is_task_id(task_id):
            return
        entry = AuditEntry(at=utcnow(), by=by, action=action, detail=detail)
        self.redis.rpush(self._audit_key(task_id), self.seal(entry.model_dump_json()))

    # --- the spool's replay (intake/spool.py) ------------------------------------

    SPOOL_DONE_TTL = 30 * 24 * 3600  # far longer than any outage the spool outlives

    def replay_once(self, record_id: str, apply: Any) -> bool:
        """Run `apply(pipeline)` for a spooled record in one transaction, once per record id.

        The done-marker is written in the same MULTI as the record's effect, so a replay cut
        short anywhere is either wholly applied or not at all, and a second replay skips it.
        """
        marker = f"{PREFIX}:spool:done:{record_id}"
        return self._once(marker, self.SPOOL_DONE_TTL, apply)

    def record_opt_out(self, pipe: Any, number: str, opted_out: bool, channel: str = "sms") -> None:
        """Queue an opt-out (or opt-in) on `channel` on `pipe`, for replay_once."""
        if opted_out:
            pipe.sadd(optouts_key(channel), self.number_ref(number))
        else:
            pipe.srem(optouts_key(channel), self.number_ref(number))


# Create a task, its index entries and its first audit entry only if it does not exist yet;
# either way its staged copy (KEYS[5]) is no longer needed.
_CREATE_TASK = """
redis.call('DEL', KEYS[5])
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
  redis.call('ZADD', KEYS[3], ARGV[2], ARGV[3])
  redis.call('RPUSH', KEYS[4], ARGV[4])
  redis.call('HINCRBY', KEYS[6], ARGV[5], 1)
  return 1
end
return 0
"""
