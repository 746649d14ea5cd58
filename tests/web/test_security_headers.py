"""Security headers on every answer: pages, webhooks, static files, errors, 413s."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from intake import create_app
from intake.config import Settings

from .conftest import sign, twilio_sms_params

FRAME_DENIED = "frame-ancestors 'none'"


def signed(settings: Settings, path: str, params: dict[str, str]) -> dict[str, Any]:
    return {"data": params, "headers": {"X-Twilio-Signature": sign(settings, path, params)}}


def boom() -> str:
    raise RuntimeError("a bug")


@pytest.fixture
def app(settings: Settings, redis_conn: Any) -> Flask:
    app = create_app(settings)
    app.add_url_rule("/boom-for-test", view_func=boom)  # a view that fails: Flask's 500 path
    return app


BIG = {"data": "a" * (65 * 1024), "content_type": "application/x-www-form-urlencoded"}
CALL = {"CallSid": "CA1", "From": "+13125550199"}
Send = Callable[[FlaskClient, Settings], TestResponse]
REQUESTS: dict[str, tuple[int, Send]] = {
    "sms": (200, lambda c, s: c.post("/sms", **signed(s, "/sms", twilio_sms_params("hi", "+1")))),
    "voice": (200, lambda c, s: c.post("/voice", **signed(s, "/voice", CALL))),
    "bad signature": (
        403,
        lambda c, s: c.post("/voice", data=CALL, headers={"X-Twilio-Signature": "x"}),
    ),
    "wrong method": (405, lambda c, s: c.get("/sms")),
    "no such page": (404, lambda c, s: c.get("/no-such-page")),
    "no such staff page": (404, lambda c, s: c.get("/staff/no/such/page")),
    "too large webhook": (413, lambda c, s: c.post("/sms", **BIG)),
    "too large page": (413, lambda c, s: c.post("/staff/login", **BIG)),
    "a failing view": (500, lambda c, s: c.get("/boom-for-test")),
    "health": (200, lambda c, s: c.get("/healthz")),
    "staff sign-in": (200, lambda c, s: c.get("/staff/login")),
    "staff redirect": (303, lambda c, s: c.get("/staff/")),
    "static file": (200, lambda c, s: c.get("/staff/static/staff.css")),
}


@pytest.mark.parametrize("name", REQUESTS)
def test_it_sends_security_headers_on_every_answer(
    name: str, client: FlaskClient, settings: Settings
) -> None:
    status, send = REQUESTS[name]
    response = send(client, settings)
    assert response.status_code == status
    headers = response.headers
    assert FRAME_DENIED in headers["Content-Security-Policy"]
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] in ("no-referrer", "same-origin")
    assert headers["Strict-Transport-Security"].startswith("max-age=")  # the base URL is https


def test_staff_pages_keep_their_own_policy(client: FlaskClient) -> None:
    csp = client.get("/staff/login").headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and FRAME_DENIED in csp


def test_twiml_gets_the_restrictive_default(client: FlaskClient, settings: Settings) -> None:
    response = client.post("/voice", **signed(settings, "/voice", {"CallSid": "CA2"}))
    assert response.mimetype == "application/xml"
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none';")
    assert "script-src" not in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("path", ["/healthz", "/no-such-page", "/staff/login"])
def test_no_hsts_when_the_base_url_is_http(path: str, settings: Settings, redis_conn: Any) -> None:
    settings = replace(settings, public_base_url="http://127.0.0.1:8000")
    client = create_app(settings).test_client()
    response = client.get(path)
    assert "Strict-Transport-Security" not in response.headers
    assert response.headers["X-Frame-Options"] == "DENY"
    big = client.post("/sms", data="a" * (65 * 1024), content_type="text/plain")
    assert big.status_code == 413
    assert "Strict-Transport-Security" not in big.headers
    assert big.headers["X-Content-Type-Options"] == "nosniff"
