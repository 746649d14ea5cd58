"""Redis stops mid-conversation: texts and calls go on, tasks wait in the spool, then arrive once.

A private redis-server per test is stopped and started again on the same port, as an outage
does; the app under test never knows beforehand.
"""

from __future__ import annotations

import logging
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis

from intake import create_app
from intake.config import Settings
from intake.redis_server import RedisProcess, start_redis
from tests.support.stores import make_store
from tests.support.worker import work

from .conftest import TEXTER, replies, sign, twilio_sms_params
from .test_voice import Call, said

CALLBACK = ["hi", "CALL", "Sam", "YES", "evening", "ME", "NO", "YES", "YES"]
CALLBACK_KEYS = ["2", "1", "3", "1", "2", "1", "1"]  # callback, this number, evening, ... confirm


@dataclass
class Outage:
    """A Redis that can be stopped and started again on the same port, and an app using it."""

    redis: RedisProcess
    app: Flask
    client: FlaskClient
    settings: Settings
    data_dir: Path

    def stop(self) -> None:
        self.redis.stop()

    def start(self) -> None:
        self.redis = start_redis(port=self.redis.port, data_dir=self.data_dir)

    def conn(self) -> Redis:
        return Redis.from_url(self.redis.url)

    def spool_pending(self) -> bool:
        return bool(self.app.extensions["intake"].conversations.spool.pending())


@pytest.fixture
def outage(settings: Settings, tmp_path: Path) -> Iterator[Outage]:
    data_dir = tmp_path / "redis"
    redis = start_redis(data_dir=data_dir)
    own = replace(settings, redis_url=redis.url, spool_dir=tmp_path / "spool")
    app = create_app(own)
    running = Outage(redis, app, app.test_client(), own, data_dir)
    try:
        yield running
    finally:
        running.redis.stop()


def text_on(client: FlaskClient, settings: Settings, body: str) -> list[str]:
    params = twilio_sms_params(body, TEXTER)
    response = client.post(
        "/sms", data=params, headers={"X-Twilio-Signature": sign(settings, "/sms", params)}
    )
    assert response.status_code == 200, response.data
    return replies(response.data)


def wait_for_replay(outage: Outage, timeout: float = 10.0) -> None:
    """The drainer thread empties the spool once Redis answers."""
    deadline = time.monotonic() + timeout
    while outage.spool_pending():
        assert time.monotonic() < deadline, "the spool was not replayed in time"
        time.sleep(0.1)


def test_an_sms_callback_finished_during_an_outage_arrives_once(
    outage: Outage, client: FlaskClient, settings: Settings, redis_conn: Redis
) -> None:
    expected = [text_on(client, settings, body) for body in CALLBACK]  # Redis up all along

    got = [text_on(outage.client, outage.settings, body) for body in CALLBACK[:3]]
    outage.stop()
    got += [text_on(outage.client, outage.settings, body) for body in CALLBACK[3:]]

    assert got == expected  # the same replies, word for word
    assert outage.spool_pending()
    spooled = (outage.settings.spool_dir / "spool.log").read_bytes()
    assert b"Sam" not in spooled and TEXTER.encode() not in spooled and b"evening" not in spooled

    outage.start()
    wait_for_replay(outage)
    conn = outage.conn()
    work(conn)
    [task] = make_store(conn).list_tasks()
    assert (task.kind, task.name, task.best_time, task.callback_number) == (
        "callback",
        "Sam",
        "evening",
        TEXTER,
    )


def test_crisis_words_get_the_crisis_answer_and_an_urgent_task_without_redis(
    outage: Outage, client: FlaskClient, settings: Settings
) -> None:
    expected = text_on(client, settings, "i want to kill myself")
    outage.stop()

    got = text_on(outage.client, outage.settings, "i want to kill myself")

    assert got == expected and any("988" in m for m in got)
    outage.start()
    wait_for_replay(outage)
    conn = outage.conn()
    work(conn)
    [task] = make_store(conn).list_tasks()
    assert (task.kind, task.priority) == ("crisis", "urgent")


def test_a_replayed_spool_makes_each_task_once(outage: Outage) -> None:
    outage.stop()
    text_on(outage.client, outage.settings, "i want to kill myself")
    spool = outage.app.extensions["intake"].conversations.spool
    copy = spool.path.read_bytes()
    outage.start()
    wait_for_replay(outage)
    spool.path.write_bytes(copy)  # as if the web process died before emptying the file

    assert spool.replay(outage.app.extensions["intake"].conversations.replay) == 1
    conn = outage.conn()
    work(conn)
    assert len(make_store(conn).list_tasks()) == 1


def test_a_torn_spool_line_is_set_aside_not_dropped_silently(outage: Outage) -> None:
    outage.stop()
    text_on(outage.client, outage.settings, "i want to kill myself")
    spool = outage.app.extensions["intake"].conversations.spool
    with spool.path.open("ab") as f:
        f.write(b"gAAAAAB-torn-by-a-crash")  # a write cut short, no newline
    outage.start()
    wait_for_replay(outage)

    assert (spool.directory / "spool.rejected").read_bytes() == b"gAAAAAB-torn-by-a-crash\n"
    work(outage.conn())
    assert len(make_store(outage.conn()).list_tasks()) == 1


def test_an_sms_cookie_from_another_number_or_altered_is_ignored(
    outage: Outage, client: FlaskClient, settings: Settings
) -> None:
    text_on(outage.client, outage.settings, "hi")
    text_on(outage.client, outage.settings, "CALL")
    cookie = outage.client.get_cookie("intake_sms", path="/sms")
    assert cookie is not None and cookie.secure and cookie.http_only
    outage.stop()
    outage.client.set_cookie("intake_sms", cookie.value[:-4] + "AAAA", path="/sms")

    welcome = text_on(client, settings, "Sam")  # a first message, with Redis up
    assert text_on(outage.client, outage.settings, "Sam") == welcome


def follow(call: Call, twiml: ET.Element, **form: str) -> ET.Element:
    """Post to the URL Twilio was told to use next (the Gather's action), as Twilio does."""
    [gather] = list(twiml.iter("Gather"))
    url = urlsplit(gather.get("action") or "")
    return call.post(f"{url.path}?{url.query}", **form)


def test_a_call_finishes_its_callback_request_while_redis_is_down(
    outage: Outage, client: FlaskClient, settings: Settings
) -> None:
    reference = Call(client, settings)
    expected = [said(reference.start())]
    twiml = reference.start()
    for key in CALLBACK_KEYS:
        twiml = follow(reference, twiml, Digits=key)
        expected.append(said(twiml))

    call = Call(outage.client, outage.settings)
    twiml = call.start()
    got = [said(twiml)]
    outage.stop()
    for key in CALLBACK_KEYS:
        twiml = follow(call, twiml, Digits=key)
        got.append(said(twiml))

    assert got == expected
    assert twiml[-1].tag == "Hangup"
    outage.start()
    wait_for_replay(outage)
    conn = outage.conn()
    work(conn)
    [task] = make_store(conn).list_tasks()
    assert (task.channel, task.best_time, task.callback_number) == ("voice", "evening", call.caller)


def test_the_voice_session_in_the_url_stays_short(outage: Outage) -> None:
    call = Call(outage.client, outage.settings)
    twiml = call.start()
    longest = 0
    for key in ["2", "2"]:  # another number: the longest session, with typed digits
        twiml = follow(call, twiml, Digits=key)
    twiml = follow(call, twiml, Digits="3125550123")
    for key in CALLBACK_KEYS[2:-1]:
        [gather] = list(twiml.iter("Gather"))
        longest = max(longest, len(gather.get("action") or ""))
        twiml = follow(call, twiml, Digits=key)
    assert 0 < longest < 1000  # Twilio allows URLs of up to 4,000 characters


def test_a_repeated_voice_request_is_answered_the_same_and_processed_once(
    outage: Outage, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="intake.conversation")
    call = Call(outage.client, outage.settings)
    first = call.start()
    assert said(call.start()) == said(first)  # Twilio retried the first request
    twiml = first
    for key in CALLBACK_KEYS[:-1]:
        twiml = follow(call, twiml, Digits=key)
    last = follow(call, twiml, Digits=CALLBACK_KEYS[-1])
    again = follow(call, twiml, Digits=CALLBACK_KEYS[-1])  # the confirming key, delivered twice

    assert said(again) == said(last) and last[-1].tag == again[-1].tag == "Hangup"
    assert caplog.text.count("repeated delivery, not processed again") == 2
    conn = outage.conn()
    work(conn)
    assert len(make_store(conn).list_tasks()) == 1
