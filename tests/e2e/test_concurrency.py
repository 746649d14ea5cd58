"""Concurrent and repeated webhooks through gunicorn as the Procfile runs it (2 x 4 threads).

- The same webhook delivered twice at once (same MessageSid; same CallSid and step) is processed
  once.
- 50 messages from one number at once: each processed exactly once, none lost, and the replies
  and the final session are those of some serial order of the 50.
- 200 numbers at once: each conversation gets its own replies and keeps its own session.

Expected replies come from the engine itself, run in this process on the same flow (the
messages are keywords, a language switch and a name: rules read them, the classifier plays no
part, so it is not trained here).
"""

from __future__ import annotations

import secrets
import subprocess
import threading
import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TypeVar

import pytest
from redis import Redis

from intake.app import load_flow
from intake.config import Settings
from intake.flow import engine
from intake.flow import events as ev
from intake.flow.engine import Flow, Session, Trigger, UserInput
from intake.redis_server import RedisProcess, free_port, start_redis
from intake.store import Store
from tests.support.stores import make_store
from tests.support.twilio_emulator import TwilioEmulator

from .support import (
    base_env,
    post_form,
    sms_params,
    start_procfile,
    stop_group,
    wait_for_health,
)
from .test_sms_end_to_end import START_TIMEOUT

ON_CALL = "+13125550101"
TOPICS = ["OPIOIDS", "EFFECTS", "DEPRESSION", "ANXIETY", "TREATMENT", "DUAL", "MENU"]
SWITCHES = ["ESPAÑOL", "ENGLISH"]
NUMBERS = 200
T = TypeVar("T")


@dataclass
class Stack:
    """gunicorn and the rq worker from the Procfile, their Redis and a Twilio stand-in."""

    base_url: str
    workdir: Path
    env: dict[str, str]
    redis: RedisProcess
    twilio: TwilioEmulator
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def logs(self) -> str:
        return "\n".join(
            f"--- {name} ---\n{(self.workdir / f'{name}.log').read_text(errors='replace')[-3000:]}"
            for name in self.processes
        )

    def post(self, url: str, form: dict[str, str]) -> str:
        """POST signed as Twilio signs `url`; the TwiML."""
        status, xml = post_form(url, form, self.env["TWILIO_AUTH_TOKEN"])
        assert status == 200, f"{status} {xml}\n{self.logs()}"
        return xml

    def text(self, number: str, body: str, sid: str = "") -> list[str]:
        """One inbound SMS (with `sid` as its MessageSid when given); the reply texts."""
        form = sms_params(
            body, number, self.env["TWILIO_PHONE_NUMBER"], self.env["TWILIO_ACCOUNT_SID"]
        )
        if sid:
            form["MessageSid"] = form["SmsSid"] = sid
        root = ET.fromstring(self.post(self.base_url + "/sms", form))
        return [m.text or "" for m in root.iter("Message")]

    def store(self) -> Store:
        return make_store(Redis.from_url(self.redis.url))


@pytest.fixture(scope="module")
def stack(
    session_settings_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    port = free_port()
    workdir = tmp_path_factory.mktemp("concurrency")
    twilio = TwilioEmulator(
        session_settings_env["TWILIO_ACCOUNT_SID"], session_settings_env["TWILIO_AUTH_TOKEN"]
    )
    with start_redis() as redis, twilio:
        env = {
            **base_env(workdir),
            **session_settings_env,
            "REDIS_URL": redis.url,
            "PORT": str(port),
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "TWILIO_API_BASE_URL": twilio.url,
            "STAFF_NOTIFY_NUMBERS": ON_CALL,
            # 50 texts from one number inside a minute is the point here, not a flood to limit
            # (the limit has its own tests in tests/web/test_rate_limit.py)
            "INBOUND_LIMIT_PER_MINUTE": "0",
        }
        running = Stack(f"http://127.0.0.1:{port}", workdir, env, redis, twilio)
        try:
            start_procfile(workdir, env, running.processes)
            wait_for_health(running.base_url, running.processes, running.logs, START_TIMEOUT)
            yield running
        finally:
            for process in running.processes.values():
                stop_group(process)


@pytest.fixture(scope="module")
def flow(stack: Stack) -> Flow:
    return load_flow(Settings.from_env(stack.env), train=False)


def numbers(first: int, count: int) -> list[str]:
    return [f"+1312555{first + i:04d}" for i in range(count)]


# --- the engine as the oracle ------------------------------------------------------------


def step(flow: Flow, session: Session | None, number: str, body: str) -> tuple[Session, list[str]]:
    """What the app does with one text, without Redis: the session after and the replies."""
    now = datetime.now(UTC)
    if session is None:
        trigger = Trigger(channel="sms", contact=number, now=now)
        moved, events = engine.start(flow, trigger, UserInput(text=body))
    else:
        moved, events = engine.resume(flow, session, UserInput(text=body), now)
    assert not any(isinstance(e, ev.SessionEnded) for e in events), body
    return moved, [e.text for e in events if isinstance(e, (ev.MessageSent, ev.SnippetSent))]


def serial(flow: Flow, number: str, bodies: list[str]) -> tuple[Session | None, list[list[str]]]:
    session, replies = None, []
    for body in bodies:
        session, said = step(flow, session, number, body)
        replies.append(said)
    return session, replies


def at_once(calls: list[Callable[[], T]]) -> list[T]:
    """Run each call in its own thread, all released together; their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


class ProcessingOrder(threading.Thread):
    """The MessageSids in the order the app marked them seen, read with Redis's MONITOR.

    The mark is the first thing a step does under the number's lock, so for one number this is
    the order in which its messages were processed.
    """

    def __init__(self, redis_url: str, count: int) -> None:
        super().__init__(daemon=True)
        self.conn = Redis.from_url(redis_url, socket_timeout=60)
        self.count = count
        self.sids: list[str] = []
        self.monitor = self.conn.monitor().__enter__()  # watching from here on

    def run(self) -> None:
        try:
            while len(self.sids) < self.count:
                command = self.monitor.next_command()["command"]
                if command.startswith("SET intake:seen:"):
                    self.sids.append(command.split()[1].rsplit(":", 1)[1])
        finally:
            self.monitor.__exit__()
            self.conn.close()


# --- the tests -----------------------------------------------------------------------------


def test_the_same_text_delivered_twice_at_once_is_processed_once(stack: Stack, flow: Flow) -> None:
    number = "+13125550701"
    bodies = ["hi", "CALL", "Sam", "YES", "evening", "ME", "NO", "YES", "YES"]
    _, expected = serial(flow, number, bodies[:-1])
    for body, said in zip(bodies, [*expected, None], strict=True):
        sid = "SM" + secrets.token_hex(16)
        both = at_once([partial(stack.text, number, body, sid)] * 2)
        # one of the two is answered, the other (the repeat) gets an empty answer
        assert sorted(both, key=len) == [[], both[0] or both[1]], (body, both)
        if said is not None:
            assert (both[0] or both[1]) == said, body

    wait = time.monotonic() + 20
    while not (mine := [t for t in stack.store().list_tasks() if t.from_number == number]):
        assert time.monotonic() < wait, stack.logs()
        time.sleep(0.2)
    time.sleep(1)  # a second task, if any, would be queued by now
    [task] = [t for t in stack.store().list_tasks() if t.from_number == number]
    assert (task.name, task.best_time, task.text_ok) == ("Sam", "evening", True)
    assert mine == [task]


def voice_form(stack: Stack, call_sid: str, number: str, **extra: str) -> dict[str, str]:
    return {
        "CallSid": call_sid,
        "AccountSid": stack.env["TWILIO_ACCOUNT_SID"],
        "From": number,
        "To": stack.env["TWILIO_PHONE_NUMBER"],
        "CallStatus": "in-progress",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    } | extra


def spoken(xml: str) -> tuple[list[str], str, str]:
    """What the caller hears, the last verb, and where the next key press goes."""
    root = ET.fromstring(xml)
    gathers = list(root.iter("Gather"))
    action = gathers[0].get("action", "") if gathers else ""
    return [s.text or "" for s in root.iter("Say")], root[-1].tag, action


def test_the_same_call_step_delivered_twice_at_once_is_processed_once(stack: Stack) -> None:
    number, call_sid = "+13125550702", "CA" + secrets.token_hex(16)
    url = stack.base_url + "/voice"
    # callback, this number, evening, for me, no voicemail, texts ok, confirm
    for digits in ["", "2", "1", "3", "1", "2", "1", "1"]:
        form = voice_form(stack, call_sid, number, **({"Digits": digits} if digits else {}))
        first, second = [spoken(x) for x in at_once([partial(stack.post, url, form)] * 2)]
        assert first[:2] == second[:2], digits  # the same words, however often asked
        path = urllib.parse.urlsplit(first[2])
        url = f"{stack.base_url}{path.path}?{path.query}" if path.path else url
    assert first[1] == "Hangup"

    wait = time.monotonic() + 20
    while not stack.twilio.sent_to(number):  # the caller's confirmation: the last delivery
        assert time.monotonic() < wait, stack.logs()
        time.sleep(0.2)
    time.sleep(1)
    [task] = [t for t in stack.store().list_tasks() if t.from_number == number]
    assert (task.channel, task.best_time, task.text_ok) == ("voice", "evening", True)
    assert len(stack.twilio.sent_to(number)) == 1
    assert len([r for r in stack.twilio.sent_to(ON_CALL) if task.id in r.body]) == 1


def test_fifty_texts_at_once_from_one_number_are_handled_one_after_another(
    stack: Stack, flow: Flow
) -> None:
    number = "+13125550703"
    bodies = {"SM" + secrets.token_hex(16): (TOPICS + SWITCHES)[i % 9] for i in range(50)}
    order = ProcessingOrder(stack.redis.url, len(bodies))
    order.start()
    started = time.monotonic()
    replies = at_once([partial(stack.text, number, body, sid) for sid, body in bodies.items()])
    took = time.monotonic() - started
    order.join(timeout=30)

    got = dict(zip(bodies, replies, strict=True))
    assert sorted(order.sids) == sorted(bodies)  # each processed, and once
    # the replies and the session are exactly those of these texts, one by one, in that order
    final, expected = serial(flow, number, [bodies[sid] for sid in order.sids])
    assert [got[sid] for sid in order.sids] == expected
    kept = stack.store().load_session("sms", number)
    assert final is not None and kept is not None
    assert (kept.state, kept.language, kept.topics, kept.fields) == (
        final.state,
        final.language,
        final.topics,
        final.fields,
    )
    assert set(kept.topics) == {"opioids", "effects", "depression", "anxiety", "treatment", "dual"}
    print(f"\n50 texts from one number at once: all answered in {took:.2f} s")


def test_two_hundred_numbers_at_once_each_keep_their_own_conversation(
    stack: Stack, flow: Flow
) -> None:
    people = numbers(1000, NUMBERS)
    script = {
        n: [SWITCHES[0] if i % 2 else "hi", TOPICS[i % 6], "CALL", f"Name{i}"]
        for i, n in enumerate(people)
    }
    expected = {n: serial(flow, n, bodies) for n, bodies in script.items()}

    def converse(number: str) -> list[list[str]]:
        return [stack.text(number, body) for body in script[number]]

    started = time.monotonic()
    got = dict(zip(people, at_once([partial(converse, n) for n in people]), strict=True))
    took = time.monotonic() - started

    store = stack.store()
    for i, number in enumerate(people):
        session, replies = expected[number]
        assert got[number] == replies, number  # the number each is asked about is its own
        assert session is not None
        kept = store.load_session("sms", number)
        assert kept is not None and kept.contact == number
        assert (kept.state, kept.language, kept.topics, kept.fields.get("name")) == (
            session.state,
            session.language,
            session.topics,
            f"Name{i}",
        )
    requests = NUMBERS * len(next(iter(script.values())))
    print(f"\n{NUMBERS} numbers x 4 texts at once: {requests} requests in {took:.1f} s")


def test_it_answered_every_request_without_an_error(stack: Stack) -> None:
    logs = stack.logs()
    assert "Traceback" not in logs and " ERROR " not in logs, logs
