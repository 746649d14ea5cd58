"""Sends under an idempotency key: recorded before and after, so a re-run never sends twice."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from redis import Redis

from intake import logs
from intake import outbound as outbound_module
from intake.outbound import Outbound, TransportError, event_id_for
from tests.support.crm import CrmServer
from tests.support.mailbox import Mailbox
from tests.support.stores import make_store
from tests.support.twilio_emulator import TwilioEmulator

from .conftest import WorkerEnv

PERSON = "+13125550188"
KEY = "notify-sms-3fa9c2e1b0-0123456789ab"


def outbound(worker_env: WorkerEnv, redis: Redis, timeout: float = 10.0) -> Outbound:
    return Outbound(worker_env.settings, make_store(redis), timeout=timeout)


def test_it_sends_once_per_key(
    twilio: TwilioEmulator, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    first = outbound(worker_env, redis_conn).send_sms(PERSON, "New task", KEY)
    again = outbound(worker_env, redis_conn).send_sms(PERSON, "New task", KEY)

    assert again == first
    assert len(twilio.sent_to(PERSON)) == 1 and twilio.lookups == []


def test_it_finds_the_message_of_an_attempt_cut_short_after_twilio_accepted_it(
    twilio: TwilioEmulator,
    worker_env: WorkerEnv,
    redis_conn: Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outbound_module, "IN_FLIGHT_MARGIN", 0.0)
    twilio.script(PERSON, "accept_and_hold")  # accepted, but the answer never comes back
    with pytest.raises(TransportError) as raised:
        outbound(worker_env, redis_conn, timeout=0.5).send_sms(PERSON, "New task", KEY)
    assert not raised.value.permanent
    [accepted] = twilio.sent_to(PERSON)
    time.sleep(0.6)  # past the attempt's timeout: it can no longer be in flight

    sid = outbound(worker_env, redis_conn, timeout=0.5).send_sms(PERSON, "New task", KEY)

    assert sid == twilio.messages[0]["sid"]
    assert twilio.sent_to(PERSON) == [accepted]  # not sent again
    [lookup] = twilio.lookups
    assert lookup["To"] == PERSON and lookup["From"] == worker_env.values["TWILIO_PHONE_NUMBER"]
    assert make_store(redis_conn).send_record(KEY)[1] == sid  # and the next re-run asks nobody
    outbound(worker_env, redis_conn).send_sms(PERSON, "New task", KEY)
    assert len(twilio.lookups) == 1


def test_it_sends_when_the_interrupted_attempt_never_reached_twilio(
    twilio: TwilioEmulator, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    make_store(redis_conn).send_intended(KEY, time.time() - 60)  # a worker died before posting
    outbound(worker_env, redis_conn).send_sms(PERSON, "Other words, earlier", "another-key")

    outbound(worker_env, redis_conn).send_sms(PERSON, "New task", KEY)

    assert [r.body for r in twilio.sent_to(PERSON)] == ["Other words, earlier", "New task"]
    assert len(twilio.lookups) == 1


def test_the_lookup_puts_no_number_in_the_worker_log(
    twilio: TwilioEmulator,
    worker_env: WorkerEnv,
    redis_conn: Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The twilio client logs each request's URL and query at INFO: the lookup's has To=.
    logs.configure("INFO", "text")  # as the worker configures its logging
    caplog.set_level(logging.INFO)
    make_store(redis_conn).send_intended(KEY, time.time() - 60)

    outbound(worker_env, redis_conn).send_sms(PERSON, "New task", KEY)

    assert len(twilio.lookups) == 1
    for digits in (PERSON, PERSON[1:], PERSON[2:], "%2B" + PERSON[1:]):
        assert digits not in caplog.text


def test_it_ignores_the_same_words_sent_long_before_the_attempt(
    twilio: TwilioEmulator, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    outbound(worker_env, redis_conn).send_sms(PERSON, "New task", "last-weeks-key")
    twilio.messages[0]["date_created"] = "Thu, 19 Nov 2026 10:00:00 +0000"
    make_store(redis_conn).send_intended(KEY, time.time() - 60)

    outbound(worker_env, redis_conn).send_sms(PERSON, "New task", KEY)

    assert len(twilio.sent_to(PERSON)) == 2 and len(twilio.lookups) == 1


def test_it_waits_while_an_earlier_attempt_may_still_be_in_flight(
    twilio: TwilioEmulator, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    make_store(redis_conn).send_intended(KEY, time.time())  # another run of the job is posting now

    with pytest.raises(TransportError) as raised:
        outbound(worker_env, redis_conn).send_sms(PERSON, "New task", KEY)

    assert not raised.value.permanent  # RQ tries again after its backoff
    assert twilio.requests == [] and twilio.lookups == []


def test_a_refusal_leaves_nothing_to_look_up(
    twilio: TwilioEmulator, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    twilio.script(PERSON, "server_error")
    with pytest.raises(TransportError):
        outbound(worker_env, redis_conn).send_sms(PERSON, "New task", KEY)

    outbound(worker_env, redis_conn).send_sms(PERSON, "New task", KEY)

    assert [r.status for r in twilio.attempts_to(PERSON)] == [500, 201]
    assert twilio.lookups == []


def test_two_runs_at_once_send_once(
    twilio: TwilioEmulator, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    twilio.script(PERSON, ("hang", 0.5))
    results: list[str] = []

    def run() -> None:
        redis = Redis.from_url(worker_env.values["REDIS_URL"])
        try:
            results.append(outbound(worker_env, redis).send_sms(PERSON, "New task", KEY))
        except TransportError as e:
            results.append(f"retry later: {e}")
        finally:
            redis.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
        time.sleep(0.1)
    for t in threads:
        t.join()

    assert len(twilio.sent_to(PERSON)) == 1
    assert sorted(r.startswith("SM") for r in results) == [False, True]


def test_an_email_is_sent_once_per_key_with_a_stable_message_id(
    mailbox: Mailbox, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    for _ in range(2):
        outbound(worker_env, redis_conn).send_email("oncall@center.example.org", "S", "B", KEY)

    [mail] = mailbox.mails  # each send_email returns once the server took the message
    assert mail.message["Message-ID"] == f"<{KEY}@center.example.org>"


def test_a_webhook_carries_its_key_and_is_posted_once(
    crm: CrmServer, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    for _ in range(2):
        status = outbound(worker_env, redis_conn).post_webhook(crm.url, {"task": {}}, KEY)

    [delivery] = crm.received
    assert status == 204 and delivery.headers["Idempotency-Key"] == event_id_for(KEY)
