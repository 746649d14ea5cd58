"""intake/simulator.py and `intake chat` (text and --voice): signed Twilio requests over real HTTP
to the app served by werkzeug, TwiML read back as steps."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from redis import Redis

from intake import create_app
from intake.cli import main
from intake.config import Settings
from intake.simulator import (
    HIDDEN_CALLER_ID,
    Calling,
    Dialled,
    Gathered,
    HungUp,
    Phone,
    Redirected,
    Said,
    Texting,
    WebhookError,
    parse_twiml,
    step_from_dict,
)
from intake.web import carry
from tests.support.serving import serve_app
from tests.support.worker import work

TEXTER = "+13125550144"


@pytest.fixture
def app(settings: Settings, redis_conn: Redis) -> Flask:
    return create_app(settings)


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    """The app on a real HTTP server on 127.0.0.1, in a thread."""
    with serve_app(app) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def phone(settings: Settings, served: str) -> Phone:
    return Phone(
        settings.public_base_url,
        settings.twilio_auth_token,
        settings.twilio_account_sid,
        settings.twilio_phone_number,
        target=served,
    )


def spoken(steps: list[Any]) -> str:
    out: list[str] = []
    for step in steps:
        if isinstance(step, Said):
            out.append(step.text)
        elif isinstance(step, Gathered):
            out.extend(s.text for s in step.says)
    return " ".join(out)


def test_it_reads_twiml_into_plain_steps() -> None:
    steps = parse_twiml(
        '<?xml version="1.0" encoding="UTF-8"?><Response>'
        '<Say language="en-US" voice="Polly.Joanna-Neural">Call 911.</Say>'
        '<Gather action="https://x.org/voice/input?s=abc" input="dtmf speech" numDigits="1" '
        'hints="call me, español" language="es-US" actionOnEmptyResult="true" timeout="6">'
        '<Say language="es-US">Oprima 1.</Say></Gather>'
        '<Dial action="/voice/dial-status">+17273917001</Dial><Redirect>/voice</Redirect>'
        "<Hangup/></Response>"
    )
    assert steps == [
        Said("Call 911.", "en-US", "Polly.Joanna-Neural"),
        Gathered(
            action="https://x.org/voice/input?s=abc",
            input=["dtmf", "speech"],
            says=[Said("Oprima 1.", "es-US")],
            hints=["call me", "español"],
            language="es-US",
            num_digits=1,
            timeout=6,
            action_on_empty_result=True,
        ),
        Dialled("+17273917001", "/voice/dial-status"),
        Redirected("/voice"),
        HungUp(),
    ]
    from intake.simulator import as_dict

    assert [step_from_dict(as_dict(s)) for s in steps] == steps


def test_it_counts_the_segments_of_each_reply(phone: Phone) -> None:
    [welcome, *_] = Texting(phone, TEXTER).send("hi")
    assert (welcome.encoding, welcome.segments) == ("GSM-7", 1)
    from intake.simulator import texted

    assert (texted("é" * 160).encoding, texted("é" * 160).segments) == ("GSM-7", 1)
    assert (texted("☎" * 70).encoding, texted("☎" * 70).segments) == ("UCS-2", 1)
    assert texted("☎" * 71).segments == 2 and texted("x" * 161).segments == 2


def test_it_keeps_the_sms_cookie_as_twilio_does_and_the_conversation_goes_on(
    phone: Phone, redis_conn: Redis, app: Flask
) -> None:
    texting = Texting(phone, TEXTER)
    texting.send("ANXIETY")
    assert list(texting.cookies) == [carry.COOKIE]
    texting.send("CALL")
    redis_conn.flushall()  # Redis lost the session: the cookie alone carries the conversation
    [asked] = texting.send("Sam")
    assert "What number should we call?" in asked.text
    texting.keep_cookies([f"{carry.COOKIE}=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0"])
    assert texting.cookies == {}  # an expired cookie is forgotten, as Twilio forgets it
    assert app.extensions["intake"].store.load_session("sms", TEXTER) is not None


def test_a_text_callback_becomes_a_task(phone: Phone, redis_conn: Redis, app: Flask) -> None:
    texting = Texting(phone, TEXTER)
    for body in ["ANXIETY", "CALL", "Sam", "YES", "evening", "ME", "NO", "YES"]:
        texting.send(body)
    [done] = texting.send("YES")
    assert "(312) 555-0144" in done.text
    work(redis_conn)
    [task] = app.extensions["intake"].store.list_tasks()
    assert (task.kind, task.channel, task.from_number, task.name) == (
        "callback",
        "sms",
        TEXTER,
        "Sam",
    )


def test_a_whole_voice_callback_follows_the_gathers_to_the_hangup(
    phone: Phone, redis_conn: Redis, app: Flask
) -> None:
    call = Calling(phone, TEXTER)
    greeting = call.start()
    assert "9 1 1" in spoken(greeting)
    assert call.waiting is not None and call.waiting.input == ["dtmf", "speech"]
    assert "talk to someone" in call.waiting.hints
    assert "3 1 2, 5 5 5, 0 1 4 4" in spoken(call.press("2"))
    for keys in ["1", "3", "1", "2", "1"]:  # this number, evening, for me, no voicemail, texts ok
        call.press(keys)
    last = call.press("1")
    assert "Goodbye" in spoken(last) and isinstance(last[-1], HungUp) and call.ended
    with pytest.raises(WebhookError):
        call.press("1")
    work(redis_conn)
    [task] = app.extensions["intake"].store.list_tasks()
    assert (task.kind, task.channel, task.from_number, task.best_time) == (
        "callback",
        "voice",
        TEXTER,
        "evening",
    )


def test_a_call_goes_on_from_its_saved_state_with_speech_and_silence(phone: Phone) -> None:
    call = Calling(phone, TEXTER)
    call.start()
    again = Calling.resume(phone, call.state())
    assert "dopamine" in spoken(again.say("how opioids work"))
    assert "Press star" in spoken(Calling.resume(phone, again.state()).silence())


def test_a_hidden_caller_id_is_sent_as_twilio_sends_it(phone: Phone) -> None:
    call = Calling(phone, HIDDEN_CALLER_ID)
    call.start()
    asked = call.press("2")
    assert "enter the phone number" in spoken(asked)
    assert call.waiting is not None and call.waiting.finish_on_key == "#"


def test_it_never_signs_a_url_outside_public_base_url(phone: Phone) -> None:
    with pytest.raises(WebhookError, match="outside"):
        phone.post("https://elsewhere.example.com/voice", {})
    call = Calling(phone, TEXTER)
    call.start()
    assert call.waiting is not None
    call.waiting.action = "https://elsewhere.example.com/voice/input"
    with pytest.raises(WebhookError, match="outside"):
        call.press("1")


def test_a_bad_signature_is_the_apps_403(settings: Settings, served: str) -> None:
    wrong = Phone(
        settings.public_base_url,
        "not-the-token",
        settings.twilio_account_sid,
        settings.twilio_phone_number,
        target=served,
    )
    with pytest.raises(WebhookError) as refused:
        Texting(wrong, TEXTER).send("hi")
    assert refused.value.status == 403


def chat(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str, lines: str
) -> tuple[int, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    code = main(["chat", *args])
    return code, capsys.readouterr().out


def test_intake_chat_texts_through_the_driver(
    served: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = chat(monkeypatch, capsys, "--url", served, "--from", TEXTER, lines="hi\nOPIOIDS\n")
    assert code == 0
    replies = [line for line in out.splitlines() if line.startswith("bot> ")]
    assert any("Reply STOP to opt out" in r for r in replies), out
    assert any("receptors" in r for r in replies), out


def test_intake_chat_voice_calls_with_keys_speech_and_silence_until_hangup(
    served: str,
    redis_conn: Redis,
    app: Flask,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    keys = "\n".join(["how opioids work", "", "0", "call me back", "1", "3", "1", "2", "1", "1"])
    code, out = chat(monkeypatch, capsys, "--voice", "--url", served, lines=keys + "\n")
    assert code == 0, out
    assert out.startswith(f"Calling {served}/voice from +17275550100.")
    assert "9 1 1" in out and "dopamine" in out and "Press star" in out
    assert "calling from" in out and "Goodbye" in out
    assert out.rstrip().endswith("[the call ended]")
    work(redis_conn)
    [task] = app.extensions["intake"].store.list_tasks()
    assert (task.channel, task.from_number) == ("voice", "+17275550100")


def test_intake_chat_voice_hangs_up_at_the_end_of_input(
    served: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = chat(monkeypatch, capsys, "--voice", "--url", served, lines="")
    assert code == 0 and "9 1 1" in out and out.rstrip().endswith("[you hung up]")


def test_intake_chat_says_so_when_the_app_is_not_running(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = chat(monkeypatch, capsys, "--voice", "--url", "http://127.0.0.1:9", lines="")
    assert code == 1 and "cannot reach" in out


@pytest.fixture
def open_hours(settings: Settings, redis_conn: Redis) -> Iterator[str]:
    """The app on a Wednesday at noon in New York, served: admissions is open, 0 dials it."""
    app = create_app(settings)
    noon = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
    app.extensions["intake"].conversations.clock = lambda: noon
    with serve_app(app) as port:
        yield f"http://127.0.0.1:{port}"


def test_a_transfer_nobody_answers_goes_on_to_the_dial_action(
    settings: Settings, open_hours: str
) -> None:
    phone = Phone(
        settings.public_base_url,
        settings.twilio_auth_token,
        settings.twilio_account_sid,
        settings.twilio_phone_number,
        target=open_hours,
    )
    call = Calling(phone, TEXTER)
    call.start()
    steps = call.press("0")
    assert "Connecting you" in spoken(steps)
    assert isinstance(steps[-1], Dialled) and call.dialled is not None
    assert call.waiting is None
    offered = call.dial_ends("no-answer")
    assert "nobody from admissions could pick up" in spoken(offered)
    assert "calling from" in spoken(call.press("1"))


def test_intake_chat_voice_asks_whether_a_transfer_was_answered(
    open_hours: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = chat(monkeypatch, capsys, "--voice", "--url", open_hours, lines="0\nn\n")
    assert code == 0, out
    assert "[putting the call through to +17273917001]" in out
    assert "nobody from admissions could pick up" in out
    assert out.rstrip().endswith("[you hung up]")


def test_a_whatsapp_conversation_goes_to_the_same_webhook_as_twilio_sends_it(
    phone: Phone, redis_conn: Redis, app: Flask
) -> None:
    """Issue 13: From and To as whatsapp:+1..., the same flow, a WhatsApp task."""
    texting = Texting(phone, TEXTER, whatsapp=True, whatsapp_to="whatsapp:+14155238886")
    *_, menu = texting.send("hi")
    assert "*OPIOIDS*" in menu.text
    for body in ["CALL", "Sam", "YES", "evening", "ME", "NO", "YES"]:
        texting.send(body)
    [done] = texting.send("YES")
    assert "(312) 555-0144" in done.text
    work(redis_conn)
    [task] = app.extensions["intake"].store.list_tasks()
    assert (task.channel, task.from_number, task.callback_number) == ("whatsapp", TEXTER, TEXTER)
    assert app.extensions["intake"].store.load_session("sms", TEXTER) is None


def test_intake_chat_texts_on_whatsapp(
    served: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = chat(
        monkeypatch, capsys, "--url", served, "--from", TEXTER, "--whatsapp", lines="hi\n"
    )
    assert code == 0
    assert f"on WhatsApp from whatsapp:{TEXTER}" in out
    assert any("*OPIOIDS*" in line for line in out.splitlines() if line.startswith("bot> ")), out
