"""Escalations and reminders with the Procfile's worker: `rq worker --with-scheduler`, for real."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from redis import Redis
from rq.job import JobStatus
from rq.registry import CanceledJobRegistry, ScheduledJobRegistry

from intake.desk import Desk
from intake.notifications import escalation_job_id, reminder_sms, staff_sms
from intake.queues import JobQueue, fetch_job
from intake.store import DEFAULT_QUEUE, URGENT_QUEUE, StaffAccount
from tests.support.stores import make_store
from tests.support.twilio_emulator import TwilioEmulator
from tests.support.worker import enqueue_task, new_task, rq_worker, work

from .conftest import ESCALATION, STAFF_1, STAFF_2, WorkerEnv

OWNER = "ana@center.org"
OWNER_PHONE = "+13125550177"


@pytest.fixture
def worker(
    twilio: TwilioEmulator, worker_env: WorkerEnv, redis_url: str, tmp_path: Path
) -> Iterator[Callable[[], object]]:
    """Starts the real worker once the test has set its variables; stopped at the end."""
    with ExitStack() as stack:
        yield lambda: stack.enter_context(
            rq_worker(worker_env.values, redis_url, tmp_path / "worker.log")
        )


def desk(redis: Redis, worker_env: WorkerEnv) -> Desk:
    return Desk(make_store(redis), redis, worker_env.settings)


def wait_until(done: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_it_renotifies_staff_then_the_escalation_numbers(
    twilio: TwilioEmulator,
    worker_env: WorkerEnv,
    worker: Callable[[], object],
    redis_conn: Redis,
    tmp_path: Path,
) -> None:
    worker_env.set(URGENT_CLAIM_MINUTES="0.02", ESCALATION_NUMBERS=ESCALATION)  # 1.2 s
    worker()
    task = new_task(kind="crisis")
    enqueue_task(redis_conn, task)

    sent = twilio.wait_for(5)
    time.sleep(1.0)

    s = worker_env.settings
    created = task.created_at.timestamp()
    assert sorted((r.to, r.body) for r in twilio.sent) == sorted(
        [
            (STAFF_1, staff_sms(task, s, 0)),
            (STAFF_2, staff_sms(task, s, 0)),
            (STAFF_1, staff_sms(task, s, 1)),
            (STAFF_2, staff_sms(task, s, 1)),
            (ESCALATION, staff_sms(task, s, 2)),
        ]
    )
    level_1 = [r for r in sent if r.body == staff_sms(task, s, 1)]
    [level_2] = [r for r in sent if r.to == ESCALATION]
    assert all(r.at >= created + 1.2 for r in level_1)
    assert level_2.at >= created + 2.4
    log = (tmp_path / "worker.log").read_text()
    assert f"Job OK (escalate-{task.id}-2)" in log
    for number in (STAFF_1, STAFF_2, ESCALATION, "+13125550188", "+13125550199"):
        assert number not in log
    audit = [e.detail for e in make_store(redis_conn).audit(task.id) if e.action == "escalated"]
    assert audit == [
        "unclaimed: on-call staff texted again (2)",
        "unclaimed: escalation numbers texted again (1)",
    ]


def test_it_cancels_escalations_when_the_task_is_claimed(
    twilio: TwilioEmulator, worker_env: WorkerEnv, worker: Callable[[], object], redis_conn: Redis
) -> None:
    worker_env.set(URGENT_CLAIM_MINUTES="0.04", ESCALATION_NUMBERS=ESCALATION)  # 2.4 s
    worker()
    task = new_task(kind="crisis")
    enqueue_task(redis_conn, task)
    scheduled = ScheduledJobRegistry(queue=JobQueue(URGENT_QUEUE, connection=redis_conn))
    ids = [escalation_job_id(task.id, level) for level in (1, 2)]
    wait_until(lambda: set(ids) <= set(scheduled.get_job_ids()))
    assert time.time() < task.created_at.timestamp() + 2.4, "the worker was too slow to test this"

    desk(redis_conn, worker_env).change(task.id, "claim", OWNER)

    canceled = CanceledJobRegistry(queue=JobQueue(URGENT_QUEUE, connection=redis_conn))
    assert set(ids) <= set(canceled.get_job_ids())
    assert not set(ids) & set(scheduled.get_job_ids())
    time.sleep(max(0.0, task.created_at.timestamp() + 4.8 + 1.5 - time.time()))
    assert [r.to for r in twilio.requests if r.body != staff_sms(task, worker_env.settings)] == []
    assert len(twilio.requests) == 2  # the new-task texts only
    for job_id in ids:  # never ran: not a no-op run that found the task claimed
        assert fetch_job(job_id, redis_conn).get_status() == JobStatus.CANCELED


def test_it_escalates_a_normal_task_once_after_business_time(
    twilio: TwilioEmulator, worker_env: WorkerEnv, worker: Callable[[], object], redis_conn: Redis
) -> None:
    worker_env.set(
        NORMAL_CLAIM_MINUTES="0.02",
        BUSINESS_DAYS="all",
        BUSINESS_HOURS="00:00-24:00",
        ESCALATION_NUMBERS=ESCALATION,
    )
    worker()
    task = new_task()
    enqueue_task(redis_conn, task)

    twilio.wait_for(4)
    time.sleep(1.5)

    s = worker_env.settings
    assert sorted((r.to, r.body) for r in twilio.sent) == sorted(
        [
            (STAFF_1, staff_sms(task, s, 0)),
            (STAFF_2, staff_sms(task, s, 0)),
            (STAFF_1, staff_sms(task, s, 1)),
            (STAFF_2, staff_sms(task, s, 1)),
        ]
    )
    assert twilio.attempts_to(ESCALATION) == []


def test_it_reminds_the_owner_when_the_claimed_task_falls_due(
    twilio: TwilioEmulator, worker_env: WorkerEnv, worker: Callable[[], object], redis_conn: Redis
) -> None:
    worker_env.set(STAFF_NOTIFY_NUMBERS="")
    worker()  # ready for jobs before the 2 s start
    store = make_store(redis_conn)
    store.save_staff(StaffAccount(email=OWNER, password_hash="-", phone=OWNER_PHONE))
    due = datetime.now(UTC) + timedelta(seconds=2)
    task = new_task(due_at=due)
    finished_early = new_task(due_at=due)
    for t in (task, finished_early):
        store.create_task(t)

    desk(redis_conn, worker_env).change(task.id, "claim", "Ana@Center.org")
    desk(redis_conn, worker_env).change(finished_early.id, "claim", OWNER)
    desk(redis_conn, worker_env).change(finished_early.id, "done", OWNER)

    [reminder] = twilio.wait_for(1)
    time.sleep(1.0)
    assert len(twilio.requests) == 1
    assert reminder.to == OWNER_PHONE
    assert reminder.body == reminder_sms(task, worker_env.settings)
    assert reminder.body == (
        f"Reminder: task {task.id} is due now. https://intake.example.org/staff/tasks/{task.id}"
    )
    # RQ's scheduler keeps times in whole seconds, so a job may run up to a second early.
    assert reminder.at >= due.timestamp() - 1.0


def test_it_claims_without_a_worker_running(
    twilio: TwilioEmulator, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    worker_env.set(ESCALATION_NUMBERS=ESCALATION)
    store = make_store(redis_conn)
    store.save_staff(StaffAccount(email=OWNER, password_hash="-"))  # no phone: no reminder
    task = new_task(due_at=datetime.now(UTC) + timedelta(hours=1))
    enqueue_task(redis_conn, task)
    work(redis_conn)  # stores it and schedules its escalation; then no worker at all
    scheduled = ScheduledJobRegistry(queue=JobQueue(DEFAULT_QUEUE, connection=redis_conn))
    assert scheduled.get_job_ids() == [escalation_job_id(task.id, 1)]

    claimed = desk(redis_conn, worker_env).change(task.id, "claim", OWNER)

    assert claimed.status == "claimed"
    assert scheduled.get_job_ids() == []
    job = fetch_job(escalation_job_id(task.id, 1), redis_conn)
    assert job.get_status() == JobStatus.CANCELED
