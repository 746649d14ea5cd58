"""/simulator: off by default (404), loopback clients only, a token on its JSON endpoints, and its
JSON endpoints drive the real webhooks over HTTP (the app served by werkzeug)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from redis import Redis

from intake import create_app
from intake.config import Settings
from intake.simulator import HIDDEN_CALLER_ID
from intake.web import simulator
from tests.support.serving import serve_app
from tests.support.worker import work

TEXTER = "+13125550142"


@pytest.fixture
def sim_app(settings: Settings, redis_conn: Redis) -> Flask:
    return create_app(replace(settings, simulator_enabled=True))


@pytest.fixture
def served(sim_app: Flask) -> Iterator[int]:
    """The app on a real HTTP server on 127.0.0.1: the simulator posts to it."""
    with serve_app(sim_app) as port:
        yield port


class Browser:
    """A test client whose requests reach the served port, as a browser's would."""

    def __init__(self, app: Flask, port: int) -> None:
        self.app = app
        self.client = app.test_client()
        self.base = f"https://localhost:{port}"

    def get(self, path: str) -> Any:
        return self.client.get(path, base_url=self.base)

    def post(self, path: str, data: dict[str, Any], csrf: str | None = None) -> Any:
        headers = {"Referer": f"{self.base}/simulator"}
        if csrf:
            headers["X-CSRFToken"] = csrf
        return self.client.post(path, json=data, headers=headers, base_url=self.base)


@pytest.fixture
def browser(sim_app: Flask, served: int) -> Browser:
    return Browser(sim_app, served)


def token(browser: Browser) -> str:
    page = browser.get("/simulator")
    assert page.status_code == 200
    found = re.search(r'name="csrf-token" content="([^"]+)"', page.get_data(as_text=True))
    assert found
    return found.group(1)


def tasks_for(browser: Browser, number: str) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = browser.get(f"/simulator/tasks?from={quote(number)}").get_json()[
        "tasks"
    ]
    return tasks


def post(browser: Browser, path: str, data: dict[str, Any], csrf: str) -> Any:
    return browser.post(path, data, csrf)


def test_the_simulator_is_a_404_unless_the_setting_turns_it_on(
    settings: Settings, redis_conn: Redis
) -> None:
    assert settings.simulator_enabled is False
    client = create_app(settings).test_client()
    for path in ("/simulator", "/simulator/static/simulator.js", "/simulator/tasks"):
        assert client.get(path).status_code == 404
    assert client.post("/simulator/text", json={"from": TEXTER, "body": "hi"}).status_code == 404


def test_it_answers_loopback_clients_only(sim_app: Flask) -> None:
    client = sim_app.test_client()
    assert client.get("/simulator", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200
    assert client.get("/simulator", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    for remote in ("192.168.1.20", "203.0.113.9"):
        assert client.get("/simulator", environ_base={"REMOTE_ADDR": remote}).status_code == 404
    local = {"REMOTE_ADDR": "127.0.0.1"}
    for base in ("http://127.0.0.1:8000", "http://[::1]:8000", "http://localhost"):
        assert client.get("/simulator", base_url=base, environ_base=local).status_code == 200
    # A page on another domain, rebound to 127.0.0.1, must not read it (DNS rebinding).
    rebound = client.get(
        "/simulator/tasks", base_url="http://evil.example:8000", environ_base=local
    )
    assert rebound.status_code == 404


def test_the_page_has_its_own_script_free_inline_csp(sim_app: Flask) -> None:
    page = sim_app.test_client().get("/simulator")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    html = page.get_data(as_text=True)
    assert (
        "<script>" not in html
        and "style=" not in html
        and " on" not in html.replace(" one", "").replace(" only", "")
    )
    assert sim_app.test_client().get("/simulator/static/simulator.js").status_code == 200


def test_its_json_endpoints_refuse_a_post_without_the_pages_token_or_from_elsewhere(
    browser: Browser, redis_conn: Redis
) -> None:
    token(browser)  # a session exists, but this post does not carry its token
    for path in ("/simulator/text", "/simulator/call"):
        assert (
            browser.post(path, {"from": TEXTER, "body": "hi", "action": "start"}).status_code == 400
        )
    csrf = token(browser)
    with browser.app.test_request_context():
        stale = simulator.token(now=time.time() - simulator.TOKEN_MAX_AGE - 60)
    for refused in (stale, csrf + "0", "", "."):
        response = browser.post("/simulator/call", {"action": "start", "from": TEXTER}, refused)
        assert response.status_code == 400
    cross = browser.client.post(
        "/simulator/call",
        json={"action": "start", "from": TEXTER},
        headers={"X-CSRFToken": csrf, "Origin": "http://evil.example"},
        base_url=browser.base,
    )
    assert cross.status_code == 400
    assert redis_conn.dbsize() == 0  # nothing reached the webhooks


def test_a_text_goes_through_the_signed_webhook_with_segment_counts(
    browser: Browser, redis_conn: Redis
) -> None:
    csrf = token(browser)
    answer = post(browser, "/simulator/text", {"from": TEXTER, "body": "hola ¿qué tal? 🙂"}, csrf)
    assert answer.status_code == 200, answer.data
    data = answer.get_json()
    assert data["sent"] == {"encoding": "UCS-2", "segments": 1}
    assert data["replies"] and all(r["encoding"] == "GSM-7" for r in data["replies"])
    assert all(r["segments"] >= 1 for r in data["replies"])
    assert list(data["cookies"]) == ["intake_sms"]  # kept for the next text, as Twilio does
    crisis = post(
        browser,
        "/simulator/text",
        {"from": TEXTER, "body": "I want to end my life", "cookies": data["cookies"]},
        csrf,
    ).get_json()
    assert "988" in crisis["replies"][0]["text"]
    work(redis_conn)
    [task] = tasks_for(browser, TEXTER)
    assert (task["kind"], task["priority"], task["crisis"]) == ("crisis", "urgent", "suicide")
    assert tasks_for(browser, "+17275550100") == []


def test_a_call_goes_step_by_step_and_a_hidden_caller_id_sees_its_own_tasks(
    browser: Browser, redis_conn: Redis
) -> None:
    csrf = token(browser)
    answer = post(
        browser, "/simulator/call", {"action": "start", "from": HIDDEN_CALLER_ID}, csrf
    ).get_json()
    assert answer["call"]["waiting"]["input"] == ["dtmf", "speech"]
    assert "9 1 1" in answer["steps"][0]["says"][0]["text"]
    for digits in ["2", "7275550100#"]:  # callback; a hidden caller ID types the number
        answer = post(
            browser,
            "/simulator/call",
            {"action": "press", "digits": digits.rstrip("#"), "call": answer["call"]},
            csrf,
        ).get_json()
    assert "best time" in answer["steps"][-1]["says"][0]["text"]
    answer = post(
        browser,
        "/simulator/call",
        {"action": "say", "speech": "I took too many pills", "call": answer["call"]},
        csrf,
    ).get_json()
    assert answer["steps"][0]["kind"] == "say" and "9 1 1" in answer["steps"][0]["text"]
    work(redis_conn)
    [task] = tasks_for(browser, HIDDEN_CALLER_ID)
    assert (task["kind"], task["channel"]) == ("crisis", "voice")


@pytest.mark.parametrize(
    "data",
    [
        {"action": "dance"},
        {"action": "press", "digits": "1; DROP", "call": {}},
        {"action": "press", "digits": "1"},
        {"action": "silence", "call": {"sid": "CA1"}},
    ],
)
def test_it_refuses_malformed_call_requests(browser: Browser, data: dict[str, Any]) -> None:
    assert post(browser, "/simulator/call", data, token(browser)).status_code == 400


def test_it_never_follows_a_url_outside_public_base_url(browser: Browser) -> None:
    csrf = token(browser)
    answer = post(browser, "/simulator/call", {"action": "start", "from": TEXTER}, csrf).get_json()
    state = answer["call"]
    state["waiting"]["action"] = "https://attacker.example.com/collect"
    refused = post(
        browser, "/simulator/call", {"action": "press", "digits": "1", "call": state}, csrf
    )
    assert refused.status_code == 502 and "outside" in refused.get_json()["error"]


def test_the_simulator_sends_as_whatsapp_without_segment_counts(
    browser: Browser, redis_conn: Redis
) -> None:
    """Issue 13: "Send as WhatsApp" posts From whatsapp:+1...; WhatsApp has no SMS segments."""
    csrf = token(browser)
    answer = post(
        browser, "/simulator/text", {"from": TEXTER, "body": "hi", "whatsapp": True}, csrf
    )
    assert answer.status_code == 200, answer.data
    data = answer.get_json()
    assert data["sent"] == {"encoding": "WhatsApp", "segments": None}
    assert all(r["encoding"] == "WhatsApp" and r["segments"] is None for r in data["replies"])
    assert "*OPIOIDS*" in data["replies"][-1]["text"]
    crisis = post(
        browser,
        "/simulator/text",
        {"from": TEXTER, "body": "I want to end my life", "whatsapp": True},
        csrf,
    ).get_json()
    assert "988" in crisis["replies"][0]["text"]
    work(redis_conn)
    [task] = tasks_for(browser, TEXTER)
    assert (task["kind"], task["channel"]) == ("crisis", "whatsapp")
    page = browser.get("/simulator").get_data(as_text=True)
    assert 'id="whatsapp"' in page and "Send as WhatsApp" in page
