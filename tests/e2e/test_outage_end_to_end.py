"""Redis stopped mid-conversation under the Procfile's real processes: nothing lost, nothing twice.

gunicorn and the rq worker run as the Procfile says; redis-server is stopped while people are
half-way through callback requests by text and by phone and while someone texts crisis words,
then started again on the same port. Twilio is played by signed HTTP requests that return the
SMS cookie as Twilio does, and follow each Gather's action URL.
"""

from __future__ import annotations

import re
import secrets
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from twilio.request_validator import RequestValidator

from intake.redis_server import RedisProcess, free_port, start_redis
from tests.support.stores import make_store
from tests.support.twilio_emulator import TwilioEmulator

from .support import base_env, sms_params, start_procfile, stop_group, wait_for_health
from .test_sms_end_to_end import START_TIMEOUT

ON_CALL = "+13125550101"
CALLBACK = ["hi", "CALL", "Sam", "YES", "evening", "ME", "NO", "YES", "YES"]
BEFORE_OUTAGE = 3  # messages sent while Redis is still up
CALLBACK_KEYS = ["2", "1", "3", "1", "2", "1", "1"]
CRISIS = "i want to kill myself"
N = 3  # callback requests by text, per run
REPLAY_DEADLINE = 10.0  # seconds after Redis is back
OUTAGE_SECONDS = 15.0  # at least: long enough for RQ's own reconnect backoff to reach 8 s


@dataclass
class Stack:
    """web and worker from the Procfile, a Redis that can be stopped, and a Twilio stand-in."""

    port: int
    workdir: Path
    env: dict[str, str]
    redis: RedisProcess
    redis_dir: Path
    twilio: TwilioEmulator
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    stopped_at: float = 0.0

    @property
    def public(self) -> str:
        return self.env["PUBLIC_BASE_URL"]  # https: what Twilio calls, through the proxy

    def logs(self) -> str:
        return "\n".join(
            f"--- {name} ---\n{(self.workdir / f'{name}.log').read_text(errors='replace')[-3000:]}"
            for name in self.processes
        )

    def post(self, path: str, form: dict[str, str], cookie: str = "") -> tuple[str, str]:
        """POST as Twilio does (signed for the public https URL); the body and any Set-Cookie."""
        signature = RequestValidator(self.env["TWILIO_AUTH_TOKEN"]).compute_signature(
            self.public + path, form
        )
        headers = {"X-Twilio-Signature": signature, "X-Forwarded-Proto": "https"}
        if cookie:
            headers["Cookie"] = cookie
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=urllib.parse.urlencode(form).encode(),
            headers=headers,
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=15) as resp:
            assert resp.status == 200, self.logs()
            set_cookie = resp.headers.get("Set-Cookie") or ""
            return resp.read().decode(), set_cookie

    def redis_conn(self) -> Redis:
        return Redis.from_url(self.redis.url)

    def stop_redis(self) -> None:
        self.redis.stop()
        self.stopped_at = time.monotonic()

    def start_redis(self) -> float:
        """Start Redis again on its port; returns how long it was down."""
        self.redis = start_redis(port=self.redis.port, data_dir=self.redis_dir, appendonly=True)
        return time.monotonic() - self.stopped_at


class Texter:
    """One person texting, with the cookie jar Twilio keeps for their From/To pair."""

    def __init__(self, stack: Stack, number: str) -> None:
        self.stack = stack
        self.number = number
        self.cookie = ""

    def text(self, body: str) -> list[str]:
        env = self.stack.env
        form = sms_params(body, self.number, env["TWILIO_PHONE_NUMBER"], env["TWILIO_ACCOUNT_SID"])
        xml, set_cookie = self.stack.post("/sms", form, self.cookie)
        if set_cookie:
            value = set_cookie.split(";", 1)[0]
            self.cookie = "" if value.endswith("=") or "Max-Age=0" in set_cookie else value
        return [same_but_numbers(m.text or "") for m in ET.fromstring(xml).iter("Message")]


class Caller:
    """One phone call, posting where each TwiML answer says to post next."""

    def __init__(self, stack: Stack, number: str) -> None:
        self.stack = stack
        self.number = number
        self.sid = "CA" + secrets.token_hex(16)
        self.next = "/voice"

    def post(self, **extra: str) -> list[str]:
        env = self.stack.env
        form = {
            "CallSid": self.sid,
            "AccountSid": env["TWILIO_ACCOUNT_SID"],
            "From": self.number,
            "To": env["TWILIO_PHONE_NUMBER"],
            "CallStatus": "in-progress",
            "Direction": "inbound",
        } | extra
        xml, _ = self.stack.post(self.next, form)
        root = ET.fromstring(xml)
        gathers = list(root.iter("Gather"))
        if gathers:
            url = urllib.parse.urlsplit(gathers[0].get("action") or "")
            self.next = f"{url.path}?{url.query}"
        return [same_but_numbers(s.text or "") for s in root.iter("Say")] + [root[-1].tag]


def same_but_numbers(text: str) -> str:
    """A reply with its digits blanked: people with different numbers get the same words."""
    return re.sub(r"\d", "#", text)


@pytest.fixture(scope="module")
def stack(
    session_settings_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    port = free_port()
    workdir = tmp_path_factory.mktemp("outage")
    redis_dir = workdir / "redis"
    twilio = TwilioEmulator(
        session_settings_env["TWILIO_ACCOUNT_SID"], session_settings_env["TWILIO_AUTH_TOKEN"]
    )
    with twilio:
        redis = start_redis(data_dir=redis_dir, appendonly=True)  # a restart keeps its data
        env = {
            **base_env(workdir),
            **session_settings_env,
            "REDIS_URL": redis.url,
            "PORT": str(port),
            # Twilio reaches the app over https through a proxy (X-Forwarded-Proto)
            "PUBLIC_BASE_URL": f"https://127.0.0.1:{port}",
            "TRUSTED_PROXIES": "1",
            "TWILIO_API_BASE_URL": twilio.url,
            "STAFF_NOTIFY_NUMBERS": ON_CALL,
            "REDIS_TIMEOUT_SECONDS": "1",
        }
        running = Stack(port, workdir, env, redis, redis_dir, twilio)
        try:
            start_procfile(workdir, env, running.processes)
            wait_for_health(
                f"http://127.0.0.1:{running.port}", running.processes, running.logs, START_TIMEOUT
            )
            yield running
        finally:
            for process in running.processes.values():
                stop_group(process)
            running.redis.stop()


def numbers(first: int, count: int) -> list[str]:
    return [f"+1312555{first + i:04d}" for i in range(count)]


def run(stack: Stack, texters: list[str], caller: str, crisis: str, outage: bool) -> dict[str, Any]:
    """N callback texts, one callback call and crisis words; Redis stops part-way if `outage`."""
    people = [Texter(stack, n) for n in texters]
    call = Caller(stack, caller)
    replies: dict[str, Any] = {n: [] for n in [*texters, caller, crisis]}
    for person in people:
        replies[person.number] += [person.text(b) for b in CALLBACK[:BEFORE_OUTAGE]]
    replies[caller].append(call.post())
    if outage:
        stack.stop_redis()
    for person in people:
        replies[person.number] += [person.text(b) for b in CALLBACK[BEFORE_OUTAGE:]]
    replies[caller] += [call.post(Digits=k) for k in CALLBACK_KEYS]
    replies[crisis].append(Texter(stack, crisis).text(CRISIS))
    return replies


def wait_for(check: Any, timeout: float, what: str, stack: Stack) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = check()
        except OSError:
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout} s\n{stack.logs()}")
        time.sleep(0.1)


def test_a_redis_outage_loses_no_request_and_doubles_none(stack: Stack) -> None:
    # with Redis up all along: what each person should hear
    expected = run(stack, numbers(100, N), "+13125550200", "+13125550300", outage=False)
    wait_for(lambda: len(make_store(stack.redis_conn()).list_tasks()) == N + 2, 20, "tasks", stack)

    texters, caller, crisis = numbers(400, N), "+13125550500", "+13125550600"
    got = run(stack, texters, caller, crisis, outage=True)
    assert list(got.values()) == list(expected.values())
    while time.monotonic() < stack.stopped_at + OUTAGE_SECONDS:  # the fault lasts this long
        time.sleep(0.1)

    outage_length = stack.start_redis()
    back = time.monotonic()

    def all_tasks() -> list[Any]:
        tasks = make_store(stack.redis_conn()).list_tasks()
        return tasks if len(tasks) >= 2 * (N + 2) else []

    tasks = wait_for(all_tasks, REPLAY_DEADLINE, "every task", stack)
    took = time.monotonic() - back
    mine = [t for t in tasks if t.from_number in {*texters, caller, crisis}]
    assert sorted(t.from_number for t in mine) == sorted([*texters, caller, crisis])
    assert len(tasks) == 2 * (N + 2)  # exactly once each
    [urgent] = [t for t in mine if t.priority == "urgent"]
    assert urgent.kind == "crisis" and urgent.from_number == crisis

    # staff told of each task exactly once; the caller who allowed texts confirmed once
    def notified() -> bool:
        return all(
            len([r for r in stack.twilio.sent_to(ON_CALL) if t.id in r.body]) >= 1 for t in mine
        )

    wait_for(notified, 20, "staff texts", stack)
    wait_for(lambda: stack.twilio.sent_to(caller), 20, "caller confirmation", stack)
    wait_for(lambda: rq_idle(stack.redis_conn()), 20, "empty queues", stack)
    for t in mine:
        assert len([r for r in stack.twilio.sent_to(ON_CALL) if t.id in r.body]) == 1
    assert len(stack.twilio.sent_to(caller)) == 1
    print(f"outage {outage_length:.1f} s; all {len(mine)} tasks stored {took:.1f} s after restart")


def rq_idle(conn: Redis) -> bool:
    """No job waiting in the queues (escalations are scheduled minutes ahead)."""
    from intake.queues import JobQueue
    from intake.store import DEFAULT_QUEUE, URGENT_QUEUE

    return all(JobQueue(name, connection=conn).count == 0 for name in (URGENT_QUEUE, DEFAULT_QUEUE))
