"""Staff texting a WhatsApp person back (issue 13): WhatsApp only, free-form only within 24 hours
of their last message, else the approved template (Content API) or nothing, with the reason on
the task; WhatsApp's own opt-out; the daily limit across channels. Against the Twilio emulator."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis

from intake.desk import Desk
from intake.outbound import Outbound, OutsideWindow
from intake.tasks import TransitionError
from tests.support.stores import make_store
from tests.support.twilio_emulator import TwilioEmulator
from tests.support.worker import enqueue_task, new_task, work

from .conftest import WorkerEnv

PERSON = "+13125550166"
SENDER = "whatsapp:+14155238886"
TEMPLATE = "HX" + "ab" * 16


@pytest.fixture
def whatsapp(twilio: TwilioEmulator, worker_env: WorkerEnv) -> TwilioEmulator:
    worker_env.set(WHATSAPP_FROM=SENDER)
    twilio.templates[TEMPLATE] = "{{1}} tried to reach you. Reply here, or call us at {{2}}."
    return twilio


def whatsapp_task(redis: Redis, **overrides: object) -> str:
    task = new_task(channel="whatsapp", from_number=PERSON, callback_number=PERSON, **overrides)
    enqueue_task(redis, task)
    work(redis)
    return task.id


def send(redis: Redis, worker_env: WorkerEnv, task_id: str, text: str) -> None:
    Desk(make_store(redis), redis, worker_env.settings).message(task_id, text, "ann@center.org")
    work(redis)


def trail(redis: Redis, task_id: str) -> list[tuple[str, str]]:
    return [
        (e.action, e.detail)
        for e in make_store(redis).audit(task_id)
        if e.action.startswith("message")
    ]


def test_within_24_hours_the_text_goes_as_written_on_whatsapp_only(
    whatsapp: TwilioEmulator, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    task_id = whatsapp_task(redis_conn)
    make_store(redis_conn).note_inbound("whatsapp", PERSON, datetime.now(UTC))
    send(redis_conn, worker_env, task_id, "Hi Sam, this is Ann from admissions. When suits you?")

    [message] = whatsapp.sent_to("whatsapp:" + PERSON)
    assert message.from_ == SENDER
    assert message.body == "Hi Sam, this is Ann from admissions. When suits you?"
    assert message.content_sid == ""
    assert whatsapp.sent_to(PERSON) == []  # never by SMS
    assert trail(redis_conn, task_id) == [
        ("message_queued", "WhatsApp"),
        ("message_sent", "WhatsApp: sent as written"),
    ]
    assert redis_conn.keys("intake:message:*") == []  # the staged text is gone once sent


def test_after_24_hours_the_approved_template_goes_instead(
    whatsapp: TwilioEmulator, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    worker_env.set(WHATSAPP_TEMPLATE_SID=TEMPLATE, PROGRAM_NAME="Harbor House")
    task_id = whatsapp_task(redis_conn)
    # Their last message was 25 hours ago (the record outlived its day: Redis was slow to expire).
    make_store(redis_conn).note_inbound("whatsapp", PERSON, datetime.now(UTC) - timedelta(hours=25))
    send(redis_conn, worker_env, task_id, "Hi Sam, when suits you?")

    [message] = whatsapp.sent_to("whatsapp:" + PERSON)
    assert message.content_sid == TEMPLATE and "Body" not in message.form
    assert message.content_variables == {"1": "Harbor House", "2": "(727) 391-7001"}
    assert whatsapp.messages[-1]["body"] == (
        "Harbor House tried to reach you. Reply here, or call us at (727) 391-7001."
    )
    assert trail(redis_conn, task_id)[-1] == (
        "message_sent",
        "WhatsApp: over 24 hours since their last message, so the approved template went "
        "instead of the text",
    )


def test_after_24_hours_without_a_template_nothing_goes_and_the_task_says_why(
    whatsapp: TwilioEmulator, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    task_id = whatsapp_task(redis_conn)  # no message from them in the last 24 hours
    send(redis_conn, worker_env, task_id, "Hi Sam")

    assert whatsapp.attempts_to("whatsapp:" + PERSON) == []
    action, detail = trail(redis_conn, task_id)[-1]
    assert action == "message_not_sent"
    assert "over 24 hours since their last WhatsApp message" in detail
    assert "WHATSAPP_TEMPLATE_SID" in detail
    assert redis_conn.keys("intake:message:*") == []


def test_a_whatsapp_opt_out_stops_it_and_an_sms_one_does_not(
    whatsapp: TwilioEmulator, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    store = make_store(redis_conn)
    task_id = whatsapp_task(redis_conn)
    store.note_inbound("whatsapp", PERSON, datetime.now(UTC))
    store.opt_out(PERSON)  # STOP by SMS: WhatsApp is another channel
    send(redis_conn, worker_env, task_id, "first")
    assert [m.body for m in whatsapp.sent_to("whatsapp:" + PERSON)] == ["first"]

    store.opt_out(PERSON, "whatsapp")
    send(redis_conn, worker_env, task_id, "second")
    assert [m.body for m in whatsapp.sent_to("whatsapp:" + PERSON)] == ["first"]
    assert trail(redis_conn, task_id)[-1] == (
        "message_not_sent",
        "WhatsApp: they opted out of WhatsApp messages",
    )


def test_the_daily_limit_counts_texts_to_the_number_on_every_channel(
    whatsapp: TwilioEmulator, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    worker_env.set(OUTBOUND_DAILY_LIMIT_PER_NUMBER="1")
    store = make_store(redis_conn)
    task_id = whatsapp_task(redis_conn)
    store.note_inbound("whatsapp", PERSON, datetime.now(UTC))
    Outbound(worker_env.settings, store).send_sms(PERSON, "an SMS earlier today")
    send(redis_conn, worker_env, task_id, "Hi Sam")
    assert whatsapp.sent_to("whatsapp:" + PERSON) == []
    assert trail(redis_conn, task_id)[-1][0] == "message_not_sent"
    assert "OUTBOUND_DAILY_LIMIT_PER_NUMBER" in trail(redis_conn, task_id)[-1][1]


def test_a_send_retried_after_a_crash_goes_once(
    whatsapp: TwilioEmulator, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    store = make_store(redis_conn)
    store.note_inbound("whatsapp", PERSON, datetime.now(UTC))
    outbound = Outbound(worker_env.settings, store)
    first = outbound.send_whatsapp(PERSON, "Hi", "message-job-1")
    again = outbound.send_whatsapp(PERSON, "Hi", "message-job-1")
    assert first == again and first.kind == "free-form"
    assert len(whatsapp.sent_to("whatsapp:" + PERSON)) == 1


def test_without_whatsapp_from_nothing_is_sent(twilio: TwilioEmulator, redis_conn: Redis) -> None:
    from intake.config import Settings
    from intake.outbound import TransportError

    store = make_store(redis_conn)
    store.note_inbound("whatsapp", PERSON, datetime.now(UTC))
    with pytest.raises(TransportError, match="WHATSAPP_FROM"):
        Outbound(Settings.from_env(), store).send_whatsapp(PERSON, "Hi")
    assert twilio.attempts_to("whatsapp:" + PERSON) == []


def test_outside_the_window_without_a_template_is_refused_before_anything_leaves(
    whatsapp: TwilioEmulator, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    with pytest.raises(OutsideWindow):
        Outbound(worker_env.settings, make_store(redis_conn)).send_whatsapp(PERSON, "Hi")
    assert whatsapp.attempts_to("whatsapp:" + PERSON) == []


@pytest.mark.parametrize(
    ("overrides", "refusal"),
    [
        ({"channel": "sms"}, "only a WhatsApp task"),
        ({"channel": "voice"}, "only a WhatsApp task"),
        ({"text_ok": False}, "asked not to be texted"),
    ],
)
def test_the_desk_refuses_a_message_that_may_not_go(
    worker_env: WorkerEnv, redis_conn: Redis, overrides: dict[str, object], refusal: str
) -> None:
    fields: dict[str, object] = {"channel": "whatsapp", "from_number": PERSON} | overrides
    task = new_task(**fields)
    enqueue_task(redis_conn, task)
    work(redis_conn)
    desk = Desk(make_store(redis_conn), redis_conn, worker_env.settings)
    with pytest.raises(TransitionError, match=refusal):
        desk.message(task.id, "Hi", "ann@center.org")
    assert redis_conn.keys("intake:message:*") == []


def test_the_emulator_refuses_what_twilio_refuses_for_whatsapp(
    whatsapp: TwilioEmulator, worker_env: WorkerEnv
) -> None:
    import requests

    sid = worker_env.values["TWILIO_ACCOUNT_SID"]
    url = f"{whatsapp.url}/2010-04-01/Accounts/{sid}/Messages.json"
    auth = (sid, worker_env.values["TWILIO_AUTH_TOKEN"])
    to = "whatsapp:" + PERSON

    def post(**form: str) -> int:
        answer = requests.post(url, data={"To": to, **form}, auth=auth, timeout=10)
        return int(answer.json().get("code") or answer.status_code)

    assert post(From="+17275550199", Body="Hi") == 21910  # an SMS sender to a WhatsApp To
    assert post(From=SENDER, ContentSid="HX" + "0" * 32) == 21655  # no such template
    assert post(From=SENDER, ContentSid=TEMPLATE, ContentVariables='{"1": "x"}') == 21656
    assert post(From=SENDER, ContentSid=TEMPLATE, ContentVariables="[1]") == 21656
    filled = json.dumps({"1": "x", "2": "y"})
    assert post(From=SENDER, ContentSid=TEMPLATE, ContentVariables=filled) == 201


def test_when_twilio_stays_down_the_trail_says_the_message_did_not_go(
    whatsapp: TwilioEmulator, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    whatsapp.script("whatsapp:" + PERSON, *["server_error"] * 10)
    task_id = whatsapp_task(redis_conn)
    make_store(redis_conn).note_inbound("whatsapp", PERSON, datetime.now(UTC))
    send(redis_conn, worker_env, task_id, "Hi Sam")

    assert len(whatsapp.attempts_to("whatsapp:" + PERSON)) == 4  # the first try and 3 retries
    action, detail = trail(redis_conn, task_id)[-1]
    assert action == "message_not_sent" and "could not be reached" in detail
    # Not a staff notification: the task is not flagged as one that failed.
    assert make_store(redis_conn).get_task(task_id).delivery_failed is False  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"WHATSAPP_FROM": "whatsapp:+14155238886"}, ("whatsapp:+14155238886", "")),
        ({"WHATSAPP_FROM": "+1 (415) 523-8886"}, ("whatsapp:+14155238886", "")),
        ({"WHATSAPP_TEMPLATE_SID": TEMPLATE}, ("", TEMPLATE)),
        ({}, ("", "")),
    ],
)
def test_whatsapp_settings_are_read_and_normalised(
    settings_env: dict[str, str], values: dict[str, str], expected: tuple[str, str]
) -> None:
    from intake.config import Settings

    s = Settings.from_env(settings_env | values)
    assert (s.whatsapp_from, s.whatsapp_template_sid) == expected


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"WHATSAPP_FROM": "whatsapp:+1555"}, "WHATSAPP_FROM"),
        ({"WHATSAPP_TEMPLATE_SID": "HX123"}, "WHATSAPP_TEMPLATE_SID"),
    ],
)
def test_a_malformed_whatsapp_setting_stops_start_up_naming_it(
    settings_env: dict[str, str], values: dict[str, str], named: str
) -> None:
    from intake.config import ConfigError, Settings

    with pytest.raises(ConfigError, match=named):
        Settings.from_env(settings_env | values)
