"""POST /sms/fallback and /voice/fallback: a safe answer when the main webhook failed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from typing import Any

from flask import Flask
from werkzeug.test import TestResponse

from intake import create_app
from intake.config import Settings
from tests.support.net import free_port

from .conftest import sign, twilio_sms_params

CALLER = "+13125550142"


def post(app: Flask, settings: Settings, path: str, params: dict[str, str]) -> TestResponse:
    return app.test_client().post(
        path, data=params, headers={"X-Twilio-Signature": sign(settings, path, params)}
    )


def voice_params(**extra: str) -> dict[str, str]:
    return {
        "CallSid": "CA" + "1" * 32,
        "AccountSid": "AC" + "0" * 32,
        "From": CALLER,
        "To": "+17275550199",
        "CallStatus": "ringing",
        "ErrorCode": "11200",
        "ErrorUrl": "https://intake.example.org/voice",
        **extra,
    }


def test_the_sms_fallback_answers_with_988_911_and_admissions(
    app: Flask, settings: Settings
) -> None:
    params = twilio_sms_params("i need help", CALLER, ErrorCode="11200")

    response = post(app, settings, "/sms/fallback", params)

    assert response.status_code == 200 and response.mimetype == "application/xml"
    messages = [m.text or "" for m in ET.fromstring(response.data).iter("Message")]
    assert len(messages) == 1
    assert "988" in messages[0] and "911" in messages[0]
    assert "(727) 391-7001" in messages[0]  # the admissions number of the test flow


def test_the_sms_fallback_never_texts_an_opt_out_word(app: Flask, settings: Settings) -> None:
    for body in ["STOP", "stop.", "Unsubscribe"]:
        response = post(app, settings, "/sms/fallback", twilio_sms_params(body, CALLER))
        assert response.status_code == 200
        assert list(ET.fromstring(response.data)) == [], body


def test_the_voice_fallback_says_the_lines_in_each_language_and_hangs_up(
    app: Flask, settings: Settings
) -> None:
    response = post(app, settings, "/voice/fallback", voice_params())

    assert response.status_code == 200 and response.mimetype == "application/xml"
    verbs = list(ET.fromstring(response.data))
    assert [v.tag for v in verbs] == ["Say", "Say", "Hangup"]
    english, spanish = verbs[0], verbs[1]
    assert english.get("language") == "en-US" and spanish.get("language") == "es-US"
    for say in (english, spanish):
        assert "9 8 8" in (say.text or "") and "9 1 1" in (say.text or "")
        assert "7 2 7" in (say.text or "")  # the admissions number, digit by digit


def test_the_fallbacks_refuse_unsigned_requests(app: Flask) -> None:
    client = app.test_client()
    for path, params in [
        ("/sms/fallback", twilio_sms_params("hi", CALLER)),
        ("/voice/fallback", voice_params()),
    ]:
        response = client.post(path, data=params, headers={"X-Twilio-Signature": "bad"})
        assert response.status_code == 403, path
        assert list(ET.fromstring(response.data)) == []


def test_the_fallbacks_answer_without_redis(settings: Settings, redis_conn: Any) -> None:
    dead = replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    app = create_app(dead)

    sms = post(app, dead, "/sms/fallback", twilio_sms_params("hello", CALLER))
    voice = post(app, dead, "/voice/fallback", voice_params())

    assert sms.status_code == 200 and b"988" in sms.data
    assert voice.status_code == 200 and b"9 8 8" in voice.data
