"""Redis round trips per webhook request (issue 10): at most 2 on the common path.

Counted on the app's own connection pool: one round trip is one packet of commands written to
Redis and answered (a single command, a pipeline, a MULTI/EXEC, a script). docs/performance.md
lists the figures asserted here.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Connection, Redis
from werkzeug.test import TestResponse

from intake.config import Settings
from intake.store import DEFAULT_QUEUE

from .conftest import TEXTER, sign, twilio_sms_params
from .test_voice import Call, said

TRIPS: list[str] = []


class CountingConnection(Connection):
    """A redis-py connection that notes each packet it sends (one per round trip)."""

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        TRIPS.append(repr(command)[:80])
        super().send_packed_command(command, check_health)


@pytest.fixture
def counted(app: Flask) -> Iterator[Callable[[Callable[[], object]], int]]:
    """`counted(fn)`: the round trips the app made to Redis while fn ran."""
    pool = app.extensions["intake"].redis.connection_pool
    pool.disconnect()
    pool.connection_class = CountingConnection

    def count(fn: Callable[[], object]) -> int:
        TRIPS.clear()
        fn()
        return len(TRIPS)

    yield count
    TRIPS.clear()


@pytest.fixture
def sms(client: FlaskClient, settings: Settings) -> Callable[..., TestResponse]:
    def send(body: str, sid: str | None = None, from_: str = TEXTER) -> TestResponse:
        params = twilio_sms_params(body, from_, sid)
        response = client.post(
            "/sms", data=params, headers={"X-Twilio-Signature": sign(settings, "/sms", params)}
        )
        assert response.status_code == 200
        return response

    return send


def test_it_takes_two_round_trips_per_text(
    counted: Callable[..., int], sms: Callable[..., TestResponse]
) -> None:
    sms("hi", from_="+13125550100")  # connects (and loads the script) outside the counts
    assert counted(lambda: sms("hi")) == 2  # a new conversation
    assert counted(lambda: sms("OPIOIDS")) == 2  # a topic
    assert counted(lambda: sms("MENU")) == 2


def test_it_takes_two_round_trips_per_whatsapp_message(
    counted: Callable[..., int], sms: Callable[..., TestResponse]
) -> None:
    """The time the person wrote (WhatsApp's 24-hour window) rides in the closing MULTI."""
    sms("hi", from_="whatsapp:+13125550100")
    assert counted(lambda: sms("hi", from_=f"whatsapp:{TEXTER}")) == 2
    assert counted(lambda: sms("OPIOIDS", from_=f"whatsapp:{TEXTER}")) == 2


def test_it_takes_one_round_trip_for_a_repeated_text(
    counted: Callable[..., int], sms: Callable[..., TestResponse]
) -> None:
    sms("hi", sid="SM" + "1" * 32)
    assert counted(lambda: sms("hi", sid="SM" + "1" * 32)) == 1


def test_it_takes_two_round_trips_for_the_step_that_queues_a_callback(
    counted: Callable[..., int], sms: Callable[..., TestResponse], redis_conn: Redis
) -> None:
    script = ["hi", "CALL", "Sam", "YES", "evening", "ME", "NO", "YES", "YES"]
    for body in script:  # RQ asks the server's version (INFO) once per process: not counted
        sms(body, from_="+13125550100")
    for body in script[:-1]:
        sms(body)
    assert counted(lambda: sms("YES")) == 2  # the task staged and its job queued in the MULTI
    assert redis_conn.llen(f"rq:queue:{DEFAULT_QUEUE}") == 2


def test_it_takes_two_round_trips_to_opt_out(
    counted: Callable[..., int], sms: Callable[..., TestResponse]
) -> None:
    sms("hi")
    assert counted(lambda: sms("STOP")) == 2


def test_it_takes_two_round_trips_per_call_step(
    counted: Callable[..., int], client: FlaskClient, settings: Settings
) -> None:
    Call(client, settings, caller="+13125550100").start()  # connects outside the counts
    call = Call(client, settings)
    answers: list[ET.Element] = []
    assert counted(lambda: answers.append(call.start())) == 2
    [gather] = list(answers[-1].iter("Gather"))
    url = urlsplit(gather.get("action") or "")
    press = f"{url.path}?{url.query}"
    assert counted(lambda: answers.append(call.post(press, Digits="1"))) == 2
    # Twilio posts the same step again: the same answer, one round trip, nothing done.
    assert counted(lambda: answers.append(call.post(press, Digits="1"))) == 1
    assert said(answers[-1]) == said(answers[-2])
