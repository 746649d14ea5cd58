"""Outbound: the real twilio client, smtplib and requests against local stand-ins."""

from __future__ import annotations

import json
import time

import pytest
import requests
from redis import Redis

from intake.outbound import OptedOut, Outbound, TransportError, sign
from tests.support.crm import CrmServer
from tests.support.mailbox import Mailbox
from tests.support.net import free_port
from tests.support.stores import make_store
from tests.support.twilio_emulator import TwilioEmulator

from .conftest import WorkerEnv

PERSON = "+13125550188"


def outbound(worker_env: WorkerEnv, redis: Redis, timeout: float = 10.0) -> Outbound:
    return Outbound(worker_env.settings, make_store(redis), timeout=timeout)


def test_it_sends_sms_through_the_real_twilio_client(
    twilio: TwilioEmulator, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    sid = outbound(worker_env, redis_conn).send_sms(PERSON, "Hello from the helpline")

    [request] = twilio.requests
    assert sid.startswith("SM") and request.status == 201
    assert request.form == {"To": PERSON, "From": "+17275550199", "Body": "Hello from the helpline"}
    assert (request.username, request.password) == ("AC" + "0" * 32, "test-auth-token")


def test_it_never_calls_twilio_for_an_opted_out_number(
    twilio: TwilioEmulator,
    worker_env: WorkerEnv,
    redis_conn: Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    make_store(redis_conn).opt_out(PERSON)

    with pytest.raises(OptedOut) as raised:
        outbound(worker_env, redis_conn).send_sms(PERSON, "Hello")

    assert raised.value.permanent
    assert twilio.requests == []
    assert PERSON not in caplog.text and PERSON not in str(raised.value)


def test_it_opts_a_number_out_when_twilio_says_21610(
    twilio: TwilioEmulator, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    twilio.script(PERSON, "unsubscribed")

    with pytest.raises(OptedOut) as raised:
        outbound(worker_env, redis_conn).send_sms(PERSON, "Hello")

    assert raised.value.permanent and "21610" in str(raised.value)
    assert make_store(redis_conn).is_opted_out(PERSON)


@pytest.mark.parametrize(
    ("outcome", "permanent"),
    [("invalid_to", True), ("rate_limited", False), ("server_error", False)],
)
def test_it_classifies_twilio_refusals(
    twilio: TwilioEmulator,
    worker_env: WorkerEnv,
    redis_conn: Redis,
    caplog: pytest.LogCaptureFixture,
    outcome: str,
    permanent: bool,
) -> None:
    twilio.script(PERSON, outcome)

    with pytest.raises(TransportError) as raised:
        outbound(worker_env, redis_conn).send_sms(PERSON, "Hello")

    assert raised.value.permanent is permanent
    assert not isinstance(raised.value, OptedOut)
    assert not make_store(redis_conn).is_opted_out(PERSON)
    # Twilio's 21211 message repeats the number: it must not reach the error or the log
    assert PERSON not in str(raised.value) and PERSON not in caplog.text


def test_it_retries_later_when_twilio_cannot_be_reached(
    worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    worker_env.set(TWILIO_API_BASE_URL=f"http://127.0.0.1:{free_port()}")

    with pytest.raises(TransportError) as raised:
        outbound(worker_env, redis_conn).send_sms(PERSON, "Hello")

    assert not raised.value.permanent and "ConnectionError" in str(raised.value)


def test_it_gives_up_on_a_slow_twilio_after_the_timeout(
    twilio: TwilioEmulator, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    twilio.script(PERSON, ("hang", 2.0))
    started = time.monotonic()

    with pytest.raises(TransportError) as raised:
        outbound(worker_env, redis_conn, timeout=0.5).send_sms(PERSON, "Hello")

    assert not raised.value.permanent and "Timeout" in str(raised.value)
    assert time.monotonic() - started < 1.5


def test_it_emails_through_smtp(mailbox: Mailbox, worker_env: WorkerEnv, redis_conn: Redis) -> None:
    outbound(worker_env, redis_conn).send_email("oncall@center.example.org", "Subject", "Body\n")

    [mail] = mailbox.wait_for(1)
    assert mail.mail_from == "intake@center.example.org"
    assert mail.rcpt_tos == ["oncall@center.example.org"]
    assert mail.message["Subject"] == "Subject"
    assert mail.message.get_content().strip() == "Body"


@pytest.mark.parametrize(
    ("reply", "permanent"), [("550 5.1.1 No such user", True), ("451 4.3.0 Try later", False)]
)
def test_it_classifies_smtp_refusals(
    mailbox: Mailbox, worker_env: WorkerEnv, redis_conn: Redis, reply: str, permanent: bool
) -> None:
    mailbox.refuse["gone@center.example.org"] = reply

    with pytest.raises(TransportError) as raised:
        outbound(worker_env, redis_conn).send_email("gone@center.example.org", "S", "B")

    assert raised.value.permanent is permanent
    assert "gone@" not in str(raised.value)


def test_it_retries_later_when_smtp_cannot_be_reached(
    worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    worker_env.set(
        SMTP_HOST="127.0.0.1", SMTP_PORT=str(free_port()), SMTP_FROM="intake@center.example.org"
    )
    with pytest.raises(TransportError) as raised:
        outbound(worker_env, redis_conn).send_email("oncall@center.example.org", "S", "B")
    assert not raised.value.permanent


def test_it_signs_webhooks_so_the_crm_can_check_them(
    crm: CrmServer, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    status = outbound(worker_env, redis_conn).post_webhook(crm.url, {"task": {"id": "abc"}})

    [delivery] = crm.received
    assert status == 204 and delivery.refused is None
    event_id = delivery.headers["X-Intake-Event-Id"]
    assert delivery.payload == {"task": {"id": "abc"}, "event_id": event_id}
    assert event_id.startswith("evt_") and delivery.headers["Idempotency-Key"] == event_id
    assert delivery.headers["Content-Type"] == "application/json"
    timestamp = delivery.headers["X-Intake-Timestamp"]
    assert abs(int(timestamp) - time.time()) < 5
    assert delivery.headers["X-Intake-Signature"] == sign(crm.secret, timestamp, delivery.body)


def test_it_lets_the_crm_detect_a_tampered_or_replayed_body(
    crm: CrmServer, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    outbound(worker_env, redis_conn).post_webhook(crm.url, {"task": {"priority": "normal"}})
    [genuine] = crm.received
    headers = {k: genuine.headers[k] for k in ("X-Intake-Timestamp", "X-Intake-Signature")}
    tampered = json.dumps({"task": {"priority": "urgent"}}, separators=(",", ":")).encode()

    answer = requests.post(crm.url, data=tampered, headers=headers, timeout=5)
    old = str(int(time.time()) - 3600)
    replayed = requests.post(
        crm.url,
        data=genuine.body,
        headers={
            "X-Intake-Timestamp": old,
            "X-Intake-Signature": sign(crm.secret, old, genuine.body),
        },
        timeout=5,
    )

    assert (answer.status_code, replayed.status_code) == (401, 401)
    assert [d.refused for d in crm.received] == [None, "bad signature", "stale timestamp"]


@pytest.mark.parametrize(
    ("status", "permanent"), [(400, True), (404, True), (429, False), (503, False)]
)
def test_it_classifies_webhook_answers(
    crm: CrmServer, worker_env: WorkerEnv, redis_conn: Redis, status: int, permanent: bool
) -> None:
    crm.script(status)

    with pytest.raises(TransportError) as raised:
        outbound(worker_env, redis_conn).post_webhook(crm.url, {"task": {}})

    assert raised.value.permanent is permanent and str(status) in str(raised.value)


def test_it_retries_later_when_the_crm_cannot_be_reached(
    worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"
    with pytest.raises(TransportError) as raised:
        outbound(worker_env, redis_conn).post_webhook(url, {"task": {}})
    assert not raised.value.permanent


def test_it_sends_to_api_twilio_com_unless_told_otherwise(
    worker_env: WorkerEnv, redis_conn: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    def capture(self: requests.Session, request: requests.PreparedRequest, **_: object) -> None:
        seen.append(request.url or "")
        raise requests.ConnectionError("not really sending")

    monkeypatch.setattr(requests.Session, "send", capture)
    with pytest.raises(TransportError):
        outbound(worker_env, redis_conn).send_sms(PERSON, "Hello")
    assert seen == [f"https://api.twilio.com/2010-04-01/Accounts/AC{'0' * 32}/Messages.json"]
