"""Webhook tests: the Flask app over the test client, a real Redis, signed requests."""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from twilio.request_validator import RequestValidator
from werkzeug.test import TestResponse

from intake import create_app
from intake.config import Settings

TEXTER = "+13125550199"


@pytest.fixture
def app(settings: Settings, redis_conn: Any) -> Flask:
    return create_app(settings)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def sign(settings: Settings, path: str, params: dict[str, str]) -> str:
    url = settings.public_base_url + path
    return RequestValidator(settings.twilio_auth_token).compute_signature(url, params)


def twilio_sms_params(
    body: str, from_: str, sid: str | None = None, **extra: str
) -> dict[str, str]:
    sid = sid or "SM" + secrets.token_hex(16)
    params = {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": from_,
        "To": "+17275550199",
        "Body": body,
        "NumMedia": "0",
        "ApiVersion": "2010-04-01",
    }
    params.update(extra)
    return params


@pytest.fixture
def post_signed(client: FlaskClient, settings: Settings) -> Callable[..., TestResponse]:
    def post(path: str, params: dict[str, str]) -> TestResponse:
        return client.post(
            path, data=params, headers={"X-Twilio-Signature": sign(settings, path, params)}
        )

    return post


@pytest.fixture
def text(post_signed: Callable[..., TestResponse]) -> Callable[..., list[str]]:
    """Send one SMS as Twilio would; return the reply messages."""

    def send(body: str, from_: str = TEXTER, sid: str | None = None, **extra: str) -> list[str]:
        response = post_signed("/sms", twilio_sms_params(body, from_, sid, **extra))
        assert response.status_code == 200, response.data
        assert response.mimetype == "application/xml"
        return replies(response.data)

    return send


def replies(xml: bytes) -> list[str]:
    root = ET.fromstring(xml)
    assert root.tag == "Response"
    return [m.text or "" for m in root.iter("Message")]
