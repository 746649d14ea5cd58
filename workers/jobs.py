"""Jobs the web layer enqueues by dotted name ("workers.jobs.create_task"), and what follows.

create_task stores the task and queues notify_task, which queues one job per delivery and the
escalations. Delivery jobs raise on failure: RQ retries temporary failures with backoff; a
permanent one sets `retries_left` to 0 first, so RQ's worker fails it for good at once. Either
way `delivery_failed` (their on_failure callback) flags the task when no retry is left.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Any

from pydantic import ValidationError
from redis import Redis
from rq import get_current_job
from rq.exceptions import DuplicateJobError
from rq.job import Job

from intake import notifications as n
from intake import retention
from intake.app import load_flow
from intake.config import Settings
from intake.flow.engine import Flow
from intake.outbound import DailyLimitReached, OptedOut, Outbound, OutsideWindow, TransportError
from intake.queues import JobQueue, job_queue
from intake.store import Store, mask
from intake.tasks import Task, iso

log = logging.getLogger(__name__)

# Tests only (tests/e2e/test_worker_crash.py): "<point>=<file>" makes the job that reaches
# checkpoint(<point>) write its pid to <file> and wait there to be killed. Never set it elsewhere.
PAUSE_VARIABLE = "INTAKE_TEST_PAUSE_AT"


@cache
def settings() -> Settings:
    """Read once per worker process."""
    return Settings.from_env()


@cache
def flow() -> Flow:
    return load_flow(settings(), train=False)  # jobs render texts; they read no messages


def _job() -> Job:
    job = get_current_job()
    if job is None:
        raise RuntimeError("workers.jobs functions run inside an RQ worker")
    return job


def checkpoint(point: str) -> None:
    """A named point inside a job where a test can stop the worker deterministically."""
    point_at, _, marker = os.environ.get(PAUSE_VARIABLE, "").partition("=")
    if point_at != point or not marker:
        return
    log.warning("paused at %s for a test (%s is set)", point, PAUSE_VARIABLE)
    Path(marker).write_text(str(os.getpid()))
    while True:
        time.sleep(1)


def _redis() -> Redis:
    return _job().connection


def _store(redis: Redis) -> Store:
    return Store.from_settings(redis, settings())


def _outbound(store: Store) -> Outbound:
    return Outbound(settings(), store)


@contextmanager
def _no_retry_when_permanent() -> Iterator[None]:
    """A permanent TransportError fails the job for good: RQ only retries while retries_left."""
    try:
        yield
    except TransportError as e:
        if e.permanent:
            _job().retries_left = 0
        raise


def _queue(name: str, redis: Redis) -> JobQueue:
    return job_queue(name, redis, settings())


def create_task(task_id: str) -> str:
    """Write the staged task once (a retried job finds it stored), then queue its notifications.

    The job carries only the id: the task itself waits, sealed, in the store (stage_task).
    """
    redis = _redis()
    store = _store(redis)
    try:
        staged = store.staged_task(task_id)
    except ValidationError as e:
        # pydantic's message repeats the input (names, numbers): keep only where it was wrong.
        fields = ", ".join(".".join(str(p) for p in err["loc"]) for err in e.errors())
        raise ValueError(f"invalid task payload: {fields}") from None
    parsed = staged or store.get_task(task_id)
    if parsed is None:
        raise LookupError(f"task {task_id} is neither staged nor stored")
    created = store.create_task(parsed) if staged is not None else False
    log.info("task %s %s (%s)", parsed.id, "created" if created else "already stored", parsed.kind)
    checkpoint("create_task:stored")
    if not store.notifications_queued(parsed.id):
        try:
            _queue(n.queue_name(parsed), redis).enqueue(
                n.NOTIFY_JOB,
                parsed.id,
                job_id=f"notify-task-{parsed.id}",
                unique=True,
                job_timeout=n.SEND_JOB_TIMEOUT,
                retry=n.SEND_RETRY,
                on_failure=n.ON_FAILURE,
                meta={"task": parsed.id, "channel": "notifications"},
                description=f"queue notifications for task {parsed.id}",
            )
        except DuplicateJobError:
            pass  # queued already, by an earlier run of this job
    return parsed.id


@dataclass(frozen=True)
class Delivery:
    """One message about a task; `key` counts toward 'staff have been told' when staff_facing."""

    func: str
    args: tuple[Any, ...]
    job_id: str
    key: str
    channel: str
    staff_facing: bool = True


def deliveries(task: Task, s: Settings) -> list[Delivery]:
    """Every message a new task sends, given the settings."""
    # Jobs and the pending set name staff numbers and addresses by their digest only.
    found = [
        Delivery(
            n.STAFF_SMS_JOB,
            (task.id, n.digest(number, s.lookup_key)),
            f"notify-sms-{task.id}-{n.digest(number, s.lookup_key)}",
            f"sms:{n.digest(number, s.lookup_key)}",
            f"staff sms {mask(number)}",
        )
        for number in s.staff_notify_numbers
    ]
    if s.smtp_host:
        found += [
            Delivery(
                n.STAFF_EMAIL_JOB,
                (task.id, n.digest(address, s.lookup_key)),
                f"notify-email-{task.id}-{n.digest(address, s.lookup_key)}",
                f"email:{n.digest(address, s.lookup_key)}",
                "staff email",
            )
            for address in s.staff_notify_emails
        ]
    if s.crm_webhook_url:
        found.append(Delivery(n.CRM_JOB, (task.id,), f"notify-crm-{task.id}", "crm", "crm webhook"))
    if task.channel == "voice" and task.text_ok is True and n.caller_number(task):
        found.append(
            Delivery(
                n.CONFIRM_JOB,
                (task.id,),
                f"confirm-{task.id}",
                "caller",
                "caller confirmation sms",
                staff_facing=False,
            )
        )
    return found


def notify_task(task_id: str) -> int:
    """Queue the task's deliveries and escalations, once; returns how many jobs were queued."""
    s = settings()
    redis = _redis()
    store = _store(redis)
    task = store.get_task(task_id)
    if task is None:
        raise LookupError(f"task {task_id} is not stored")
    todo = deliveries(task, s)
    plan = n.escalations(task, s) if task.status in n.UNCLAIMED else []
    queue = _queue(n.queue_name(task), redis)

    def enqueue(pipe: Any) -> None:
        for d in todo:
            queue.enqueue(
                d.func,
                *d.args,
                job_id=d.job_id,
                job_timeout=n.SEND_JOB_TIMEOUT,
                retry=n.SEND_RETRY,
                on_failure=n.ON_FAILURE,
                meta={"task": task.id, "channel": d.channel, "delivery": d.key},
                description=f"{d.channel} for task {task.id}",
                pipeline=pipe,
            )
        for e in plan:
            queue.enqueue_at(
                e.at,  # already on a whole second (notifications.not_before)
                n.ESCALATE_JOB,
                task.id,
                e.level,
                job_id=n.escalation_job_id(task.id, e.level),
                job_timeout=n.SEND_JOB_TIMEOUT,
                retry=n.SEND_RETRY,
                on_failure=n.ON_FAILURE,
                meta={"task": task.id, "channel": f"escalation {e.level}"},
                description=f"escalation {e.level} for task {task.id} at {iso(e.at)}",
                pipeline=pipe,
            )

    staff = [d.key for d in todo if d.staff_facing]
    if not store.queue_notifications_once(task.id, staff, enqueue):
        log.info("task %s: notifications were queued already", task.id)
        return 0
    if not staff:
        log.warning(
            "task %s: nobody to notify (set STAFF_NOTIFY_NUMBERS, STAFF_NOTIFY_EMAILS or "
            "CRM_WEBHOOK_URL); it stays on the dashboard only",
            task.id,
        )
    log.info("task %s: %d deliveries, %d escalations queued", task.id, len(todo), len(plan))
    return len(todo) + len(plan)


def _delivered(store: Store, task_id: str, key: str) -> None:
    if store.delivery_done(task_id, key):
        log.info("task %s: staff notified", task_id)


def notify_staff_sms(task_id: str, number_ref: str, level: int = 0) -> str:
    """Text one staff number (named by its digest) about a new task (level 0) or an
    escalation (1, 2)."""
    number = n.staff_number(number_ref, settings())
    store = _store(_redis())
    task = store.get_task(task_id)
    if task is None:
        raise LookupError(f"task {task_id} is not stored")
    if level and task.status not in n.UNCLAIMED:
        log.info("task %s: %s meanwhile, escalation text not sent", task_id, task.status)
        return "skipped"
    with _no_retry_when_permanent():
        sid = _outbound(store).send_sms(number, n.staff_sms(task, settings(), level), _job().id)
    if not level:
        _delivered(store, task_id, f"sms:{number_ref}")
    return sid


def notify_staff_email(task_id: str, address_ref: str) -> str:
    """Email one staff address (named by its digest) about a new task."""
    address = n.staff_email_address(address_ref, settings())
    store = _store(_redis())
    task = store.get_task(task_id)
    if task is None:
        raise LookupError(f"task {task_id} is not stored")
    subject, body = n.staff_email(task, settings())
    with _no_retry_when_permanent():
        _outbound(store).send_email(address, subject, body, _job().id)
    _delivered(store, task_id, f"email:{address_ref}")
    return "sent"


def post_task_to_crm(task_id: str) -> int:
    """POST the task to CRM_WEBHOOK_URL, signed."""
    s = settings()
    store = _store(_redis())
    task = store.get_task(task_id)
    if task is None:
        raise LookupError(f"task {task_id} is not stored")
    with _no_retry_when_permanent():
        status = _outbound(store).post_webhook(s.crm_webhook_url, n.crm_payload(task, s), _job().id)
    _delivered(store, task_id, "crm")
    return status


def confirm_to_caller(task_id: str) -> str:
    """Text a voice caller who allowed texts, at the number that called, that their request is
    in; never an opted-out number or one that had its texts for the day."""
    store = _store(_redis())
    task = store.get_task(task_id)
    if task is None:
        raise LookupError(f"task {task_id} is not stored")
    number = n.caller_number(task)
    if task.channel != "voice" or task.text_ok is not True or number is None:
        return "skipped"
    try:
        with _no_retry_when_permanent():
            return _outbound(store).send_sms(number, n.confirmation_sms(task, flow()), _job().id)
    except OptedOut:
        log.info("task %s: caller %s opted out; no confirmation", task_id, mask(number))
        return "opted out"
    except DailyLimitReached:
        log.info("task %s: caller %s had today's texts; no confirmation", task_id, mask(number))
        return "daily limit"


def message_person(task_id: str, message_id: str) -> str:
    """Send the text staff wrote (staged as `message_id`) to a WhatsApp task's person, at the
    number that wrote, on WhatsApp only; the audit trail says what went, or why nothing did."""
    store = _store(_redis())
    task = store.get_task(task_id)
    if task is None:
        raise LookupError(f"task {task_id} is not stored")
    staged = store.staged_message(message_id)
    if staged is None or staged[0] != task_id:
        _, outcome = store.send_record(_job().id)
        return "sent before" if outcome else "skipped"
    if task.channel != "whatsapp" or not task.from_number:
        store.note_view(task_id, "system", "message_not_sent", "not a WhatsApp task")
        return "skipped"
    why = ""
    try:
        with _no_retry_when_permanent():
            sent = _outbound(store).send_whatsapp(task.from_number, staged[1], _job().id)
    except OutsideWindow:
        why = (
            "over 24 hours since their last WhatsApp message, and no template is configured "
            "(WHATSAPP_TEMPLATE_SID): call them"
        )
    except OptedOut:
        why = "they opted out of WhatsApp messages"
    except DailyLimitReached:
        why = "they had today's texts already (OUTBOUND_DAILY_LIMIT_PER_NUMBER)"
    except TransportError as e:
        if not e.permanent:
            raise  # RQ tries again later; the message stays staged
        why = f"refused ({e})"
    if why:
        store.note_view(task_id, "system", "message_not_sent", f"WhatsApp: {why}")
        store.drop_message(message_id)
        log.info("task %s: whatsapp message not sent", task_id)
        return "not sent"
    detail = (
        "WhatsApp: sent as written"
        if sent.kind == "free-form"
        else "WhatsApp: over 24 hours since their last message, so the approved template "
        "went instead of the text"
    )
    store.note_view(task_id, "system", "message_sent", detail)
    store.drop_message(message_id)
    return sent.sid


def escalate(task_id: str, level: int) -> int:
    """If the task is still unclaimed, text the numbers for `level`; returns how many."""
    s = settings()
    redis = _redis()
    store = _store(redis)
    task = store.get_task(task_id)
    if task is None or task.status not in n.UNCLAIMED:
        log.info("task %s: claimed or gone, no escalation", task_id)
        return 0
    numbers = n.escalation_numbers(level, s)
    queue = _queue(n.queue_name(task), redis)
    for number in numbers:
        try:
            queue.enqueue(
                n.STAFF_SMS_JOB,
                task.id,
                n.digest(number, s.lookup_key),
                level,
                job_id=f"escalate-sms-{task.id}-{level}-{n.digest(number, s.lookup_key)}",
                unique=True,
                job_timeout=n.SEND_JOB_TIMEOUT,
                retry=n.SEND_RETRY,
                on_failure=n.ON_FAILURE,
                meta={"task": task.id, "channel": f"escalation {level} sms {mask(number)}"},
                description=f"escalation {level} sms for task {task.id}",
            )
        except DuplicateJobError:
            continue  # this job ran before and was retried
    who = "escalation numbers" if level == 2 else "on-call staff"
    store.note_escalation(task.id, f"unclaimed: {who} texted again ({len(numbers)})")
    log.warning("task %s: unclaimed, escalation %d to %d number(s)", task.id, level, len(numbers))
    return len(numbers)


def remind_owner(task_id: str, owner_ref: str, due_at: str) -> str:
    """Text the staff member who claimed the task that it is due, if it still is theirs
    (`owner_ref`: the digest of their email when they claimed it)."""
    store = _store(_redis())
    task = store.get_task(task_id)
    if (
        task is None
        or task.status != "claimed"
        or task.claimed_by is None
        or n.digest(task.claimed_by, settings().lookup_key) != owner_ref
        or task.due_at is None
        or iso(task.due_at) != due_at
    ):
        log.info("task %s: changed since it was claimed, no reminder", task_id)
        return "skipped"
    owner = store.get_staff(task.claimed_by)
    if owner is None or not owner.phone:
        return "skipped"
    with _no_retry_when_permanent():
        return _outbound(store).send_sms(owner.phone, n.reminder_sms(task, settings()), _job().id)


def delivery_failed(
    job: Job,
    connection: Redis,
    exc_type: type[BaseException],
    exc: BaseException,
    tb: TracebackType,
) -> None:
    """on_failure callback: flag the task on the dashboard once RQ will not try again."""
    if job.retries_left:
        return  # RQ retries it (after its backoff)
    task_id = job.meta.get("task")
    if task_id and job.func_name == n.MESSAGE_JOB:
        # A message to the person, not a staff notification: the task's trail says so.
        detail = "WhatsApp: Twilio could not be reached after every retry; call them"
        _store(connection).note_view(task_id, "system", "message_not_sent", detail)
        log.error("task %s: whatsapp message failed for good", task_id)
        return
    if task_id:
        _store(connection).flag_delivery_failed(task_id, job.meta.get("channel", "notification"))
        reason = exc if isinstance(exc, TransportError) else type(exc).__name__  # no PII
        log.error("task %s: %s failed for good: %s", task_id, job.meta.get("channel"), reason)


def purge() -> dict[str, int]:
    """The daily retention purge (intake/retention.py); schedules tomorrow's first, so a
    failed purge does not end the chain. Returns counts only."""
    now = datetime.now(UTC)
    retention.schedule_purge(_redis(), settings(), retention.next_run(now))
    counts = retention.purge(_redis(), settings(), now).counts()
    log.info("retention purge: %s", ", ".join(f"{k} {v}" for k, v in counts.items()))
    return counts
