"""POST /voice, /voice/input and /voice/dial-status through the Flask test client."""

from __future__ import annotations

import itertools
import secrets
import time
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from intake import create_app
from intake.config import Settings
from intake.queues import JobQueue
from intake.store import DEFAULT_QUEUE, URGENT_QUEUE
from intake.web import carry
from tests.support.stores import make_store

from .conftest import sign

CALLER = "+13125550199"
WEDNESDAY_NOON_NY = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
SUNDAY_NOON_NY = datetime(2026, 11, 29, 17, 0, tzinfo=UTC)


class Call:
    """One phone call, driven the way Twilio drives our webhooks."""

    def __init__(self, client: FlaskClient, settings: Settings, caller: str = CALLER) -> None:
        self.client = client
        self.settings = settings
        self.caller = caller
        self.sid = "CA" + secrets.token_hex(16)

    def post(self, path: str, **extra: str) -> ET.Element:
        params = {
            "CallSid": self.sid,
            "AccountSid": "AC" + "0" * 32,
            "From": self.caller,
            "To": "+17275550199",
            "CallStatus": "in-progress",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        } | extra
        response = self.client.post(
            path, data=params, headers={"X-Twilio-Signature": sign(self.settings, path, params)}
        )
        assert response.status_code == 200, response.data
        assert response.mimetype == "application/xml"
        return ET.fromstring(response.data)

    def start(self) -> ET.Element:
        return self.post("/voice", CallStatus="ringing")

    def press(self, digits: str) -> ET.Element:
        return self.post("/voice/input", Digits=digits)

    def say(self, speech: str) -> ET.Element:
        return self.post("/voice/input", SpeechResult=speech, Confidence="0.9")

    def silence(self) -> ET.Element:
        return self.post("/voice/input")

    def dial_status(self, status: str) -> ET.Element:
        return self.post("/voice/dial-status", DialCallStatus=status)


def said(twiml: ET.Element) -> str:
    return " ".join(s.text or "" for s in twiml.iter("Say"))


def gather(twiml: ET.Element) -> ET.Element:
    [g] = list(twiml.iter("Gather"))
    return g


@pytest.fixture
def call(client: FlaskClient, settings: Settings) -> Call:
    return Call(client, settings)


def app_at(settings: Settings, now: datetime) -> Flask:
    app = create_app(settings)
    app.extensions["intake"].conversations.clock = lambda: now
    return app


def run_worker(redis_conn: Any) -> None:
    queues = [JobQueue(n, connection=redis_conn) for n in (URGENT_QUEUE, DEFAULT_QUEUE)]
    SimpleWorker(queues, connection=redis_conn, serializer=JSONSerializer).work(burst=True)


def test_it_refuses_unsigned_calls_and_stores_nothing(client: FlaskClient, redis_conn: Any) -> None:
    for path in ("/voice", "/voice/input", "/voice/dial-status"):
        response = client.post(path, data={"CallSid": "CA1", "From": CALLER, "Digits": "2"})
        assert response.status_code == 403
    assert redis_conn.dbsize() == 0


def test_the_greeting_puts_safety_first_then_gathers_keys_and_speech(call: Call) -> None:
    twiml = call.start()
    g = gather(twiml)
    says = [s.text or "" for s in g.iter("Say")]
    assert "9 1 1" in says[0] and "9 8 8" in says[0]
    assert "press 1" in says[1] and "press 0" in says[1] and "oprima 9" in says[1]
    assert g.get("input") == "dtmf speech"
    assert g.get("action").startswith("https://intake.example.org/voice/input?s=")
    assert g.get("actionOnEmptyResult") == "true"
    assert g.get("language") == "en-US"
    assert "talk to someone" in (g.get("hints") or "")
    assert all(s.get("voice", "").startswith("Polly.") for s in g.iter("Say"))


def test_every_learn_topic_plays_and_star_repeats_it(call: Call) -> None:
    call.start()
    call.press("1")
    for key, word in [
        ("1", "receptors"),
        ("2", "constipation"),
        ("3", "depression"),
        ("4", "anxiety"),
        ("5", "buprenorphine"),
        ("6", "same time"),
    ]:
        twiml = call.press(key)
        assert word in said(twiml), key
        assert "star" in said(twiml)
        assert word in said(call.press("*"))
        assert "press 1" in said(call.press("0"))
        call.press("1")


def test_speech_reaches_topics_callbacks_and_spanish(call: Call) -> None:
    call.start()
    assert "dopamine" in said(call.say("how opioids work"))
    call.press("0")
    assert "calling from" in said(call.say("call me back"))
    other = Call(call.client, call.settings)
    other.start()
    twiml = other.say("español")
    assert "oprima 1" in said(twiml)
    assert gather(twiml).get("language") == "es-US"
    assert all(s.get("voice") == "Polly.Lupe-Neural" for s in twiml.iter("Say"))


def test_a_voice_callback_becomes_the_same_task_with_channel_voice(
    call: Call, redis_conn: Any, app: Flask
) -> None:
    call.start()
    assert "3 1 2, 5 5 5, 0 1 9 9" in said(call.press("2"))
    call.press("1")  # this number
    call.press("3")  # evening
    call.press("1")  # for me
    call.press("2")  # no voicemail
    summary = said(call.press("1"))  # texts ok
    assert "3 1 2, 5 5 5, 0 1 9 9" in summary and "Voicemail: no" in summary
    done = call.press("1")
    assert "Goodbye" in said(done)
    assert done[-1].tag == "Hangup"
    run_worker(redis_conn)
    [task] = app.extensions["intake"].store.list_tasks()
    assert task.as_json() | {"id": "-", "created_at": "-"} == {
        "id": "-",
        "kind": "callback",
        "priority": "normal",
        "status": "new",
        "created_at": "-",
        "channel": "voice",
        "language": "en",
        "from_number": CALLER,
        "callback_number": CALLER,
        "name": None,
        "best_time": "evening",
        "best_time_window": "evening",
        "for_whom": "self",
        "voicemail_ok": False,
        "text_ok": True,
        "topics": [],
    }


@pytest.mark.parametrize("hidden", ["", "Anonymous", "Restricted", "+266696687", "12345"])
def test_a_hidden_caller_id_must_enter_a_number(
    client: FlaskClient, settings: Settings, hidden: str
) -> None:
    call = Call(client, settings, caller=hidden)
    call.start()
    twiml = call.press("2")
    assert "enter the phone number" in said(twiml)
    assert gather(twiml).get("finishOnKey") == "#"
    assert "doesn't look right" in said(call.press("555"))
    assert "best time" in said(call.press("7275550100"))


def test_silence_and_wrong_keys_reprompt_then_say_goodbye_with_the_number(call: Call) -> None:
    call.start()
    first = call.silence()
    assert "didn't get that" in said(first) and "press 1" in said(first)
    assert "didn't get that" in said(call.press("7"))
    last = call.press("8")
    assert "7 2 7, 3 9 1, 7 0 0 1" in said(last) and "Goodbye" in said(last)
    assert last[-1].tag == "Hangup"
    assert not list(last.iter("Gather"))


def test_crisis_speech_gets_the_safety_message_and_an_urgent_task(
    call: Call, redis_conn: Any, app: Flask
) -> None:
    call.start()
    twiml = call.say("I took too many pills")
    first = twiml[0]
    assert first.tag == "Say" and "9 1 1" in (first.text or "")  # said in full, outside the Gather
    assert "press 1" in said(gather(twiml))
    run_worker(redis_conn)
    [task] = app.extensions["intake"].store.list_tasks()
    assert (task.kind, task.priority, task.channel, task.callback_number) == (
        "crisis",
        "urgent",
        "voice",
        CALLER,
    )


def test_0_in_business_hours_dials_admissions(settings: Settings, redis_conn: Any) -> None:
    app = app_at(replace(settings, admissions_dial_number="+17275550142"), WEDNESDAY_NOON_NY)
    call = Call(app.test_client(), settings)
    call.start()
    twiml = call.press("0")
    assert "Connecting you" in said(twiml)
    assert [e.tag for e in twiml] == ["Say", "Dial"]  # a Gather first: Twilio would never dial
    [dial] = list(twiml.iter("Dial"))
    assert (dial.text or "").strip() == "+17275550142"
    assert dial.get("action").startswith("https://intake.example.org/voice/dial-status?s=")
    assert dial.get("timeout") == str(settings.dial_timeout_seconds)


@pytest.mark.parametrize("status", ["no-answer", "busy", "failed", "canceled"])
def test_an_unanswered_transfer_offers_a_callback(
    settings: Settings, redis_conn: Any, status: str
) -> None:
    app = app_at(settings, WEDNESDAY_NOON_NY)
    call = Call(app.test_client(), settings)
    call.start()
    call.press("0")
    twiml = call.dial_status(status)
    assert "nobody from admissions could pick up" in said(twiml)
    assert "call back, press 1" in said(gather(twiml))
    assert "calling from" in said(call.press("1"))


@pytest.mark.parametrize("status", ["completed", "answered"])
def test_a_finished_transfer_says_goodbye(settings: Settings, redis_conn: Any, status: str) -> None:
    app = app_at(settings, WEDNESDAY_NOON_NY)
    call = Call(app.test_client(), settings)
    call.start()
    call.press("0")
    twiml = call.dial_status(status)
    assert "Goodbye" in said(twiml) and twiml[-1].tag == "Hangup"


def test_0_outside_business_hours_offers_a_callback(settings: Settings, redis_conn: Any) -> None:
    app = app_at(settings, SUNDAY_NOON_NY)
    call = Call(app.test_client(), settings)
    call.start()
    twiml = call.press("0")
    assert not list(twiml.iter("Dial"))
    assert "not available" in said(twiml)
    assert "press 1" in said(gather(twiml))
    assert "press 1" in said(call.press("2"))  # back to the main menu


def test_business_hours_follow_the_configured_days_hours_and_zone(settings: Settings) -> None:
    s = Settings.from_env(
        {
            "REDIS_URL": settings.redis_url,
            "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
            "TWILIO_AUTH_TOKEN": "t",
            "TWILIO_PHONE_NUMBER": "+17275550199",
            "PUBLIC_BASE_URL": "https://x.example.org",
            "SECRET_KEY": "s" * 20,
            "ENCRYPTION_KEYS": settings.encryption_keys[0],
            "LOOKUP_KEY": settings.lookup_key,
            "BUSINESS_DAYS": "sat-sun",
            "BUSINESS_HOURS": "10:00-14:00",
            "BUSINESS_TIMEZONE": "America/Los_Angeles",
        }
    )
    assert s.admissions_open(datetime(2026, 11, 29, 19, 0, tzinfo=UTC))  # Sunday 11:00 LA
    assert not s.admissions_open(datetime(2026, 11, 29, 23, 0, tzinfo=UTC))  # Sunday 15:00 LA
    assert not s.admissions_open(datetime(2026, 11, 25, 19, 0, tzinfo=UTC))  # Wednesday


def test_an_unknown_call_at_input_starts_politely(call: Call) -> None:
    twiml = call.press("5")  # Twilio posting for a call whose session expired
    assert "9 1 1" in said(twiml) and list(twiml.iter("Gather"))


def test_an_internal_error_is_an_apology_not_an_error_tone(
    call: Call, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(app.extensions["intake"].conversations, "step", broken)
    twiml = call.start()
    assert "7 2 7, 3 9 1, 7 0 0 1" in said(twiml) and twiml[-1].tag == "Hangup"


def test_a_dial_status_for_a_forgotten_call_hangs_up(call: Call) -> None:
    twiml = call.dial_status("no-answer")
    assert twiml[-1].tag == "Hangup"


@pytest.mark.parametrize(
    "speech", ["I just want it all to end", "i dont see the point of living anymore"]
)
def test_it_answers_natural_crisis_speech_and_keeps_the_call_going(call: Call, speech: str) -> None:
    call.start()
    twiml = call.say(speech)
    assert "9 8 8" in said(twiml) and "9 1 1" in said(twiml)
    assert gather(twiml) is not None  # the menu is offered again, nobody is hung up on


def test_it_repeats_the_options_for_a_doubtful_transcript(call: Call) -> None:
    call.start()
    twiml = call.post("/voice/input", SpeechResult="tell me about depression", Confidence="0.1")
    assert "press 1" in said(twiml)
    assert "dopamine" not in said(twiml) and "depress" not in said(twiml).lower()


def test_it_hints_the_recogniser_with_what_the_flow_understands(call: Call) -> None:
    hints = gather(call.start()).get("hints", "")
    for word in ("depression", "anxiety", "call me back", "side effects", "treatment"):
        assert word in hints


def test_it_takes_a_malformed_confidence_as_unknown(call: Call) -> None:
    call.start()
    twiml = call.post("/voice/input", SpeechResult="tell me about anxiety", Confidence="high")
    assert "anxi" in said(twiml).lower()


# --- replays: the same CallSid and step delivered again, as Twilio (or a copy of its request) would

CALLBACK_KEYS = ["2", "1", "3", "1", "2", "1", "1"]  # callback, this number, evening, ... confirm


def follow(call: Call, twiml: ET.Element, tag: str = "Gather", **form: str) -> ET.Element:
    """Post to the URL our TwiML told Twilio to use next (with its ?s= copy), as Twilio does."""
    [element] = list(twiml.iter(tag))
    url = urlsplit(element.get("action") or "")
    return call.post(f"{url.path}?{url.query}", **form)


def ticking_app(settings: Settings, start: datetime) -> Flask:
    """An app whose clock moves on a second per step, from `start`."""
    app = create_app(settings)
    seconds = itertools.count()
    app.extensions["intake"].conversations.clock = lambda: start + timedelta(seconds=next(seconds))
    return app


def stored(redis_conn: Any, call: Call) -> tuple[str, datetime] | None:
    session = make_store(redis_conn).load_session("voice", call.sid)
    return None if session is None else (session.state, session.updated_at)


def test_a_replayed_first_request_does_not_restart_a_call_that_moved_on(
    call: Call, redis_conn: Any
) -> None:
    first = call.start()
    asked = follow(call, follow(call, first, Digits="2"), Digits="1")  # callback, this number
    assert "best time" in said(asked)
    before = stored(redis_conn, call)

    replay = call.start()

    assert said(replay) == said(first)
    assert stored(redis_conn, call) == before
    assert "for you" in said(follow(call, asked, Digits="3"))  # the call goes on where it was


def test_a_replayed_gather_action_neither_advances_twice_nor_queues_a_second_task(
    call: Call, redis_conn: Any
) -> None:
    twiml = call.start()
    steps: list[tuple[ET.Element, str, ET.Element]] = []
    for key in CALLBACK_KEYS:
        answer = follow(call, twiml, Digits=key)
        steps.append((twiml, key, answer))
        if key == "3":  # mid-call: the menu's "2" again must not take the call back
            mid = stored(redis_conn, call)
            assert said(follow(call, steps[0][0], Digits="2")) == said(steps[0][2])
            assert stored(redis_conn, call) == mid
        twiml = answer
    assert "Goodbye" in said(twiml) and stored(redis_conn, call) is None
    queue = JobQueue(DEFAULT_QUEUE, connection=redis_conn)
    assert queue.count == 1

    for asked, key, answer in steps:  # every step again, after the call ended
        assert said(follow(call, asked, Digits=key)) == said(answer)

    assert stored(redis_conn, call) is None  # nothing brought back
    assert queue.count == 1
    run_worker(redis_conn)
    assert len(make_store(redis_conn).list_tasks()) == 1


def test_a_replayed_dial_status_neither_rewinds_the_call_nor_brings_it_back(
    settings: Settings, redis_conn: Any
) -> None:
    app = ticking_app(settings, WEDNESDAY_NOON_NY)
    call = Call(app.test_client(), settings)
    dialled = follow(call, call.start(), Digits="0")
    offered = follow(call, dialled, tag="Dial", DialCallStatus="no-answer")
    assert "nobody from admissions could pick up" in said(offered)
    assert "calling from" in said(follow(call, offered, Digits="1"))
    moved_on = stored(redis_conn, call)

    again = follow(call, dialled, tag="Dial", DialCallStatus="no-answer")

    assert said(again) == said(offered)
    assert stored(redis_conn, call) == moved_on

    ended = Call(app.test_client(), settings)
    transfer = follow(ended, ended.start(), Digits="0")
    goodbye = follow(ended, transfer, tag="Dial", DialCallStatus="completed")
    assert "Goodbye" in said(goodbye) and stored(redis_conn, ended) is None
    replay = follow(ended, transfer, tag="Dial", DialCallStatus="completed")
    assert said(replay) == said(goodbye) and replay[-1].tag == "Hangup"
    assert stored(redis_conn, ended) is None


def test_a_copy_older_than_the_session_ttl_never_starts_the_call_over(
    app: Flask, call: Call, settings: Settings, redis_conn: Any
) -> None:
    greeting = call.start()
    url = urlsplit(gather(greeting).get("action") or "")
    token = parse_qs(url.query)[carry.QUERY][0]
    keys = app.extensions["intake"].keys
    payload = keys.decrypt((token + "=" * (-len(token) % 4)).encode())
    old = keys.encrypt_at_time(payload, int(time.time()) - settings.session_ttl_seconds - 60)
    redis_conn.delete(*redis_conn.keys("intake:session:voice:*"))  # Redis forgot it (TTL)

    twiml = call.post(f"{url.path}?{urlencode({carry.QUERY: old.decode()})}", Digits="2")

    assert said(twiml) == "" and twiml[-1].tag == "Hangup"
    assert stored(redis_conn, call) is None
