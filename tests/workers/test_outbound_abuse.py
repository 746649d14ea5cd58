"""Outbound abuse: a caller cannot make the helpline text someone else, their own words, or
anyone more than OUTBOUND_DAILY_LIMIT_PER_NUMBER times a day."""

from __future__ import annotations

import ast
import logging
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from redis import Redis
from rq import Retry
from rq.job import Job, JobStatus

from intake import create_app
from intake.notifications import digest
from intake.outbound import DailyLimitReached, OptedOut, Outbound, TransportError
from intake.queues import JobQueue, fetch_job
from intake.store import DEFAULT_QUEUE, StaffAccount
from intake.tasks import Task, iso
from tests.support.stores import TEST_LOOKUP_KEY, make_store
from tests.support.twilio_emulator import TwilioEmulator
from tests.support.worker import enqueue_task, new_task, work
from tests.web.test_voice import Call, said

from .conftest import STAFF_1, STAFF_2, WorkerEnv

CALLER = "+13125550177"  # Twilio's From
TYPED = "+13125550188"  # what the caller typed as the number to call
OWNER = "ana@center.example.org"
ROOT = Path(__file__).resolve().parents[2]


def voice_callback(client: FlaskClient, worker_env: WorkerEnv, best_time: str) -> None:
    """A whole voice call, signed as Twilio signs it: callback to a typed number, texts ok."""
    call = Call(client, worker_env.settings, caller=CALLER)
    call.start()
    call.press("2")  # a call back
    call.press("2")  # to another number
    assert "best time" in said(call.press(TYPED[2:]))
    call.say(best_time)
    call.press("1")  # for me
    call.press("2")  # no voicemail
    summary = said(call.press("1"))  # texts are fine
    assert "Text messages: yes" in summary
    assert "Goodbye" in said(call.press("1"))


@pytest.mark.parametrize(
    ("best_time", "words", "expected"),
    [
        (
            "ask for Pat Morgan at the Riverside pharmacy",
            ("Pat", "Morgan", "Riverside", "pharmacy", "ask for"),
            "(at the time you gave)",
        ),
        ("tomorrow evening, this is Pat Morgan", ("Pat", "Morgan", "this is"), " PM to "),
    ],
)
def test_a_voice_caller_is_confirmed_at_the_number_that_called_without_their_words(
    twilio: TwilioEmulator,
    worker_env: WorkerEnv,
    redis_conn: Redis,
    best_time: str,
    words: tuple[str, ...],
    expected: str,
) -> None:
    app = create_app(worker_env.settings)
    voice_callback(app.test_client(), worker_env, best_time)

    work(redis_conn)  # create the task, then its deliveries

    [task] = make_store(redis_conn).list_tasks()
    assert (task.from_number, task.callback_number, task.text_ok) == (CALLER, TYPED, True)
    assert task.best_time and words[0] in task.best_time  # staff still read what was said
    assert twilio.attempts_to(TYPED) == []
    [confirmation] = twilio.sent_to(CALLER)
    assert expected in confirmation.body, confirmation.body
    for word in words:
        assert word.lower() not in confirmation.body.lower(), (word, confirmation.body)
    assert sorted(r.to for r in twilio.sent) == sorted([CALLER, STAFF_1, STAFF_2])


# --- the daily limit -------------------------------------------------------------------------


def voice_task(**overrides: object) -> Task:
    fields: dict[str, object] = dict(
        channel="voice", from_number=CALLER, callback_number=TYPED, text_ok=True
    )
    return new_task(**(fields | overrides))


def remind(redis: Redis, task: Task) -> Job:
    """Claim `task` as OWNER with a due time, and queue the owner's reminder now."""
    store = make_store(redis)
    now = datetime.now(UTC)
    due = now + timedelta(hours=1)
    store.change_task(task.id, "claim", OWNER, now)
    store.change_task(task.id, "reschedule", OWNER, now, when=due)
    store.change_task(task.id, "claim", OWNER, now)
    # Retries a minute apart: a temporary failure would leave the job scheduled, not failed.
    return JobQueue(DEFAULT_QUEUE, connection=redis).enqueue(
        "workers.jobs.remind_owner",
        task.id,
        digest(OWNER, TEST_LOOKUP_KEY),
        iso(due),
        retry=Retry(max=3, interval=60),
    )


def test_a_number_gets_at_most_the_daily_limit_across_confirmations_and_reminders(
    twilio: TwilioEmulator, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    worker_env.set(OUTBOUND_DAILY_LIMIT_PER_NUMBER="2")
    # A staff member whose account phone is the number that also called the helpline.
    make_store(redis_conn).save_staff(StaffAccount(email=OWNER, password_hash="-", phone=CALLER))
    first, second, third = voice_task(), voice_task(), new_task(kind="crisis")
    for task in (first, second, third):
        enqueue_task(redis_conn, task)
    work(redis_conn)  # first and second confirmed: 2 texts, the limit
    assert len(twilio.sent_to(CALLER)) == 2

    reminder = remind(redis_conn, first)
    work(redis_conn)

    # Refused for good at once: nothing reached Twilio, and no retry was left to loop on.
    assert len(twilio.attempts_to(CALLER)) == 2
    reminder.refresh()
    assert reminder.get_status() == JobStatus.FAILED and reminder.retries_left == 0
    # The on-call numbers are the center's own: every new task reached them, past the limit.
    assert len(twilio.sent_to(STAFF_1)) == len(twilio.sent_to(STAFF_2)) == 3
    assert make_store(redis_conn).texts_sent(CALLER, today(worker_env)) == 2


def test_a_confirmation_past_the_limit_is_skipped_not_retried(
    twilio: TwilioEmulator, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    worker_env.set(OUTBOUND_DAILY_LIMIT_PER_NUMBER="1")
    make_store(redis_conn).save_staff(StaffAccount(email=OWNER, password_hash="-", phone=CALLER))
    claimed = voice_task(text_ok=False)  # no confirmation: the reminder is the day's one text
    enqueue_task(redis_conn, claimed)
    work(redis_conn)
    remind(redis_conn, claimed)
    work(redis_conn)
    [reminder] = twilio.sent_to(CALLER)
    assert reminder.body.startswith("Reminder:")

    later = voice_task()
    enqueue_task(redis_conn, later)
    work(redis_conn)

    job = fetch_job(f"confirm-{later.id}", redis_conn)
    assert job.get_status() == JobStatus.FINISHED and job.return_value() == "daily limit"
    assert len(twilio.attempts_to(CALLER)) == 1
    assert make_store(redis_conn).get_task(later.id).delivery_failed is False  # type: ignore[union-attr]


def today(worker_env: WorkerEnv) -> str:
    return datetime.now(worker_env.settings.business_timezone).date().isoformat()


def test_a_retried_send_counts_once(
    twilio: TwilioEmulator, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    worker_env.set(OUTBOUND_DAILY_LIMIT_PER_NUMBER="1")
    outbound = Outbound(worker_env.settings, make_store(redis_conn))
    twilio.script(CALLER, "server_error")

    with pytest.raises(TransportError) as failed:
        outbound.send_sms(CALLER, "hello", "confirm-a")
    assert not failed.value.permanent
    sid = outbound.send_sms(CALLER, "hello", "confirm-a")  # RQ's retry of the same job

    assert sid.startswith("SM") and len(twilio.sent_to(CALLER)) == 1
    with pytest.raises(DailyLimitReached):
        outbound.send_sms(CALLER, "hello again", "confirm-b")
    assert len(twilio.attempts_to(CALLER)) == 2  # the failed try and the accepted one


def test_a_refusal_is_logged_masked(
    twilio: TwilioEmulator,
    worker_env: WorkerEnv,
    redis_conn: Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker_env.set(OUTBOUND_DAILY_LIMIT_PER_NUMBER="1")
    outbound = Outbound(worker_env.settings, make_store(redis_conn))
    outbound.send_sms(CALLER, "one")

    with caplog.at_level(logging.INFO, logger="intake.outbound"):
        with pytest.raises(DailyLimitReached) as refused:
            outbound.send_sms(CALLER, "two")

    assert refused.value.permanent
    assert "OUTBOUND_DAILY_LIMIT_PER_NUMBER" in caplog.text and "+1…77" in caplog.text
    assert CALLER not in caplog.text and CALLER not in str(refused.value)
    assert CALLER[2:] not in caplog.text


def test_an_opted_out_number_is_refused_before_it_is_counted(
    twilio: TwilioEmulator, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    store = make_store(redis_conn)
    store.opt_out(CALLER)
    with pytest.raises(OptedOut):
        Outbound(worker_env.settings, store).send_sms(CALLER, "hello")
    assert store.texts_sent(CALLER, today(worker_env)) == 0
    assert twilio.attempts_to(CALLER) == []


def test_no_limit_when_set_to_0(
    twilio: TwilioEmulator, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    worker_env.set(OUTBOUND_DAILY_LIMIT_PER_NUMBER="0")
    outbound = Outbound(worker_env.settings, make_store(redis_conn))
    for n in range(7):
        outbound.send_sms(CALLER, f"text {n}")
    assert len(twilio.sent_to(CALLER)) == 7


def test_the_count_is_atomic_under_concurrent_sends(redis_conn: Redis) -> None:
    store = make_store(redis_conn)
    allowed: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(20)

    def send(n: int) -> None:
        start.wait()
        ok = make_store(Redis(connection_pool=redis_conn.connection_pool)).count_text(
            CALLER, "2026-11-23", 5, f"job-{n}"
        )
        with lock:
            allowed.append(ok)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(allowed) == [False] * 15 + [True] * 5
    assert store.texts_sent(CALLER, "2026-11-23") == 5
    assert store.texts_sent(CALLER, "2026-11-24") == 0  # a new day starts afresh


# --- one way out ----------------------------------------------------------------------------

SENDING_MODULES = ("twilio.rest", "smtplib", "requests")


def imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_only_outbound_can_send_so_opt_outs_and_the_limit_cover_every_path() -> None:
    senders = sorted(
        str(path.relative_to(ROOT))
        for folder in ("intake", "workers")
        for path in (ROOT / folder).rglob("*.py")
        if any(
            name == module or name.startswith(module + ".")
            for name in imported(path)
            for module in SENDING_MODULES
        )
    )
    assert senders == ["intake/outbound.py"]
