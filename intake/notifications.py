"""Who hears about a task and when: the texts, the escalation plan, reminders, job names.

Staff texts and emails say only that a task exists, its priority, its short id and the dashboard
link: never a name, a number, a message, a reason or the kind of task. The web layer and the desk
enqueue the jobs by dotted name, so they never import `workers`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from redis import Redis
from rq import Callback, Retry
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import JobStatus

from .config import Settings
from .flow.engine import Flow, render, window_words
from .flow.language.when import TimeWindow
from .queues import fetch_job, job_queue
from .store import DEFAULT_QUEUE, URGENT_QUEUE, StaffAccount
from .tasks import Task, iso

log = logging.getLogger(__name__)

NOTIFY_JOB = "workers.jobs.notify_task"
STAFF_SMS_JOB = "workers.jobs.notify_staff_sms"
STAFF_EMAIL_JOB = "workers.jobs.notify_staff_email"
CRM_JOB = "workers.jobs.post_task_to_crm"
CONFIRM_JOB = "workers.jobs.confirm_to_caller"
ESCALATE_JOB = "workers.jobs.escalate"
REMIND_JOB = "workers.jobs.remind_owner"
MESSAGE_JOB = "workers.jobs.message_person"
# Runs when a delivery job fails; flags the task once no retry is left.
ON_FAILURE = Callback("workers.jobs.delivery_failed")
# Temporary failures (timeouts, 5xx, 429) back off; permanent ones are not retried at all.
SEND_RETRY = Retry(max=5, interval=[5, 15, 60, 180, 600])
# A send waits at most 10 s for Twilio, SMTP or the CRM (and as long for a Twilio lookup): a job
# still running after a minute is stuck, and RQ stops it and retries it.
SEND_JOB_TIMEOUT = 60
UNCLAIMED = ("new", "reopened")
ESCALATION_LEVELS = (1, 2)  # 1: on-call staff again; 2: ESCALATION_NUMBERS (urgent only)


@dataclass(frozen=True)
class Escalation:
    """A re-notification due at `at` if the task is still unclaimed then."""

    level: int
    at: datetime


def queue_name(task: Task) -> str:
    """Urgent tasks' jobs jump the default queue."""
    return URGENT_QUEUE if task.priority == "urgent" else DEFAULT_QUEUE


def digest(value: str, lookup_key: str) -> str:
    """A short stable stand-in for a number or address in job ids and job arguments: keyed
    (LOOKUP_KEY), so nobody can find whose it is by trying every number."""
    return hmac.new(lookup_key.encode(), value.encode(), hashlib.sha256).hexdigest()[:12]


def staff_number(ref: str, settings: Settings) -> str:
    """The STAFF_NOTIFY_NUMBERS or ESCALATION_NUMBERS number behind `ref` (digest)."""
    for number in (*settings.staff_notify_numbers, *settings.escalation_numbers):
        if digest(number, settings.lookup_key) == ref:
            return number
    raise LookupError(f"no configured staff number has the reference {ref}")


def staff_email_address(ref: str, settings: Settings) -> str:
    """The STAFF_NOTIFY_EMAILS address behind `ref` (digest)."""
    for address in settings.staff_notify_emails:
        if digest(address, settings.lookup_key) == ref:
            return address
    raise LookupError(f"no configured staff address has the reference {ref}")


def dashboard_link(task: Task, settings: Settings) -> str:
    return f"{settings.public_base_url}/staff/tasks/{task.id}"


def business_deadline(start: datetime, minutes: float, settings: Settings) -> datetime:
    """When `minutes` of business time (BUSINESS_DAYS, BUSINESS_HOURS) have passed since start."""
    tz = settings.business_timezone
    remaining = timedelta(minutes=minutes)
    cursor = start.astimezone(UTC)
    day = start.astimezone(tz).date()
    for _ in range(8 * 366):  # a year or more of days always holds some business hours
        if day.weekday() in settings.business_days:
            opens = datetime.combine(day, settings.business_open, tz).astimezone(UTC)
            closes = datetime.combine(day, settings.business_close, tz).astimezone(UTC)
            begin = max(cursor, opens)
            if begin < closes:
                if begin + remaining <= closes:
                    return begin + remaining
                remaining -= closes - begin
        day += timedelta(days=1)
    raise ValueError("BUSINESS_DAYS and BUSINESS_HOURS leave no business time")


def not_before(at: datetime) -> datetime:
    """`at` rounded up to a whole second: RQ's scheduler drops the fraction, which runs early."""
    whole = at.replace(microsecond=0)
    return whole if whole == at else whole + timedelta(seconds=1)


def escalations(task: Task, settings: Settings) -> list[Escalation]:
    """Urgent: staff again after URGENT_CLAIM_MINUTES, then ESCALATION_NUMBERS; normal: once."""
    if task.priority == "urgent":
        step = timedelta(minutes=settings.urgent_claim_minutes)
        plan = []
        if settings.staff_notify_numbers:
            plan.append(Escalation(1, not_before(task.created_at + step)))
        if settings.escalation_numbers:
            plan.append(Escalation(2, not_before(task.created_at + 2 * step)))
        return plan
    if not settings.staff_notify_numbers:
        return []
    deadline = business_deadline(task.created_at, settings.normal_claim_minutes, settings)
    return [Escalation(1, not_before(deadline))]


def escalation_numbers(level: int, settings: Settings) -> tuple[str, ...]:
    return settings.escalation_numbers if level == 2 else settings.staff_notify_numbers


def escalation_job_id(task_id: str, level: int) -> str:
    return f"escalate-{task_id}-{level}"


def cancel_escalations(redis: Redis, task_id: str) -> int:
    """Cancel the task's escalations that have not run yet; returns how many."""
    cancelled = 0
    for level in ESCALATION_LEVELS:
        try:
            job = fetch_job(escalation_job_id(task_id, level), redis)
            if job.get_status() not in (JobStatus.SCHEDULED, JobStatus.QUEUED):
                continue
            job.cancel()  # leaves the scheduled registry and the queue: it will never run
        except (NoSuchJobError, InvalidJobOperation):
            continue
        cancelled += 1
    if cancelled:
        log.info("task %s: %d pending escalation(s) cancelled", task_id, cancelled)
    return cancelled


def schedule_reminder(
    redis: Redis, task: Task, owner: StaffAccount, now: datetime, settings: Settings
) -> bool:
    """Text the owner when the task falls due, if that is later and they gave a phone.

    The job names the owner by a digest of their email, never the email itself.
    """
    if task.due_at is None or task.due_at <= now or not owner.phone:
        return False
    due = iso(task.due_at)
    job_queue(queue_name(task), redis, settings).enqueue_at(
        not_before(task.due_at),
        REMIND_JOB,
        task.id,
        digest(owner.email, settings.lookup_key),
        due,
        job_id=f"remind-{task.id}-{int(task.due_at.timestamp())}",
        job_timeout=SEND_JOB_TIMEOUT,
        retry=SEND_RETRY,
        on_failure=ON_FAILURE,
        meta={"task": task.id, "channel": "reminder sms"},
        description=f"reminder for task {task.id}",
    )
    log.info("task %s: owner reminded at %s", task.id, due)
    return True


# --- what staff and callers receive -------------------------------------------


def staff_sms(task: Task, settings: Settings, level: int = 0) -> str:
    """A new task (level 0) or an escalation: priority, short id and link, nothing personal."""
    what = f"{'URGENT ' if task.priority == 'urgent' else ''}task {task.id}"
    link = dashboard_link(task, settings)
    program = settings.program_name
    if level == 0:
        return f"New {what} at {program}. Open {link}"
    if level == 1:
        return f"Still unclaimed: {what} at {program}. Please claim it: {link}"
    return (
        f"Escalation: {what} at {program} is still unclaimed. "
        f"Please make sure someone calls back: {link}"
    )


def staff_email(task: Task, settings: Settings) -> tuple[str, str]:
    """Subject and body of the new-task email; as bare as the SMS."""
    urgent = task.priority == "urgent"
    subject = f"New {'URGENT ' if urgent else ''}task {task.id}"
    body = (
        f"A new task is waiting for admissions at {settings.program_name}.\n\n"
        f"Task: {task.id}\n"
        f"Priority: {task.priority}\n"
        f"Open it: {dashboard_link(task, settings)}\n\n"
        "Sign in to the dashboard for the details; they are never sent by email.\n"
    )
    return subject, body


def reminder_sms(task: Task, settings: Settings) -> str:
    return f"Reminder: task {task.id} is due now. {dashboard_link(task, settings)}"


def crm_payload(task: Task, settings: Settings) -> dict[str, Any]:
    """What the CRM receives: with CRM_PAYLOAD=minimal (the default) only the task's id and
    priority and the dashboard link; with full, every task field."""
    detail = (
        task.as_detail()
        if settings.crm_payload == "full"
        else {"id": task.id, "priority": task.priority}
    )
    return {"event": "task.created", "task": detail, "url": dashboard_link(task, settings)}


def confirmation_sms(task: Task, flow: Flow, now: datetime | None = None) -> str:
    """The caller's confirmation, in their language, from flows/helpline.yaml `confirmation`.

    Its {best_time} is the window we understood, in our words: a caller's own words never go
    out in a text (a voice caller can say anything, and From can be someone else's number).
    """
    texts = flow.spec.messages["confirmation"]["sms"]
    language = task.language if task.language in texts else flow.spec.languages[0]
    values = dict(flow.params)
    values["best_time"] = call_window(task, flow, language, now or datetime.now(UTC))
    return render(texts[language], values)


def call_window(task: Task, flow: Flow, language: str, now: datetime) -> str:
    """When we will call, formatted from the parsed window; a fixed phrase when none was."""
    window = TimeWindow(task.best_time_window, task.best_time_start, task.best_time_end)
    words = window_words(flow, language, now, window)
    if words:
        return words
    key = "window_unparsed" if task.best_time else "unknown"
    return flow.spec.labels.get(key, {}).get(language, "")


def caller_number(task: Task) -> str | None:
    """Where a voice caller's confirmation goes: the number that called (Twilio's From), never
    a typed callback number, which could be anyone's."""
    return task.from_number
