"""Retention: what outlives its use is purged (`intake purge`, the worker's daily job).

What holds personal data in Redis, and how each goes:
- a task and its audit trail (`task:<id>`, `task:<id>:audit`, its place in `tasks` and
  `notify:due`): purged here once done and untouched for the retention period;
- its notification markers (`notify:queued:<id>`, `notify:pending:<id>`) and send records
  (`send:<key naming the task>`): purged with it (and they expire after 30 days anyway);
- "we talked before" markers (`returning:<channel>:<number>`): expire after 30 days; purged
  here sooner when the retention period is shorter;
- staged tasks (`staged:<id>`, a create_task job's input): deleted when the task is stored,
  else they expire after 30 days; so do staged messages (`message:<id>`, a text staff wrote
  to a person on WhatsApp, sealed), deleted once sent;
- sessions (`session:...`, SESSION_TTL_SECONDS), the inbound counter (a minute), locks
  (30 s), dedupe marks (`seen:<Twilio SID>`, 7 days) and spool done markers (a record id,
  30 days): expire on their own;
- staff sessions (`staff-session:<sha256 of the cookie's id>`, `staff-sessions:<the
  account's reference>`): expire after STAFF_IDLE_MINUTES without a request; signing out
  ends them at once;
- sign-in throttle records (`login-throttle:<HMAC of account and client>`): expire an hour (or
  twice LOGIN_MAX_DELAY_SECONDS) after the last failure;
- when a number last wrote on WhatsApp (`last-inbound:whatsapp:<HMAC of the number>`,
  sealed): expires when the 24-hour window it opened closes;
- opt-outs (`optouts` for SMS, `optouts:whatsapp`) stay: forgetting one would text someone
  who asked us to stop;
- the reports' tallies (`report:<UTC date>`) stay: counts by hour, channel, language, priority
  and outcome, naming nobody (intake/tallies.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from redis.exceptions import WatchError

from ..tasks import AuditEntry, Task
from .base import PREFIX, StoreBase, _strings
from .sessions import RETURNING_TTL


@dataclass
class Purged:
    """What a purge removed (or, in a dry run, would remove): counts only, never contents."""

    tasks: int = 0
    audit_entries: int = 0
    notify_markers: int = 0
    send_records: int = 0
    returning_markers: int = 0
    task_ids: list[str] = field(default_factory=list, repr=False)

    def counts(self) -> dict[str, int]:
        return {
            "tasks": self.tasks,
            "audit_entries": self.audit_entries,
            "notify_markers": self.notify_markers,
            "send_records": self.send_records,
            "returning_markers": self.returning_markers,
        }


class RetentionStore(StoreBase):
    """Finds and removes what is older than the retention period."""

    def purge(self, cutoff: datetime, dry_run: bool = False) -> Purged:
        """Remove done tasks last changed before `cutoff`, with everything kept for them."""
        purged = Purged()
        for task_id in _strings(self.redis.zrange(f"{PREFIX}:tasks", 0, -1)):
            removed = self._purge_task(task_id, cutoff, dry_run)
            if removed is not None:
                purged.task_ids.append(task_id)
                purged.audit_entries += removed[0]
                purged.notify_markers += removed[1]
        purged.tasks = len(purged.task_ids)
        purged.send_records = self._purge_sends(set(purged.task_ids), dry_run)
        purged.returning_markers = self._purge_returning(cutoff, dry_run)
        return purged

    def _purge_task(self, task_id: str, cutoff: datetime, dry_run: bool) -> tuple[int, int] | None:
        """Delete one expired task with its audit trail and markers, in one transaction.

        Returns (audit entries, markers) removed, or None when the task is not expired or was
        changed meanwhile (a reopen wins over the purge).
        """
        task_key = f"{PREFIX}:task:{task_id}"
        audit_key = f"{task_key}:audit"
        markers = [f"{PREFIX}:notify:queued:{task_id}", f"{PREFIX}:notify:pending:{task_id}"]
        with self.redis.pipeline() as pipe:
            try:
                pipe.watch(task_key, audit_key)
                raw = pipe.get(task_key)
                if raw is None:
                    return None
                task = Task.model_validate_json(self.unseal(raw))
                if task.status != "done":
                    return None
                last = pipe.lindex(audit_key, -1)
                closed = (
                    task.created_at
                    if last is None
                    else AuditEntry.model_validate_json(self.unseal(last)).at
                )
                if closed.astimezone(UTC) >= cutoff:
                    return None
                removed = (int(pipe.llen(audit_key)), int(pipe.exists(*markers)))
                if dry_run:
                    return removed
                pipe.multi()
                pipe.zrem(f"{PREFIX}:tasks", task_id)
                pipe.zrem(f"{PREFIX}:notify:due", task_id)
                pipe.delete(task_key, audit_key, *markers)
                pipe.execute()
                return removed
            except WatchError:
                return None

    def _purge_sends(self, task_ids: set[str], dry_run: bool) -> int:
        """Send records of the purged tasks (left over after a crash, they expire in 30 days)."""
        if not task_ids:
            return 0
        sends = [
            key
            for key in _strings(self.redis.scan_iter(match=f"{PREFIX}:send:*", count=1000))
            if _names_task(key.removeprefix(f"{PREFIX}:send:"), task_ids)
        ]
        if not dry_run:
            for start in range(0, len(sends), 500):
                self.redis.delete(*sends[start : start + 500])
        return len(sends)

    def _purge_returning(self, cutoff: datetime, dry_run: bool) -> int:
        """Markers set before `cutoff` (their age is RETURNING_TTL less the time they have left)."""
        age_limit = (datetime.now(UTC) - cutoff).total_seconds()
        if age_limit >= RETURNING_TTL:
            return 0  # they expire before the retention period ends
        keys = _strings(self.redis.scan_iter(match=f"{PREFIX}:returning:*", count=1000))
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.ttl(key)
        old = [
            k
            for k, ttl in zip(keys, pipe.execute(), strict=True)
            if ttl >= 0 and RETURNING_TTL - ttl > age_limit
        ]
        if old and not dry_run:
            self.redis.delete(*old)
        return len(old)


def _names_task(send_key: str, task_ids: set[str]) -> bool:
    """Whether an idempotency key (`confirm-<task>`, `notify-sms-<task>-<digest>`, ...) is one
    of these tasks'."""
    return any(part in task_ids for part in send_key.split("-"))
