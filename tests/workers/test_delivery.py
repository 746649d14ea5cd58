"""New-task notifications through real RQ jobs: contents, opt-outs, retries and flags."""

from __future__ import annotations

from typing import Any

import pytest
from redis import Redis
from rq import Retry, Worker
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from rq.serializers import JSONSerializer

from intake import notifications
from intake.notifications import digest, staff_email, staff_sms
from intake.queues import JobQueue, fetch_job
from intake.store import DEFAULT_QUEUE, URGENT_QUEUE
from intake.tasks import Task
from tests.support.crm import CrmServer
from tests.support.mailbox import Mailbox
from tests.support.stores import TEST_LOOKUP_KEY, make_store
from tests.support.twilio_emulator import TwilioEmulator
from tests.support.worker import CRASH_ONCE_JOB, enqueue_task, new_task, queues, work, work_until

from .conftest import STAFF_1, STAFF_2, WorkerEnv

CALLER = "+13125550199"  # Twilio's From on a voice call
TYPED = "+13125550188"  # the callback number the caller typed
PERSONAL = ("Sam", "Rivera", "+1312555018", "3125550188", "opioid", "evening", "crisis")


def sms_job(task: Task, number: str, redis: Redis) -> Job:
    return fetch_job(f"notify-sms-{task.id}-{digest(number, TEST_LOOKUP_KEY)}", redis)


def failed_ids(redis: Redis, queue: str = DEFAULT_QUEUE) -> list[str]:
    return FailedJobRegistry(queue=JobQueue(queue, connection=redis)).get_job_ids()


def test_it_texts_each_on_call_number_without_personal_details(
    twilio: TwilioEmulator, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    task = new_task(kind="crisis")
    enqueue_task(redis_conn, task)

    work(redis_conn)

    assert sorted(r.to for r in twilio.requests) == [STAFF_1, STAFF_2]
    expected = staff_sms(task, worker_env.settings)
    for request in twilio.sent:
        assert request.body == expected
        assert request.from_ == "+17275550199"
        for secret in PERSONAL:
            assert secret not in request.body
    assert "URGENT" in expected and task.id in expected
    assert f"https://intake.example.org/staff/tasks/{task.id}" in expected
    store = make_store(redis_conn)
    assert store.notifications_due() == []
    assert store.get_task(task.id).delivery_failed is False  # type: ignore[union-attr]


def test_it_emails_staff_when_smtp_is_set(
    mailbox: Mailbox, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    task = new_task()
    enqueue_task(redis_conn, task)

    work(redis_conn)

    mails = mailbox.wait_for(2)
    assert sorted(m.rcpt_tos[0] for m in mails) == [
        "lead@center.example.org",
        "oncall@center.example.org",
    ]
    subject, body = staff_email(task, worker_env.settings)
    for mail in mails:
        assert mail.message["Subject"] == subject == f"New task {task.id}"
        text = mail.message.get_content()
        assert text.replace("\r\n", "\n") == body
        for secret in PERSONAL:
            assert secret not in subject + text
    assert make_store(redis_conn).notifications_due() == []


def test_it_posts_the_task_to_the_crm_signed(
    crm: CrmServer, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    task = new_task(kind="crisis")
    enqueue_task(redis_conn, task)

    work(redis_conn)

    [delivery] = crm.received
    assert delivery.refused is None and delivery.status == 204
    payload = delivery.payload
    assert payload == {
        "event": "task.created",
        "event_id": delivery.headers["X-Intake-Event-Id"],
        "task": {"id": task.id, "priority": "urgent"},
        "url": f"https://intake.example.org/staff/tasks/{task.id}",
    }
    for secret in PERSONAL:
        assert secret not in delivery.body.decode()
    assert make_store(redis_conn).notifications_due() == []


def test_it_posts_the_whole_task_to_the_crm_when_asked(
    crm: CrmServer, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    worker_env.set(CRM_PAYLOAD="full")
    task = new_task(kind="crisis")
    enqueue_task(redis_conn, task)

    work(redis_conn)

    [delivery] = crm.received
    assert delivery.refused is None and delivery.status == 204
    payload = delivery.payload
    assert payload["event"] == "task.created"
    assert payload["task"] == make_store(redis_conn).get_task(task.id).as_detail()  # type: ignore[union-attr]
    assert payload["task"]["name"] == "Sam Rivera" and payload["task"]["kind"] == "crisis"


@pytest.mark.parametrize(
    ("language", "start"),
    [
        ("en", "Helpline: we got your request. Our admissions team will call you (morning)."),
        ("es", "Helpline: recibimos su solicitud. Admisiones le llamara (por la mañana)."),
    ],
)
def test_it_confirms_to_a_voice_caller_who_allowed_texts_at_the_number_that_called(
    twilio: TwilioEmulator, redis_conn: Redis, language: str, start: str
) -> None:
    task = new_task(
        channel="voice",
        language=language,
        from_number=CALLER,
        callback_number=TYPED,  # typed on the keypad: could be anyone's
        best_time="morning" if language == "en" else "por la mañana",
        best_time_window="morning",
        text_ok=True,
    )
    enqueue_task(redis_conn, task)

    work(redis_conn)

    [confirmation] = twilio.sent_to(CALLER)
    assert confirmation.body.startswith(start)
    assert twilio.attempts_to(TYPED) == []
    assert len(twilio.sent) == 3  # and both staff numbers


@pytest.mark.parametrize(
    "overrides",
    [
        {"channel": "voice", "text_ok": False},
        {"channel": "voice", "text_ok": None},
        {"channel": "sms", "text_ok": True},  # a texter got the confirmation in the chat
    ],
)
def test_it_texts_no_confirmation_otherwise(
    twilio: TwilioEmulator, redis_conn: Redis, overrides: dict[str, Any]
) -> None:
    enqueue_task(redis_conn, new_task(**overrides))

    work(redis_conn)

    assert sorted(r.to for r in twilio.requests) == [STAFF_1, STAFF_2]


def test_it_never_texts_an_opted_out_caller(twilio: TwilioEmulator, redis_conn: Redis) -> None:
    task = new_task(channel="voice", from_number=CALLER, text_ok=True)
    make_store(redis_conn).opt_out(CALLER)
    enqueue_task(redis_conn, task)

    work(redis_conn)

    assert twilio.attempts_to(CALLER) == []
    assert twilio.attempts_to(TYPED) == []
    job = fetch_job(f"confirm-{task.id}", redis_conn)
    assert job.get_status() == JobStatus.FINISHED and job.return_value() == "opted out"
    assert make_store(redis_conn).get_task(task.id).delivery_failed is False  # type: ignore[union-attr]


def test_it_opts_out_on_21610_and_does_not_retry(twilio: TwilioEmulator, redis_conn: Redis) -> None:
    twilio.script(STAFF_1, "unsubscribed")
    task = new_task(kind="crisis")
    enqueue_task(redis_conn, task)

    work(redis_conn)  # SEND_RETRY allows 3 immediate retries here: none may happen

    assert len(twilio.attempts_to(STAFF_1)) == 1
    assert len(twilio.sent_to(STAFF_2)) == 1
    job = sms_job(task, STAFF_1, redis_conn)
    assert job.get_status() == JobStatus.FAILED
    assert job.id in failed_ids(redis_conn, URGENT_QUEUE)
    failure = job.latest_result().exc_string or ""  # type: ignore[union-attr]
    assert "twilio error 21610" in failure and STAFF_1 not in failure  # the first try: not retried
    store = make_store(redis_conn)
    assert store.is_opted_out(STAFF_1)
    stored = store.get_task(task.id)
    assert stored is not None and stored.delivery_failed
    flags = [e for e in store.audit(task.id) if e.action == "delivery_failed"]
    assert [e.detail for e in flags] == ["staff sms +1…01"]
    assert store.notifications_due() == [task.id]  # STAFF_1 never heard
    assert store.pending_deliveries(task.id) == [f"sms:{digest(STAFF_1, TEST_LOOKUP_KEY)}"]

    # The next task is not even tried on that number.
    enqueue_task(redis_conn, new_task())
    work(redis_conn)
    assert len(twilio.attempts_to(STAFF_1)) == 1


def test_it_does_not_retry_an_invalid_number(twilio: TwilioEmulator, redis_conn: Redis) -> None:
    twilio.script(STAFF_1, "invalid_to", "ok")
    task = new_task()
    enqueue_task(redis_conn, task)

    work(redis_conn)

    assert len(twilio.attempts_to(STAFF_1)) == 1
    assert sms_job(task, STAFF_1, redis_conn).id in failed_ids(redis_conn)
    store = make_store(redis_conn)
    assert store.get_task(task.id).delivery_failed  # type: ignore[union-attr]
    assert not store.is_opted_out(STAFF_1)


def test_it_does_not_retry_in_a_forking_worker_either(
    twilio: TwilioEmulator, redis_conn: Redis
) -> None:
    twilio.script(STAFF_1, "invalid_to", "ok")
    task = new_task()
    enqueue_task(redis_conn, task)

    Worker(queues(redis_conn), connection=redis_conn, serializer=JSONSerializer).work(
        burst=True
    )  # a work horse per job

    assert len(twilio.attempts_to(STAFF_1)) == 1
    assert sms_job(task, STAFF_1, redis_conn).id in failed_ids(redis_conn)
    assert make_store(redis_conn).get_task(task.id).delivery_failed  # type: ignore[union-attr]


def test_it_does_not_retry_a_refused_webhook(crm: CrmServer, redis_conn: Redis) -> None:
    crm.script(400, 204)
    task = new_task()
    enqueue_task(redis_conn, task)

    work(redis_conn)

    assert [d.status for d in crm.received] == [400]
    assert f"notify-crm-{task.id}" in failed_ids(redis_conn)
    assert make_store(redis_conn).get_task(task.id).delivery_failed  # type: ignore[union-attr]


def test_it_retries_429_and_500_with_backoff_then_delivers(
    twilio: TwilioEmulator, redis_conn: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notifications, "SEND_RETRY", Retry(max=3, interval=1))
    twilio.script(STAFF_1, "rate_limited")
    twilio.script(STAFF_2, "server_error", "server_error")
    task = new_task()
    enqueue_task(redis_conn, task)

    work(redis_conn)

    scheduled = ScheduledJobRegistry(queue=JobQueue(DEFAULT_QUEUE, connection=redis_conn))
    ids = {sms_job(task, n, redis_conn).id for n in (STAFF_1, STAFF_2)}
    assert ids <= set(scheduled.get_job_ids())  # waiting out the backoff, not failed
    work_until(redis_conn, lambda: len(twilio.sent) == 2)

    assert [r.status for r in twilio.attempts_to(STAFF_1)] == [429, 201]
    assert [r.status for r in twilio.attempts_to(STAFF_2)] == [500, 500, 201]
    assert failed_ids(redis_conn) == []
    store = make_store(redis_conn)
    assert store.get_task(task.id).delivery_failed is False  # type: ignore[union-attr]
    assert store.notifications_due() == []


def test_it_flags_the_task_once_when_retries_run_out(
    twilio: TwilioEmulator, redis_conn: Redis
) -> None:
    twilio.script(STAFF_1, *["server_error"] * 10)
    task = new_task()
    enqueue_task(redis_conn, task)

    work(redis_conn)

    assert len(twilio.attempts_to(STAFF_1)) == 4  # the first try and 3 retries
    job = sms_job(task, STAFF_1, redis_conn)
    assert job.get_status() == JobStatus.FAILED and job.id in failed_ids(redis_conn)
    store = make_store(redis_conn)
    assert store.get_task(task.id).delivery_failed  # type: ignore[union-attr]
    assert [e.action for e in store.audit(task.id)].count("delivery_failed") == 1
    assert store.notifications_due() == [task.id]


def test_it_does_not_notify_twice_when_create_task_runs_again(
    twilio: TwilioEmulator, redis_conn: Redis
) -> None:
    task = new_task(kind="crisis")
    enqueue_task(redis_conn, task, CRASH_ONCE_JOB, retry=Retry(max=2))
    enqueue_task(redis_conn, task, job_id="again")

    work(redis_conn)
    enqueue_task(redis_conn, task, job_id="a-repeated-crisis-message")
    work(redis_conn)

    assert sorted(r.to for r in twilio.requests) == [STAFF_1, STAFF_2]


def test_it_keeps_the_task_due_when_nobody_is_configured(redis_conn: Redis) -> None:
    task = new_task()
    enqueue_task(redis_conn, task)

    work(redis_conn)

    job = fetch_job(f"notify-task-{task.id}", redis_conn)
    assert job.get_status() == JobStatus.FINISHED and job.return_value() == 0
    assert make_store(redis_conn).notifications_due() == [task.id]
