"""The Procfile's web and worker as real processes, a private Redis, and Twilio-signed HTTP.

Both channels share one running stack, so each test looks only at its own channel's tasks.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from intake.redis_server import free_port, start_redis
from tests.support.twilio_emulator import TwilioEmulator

from .support import (
    base_env,
    post_form,
    sms_params,
    start_procfile,
    stop_group,
    twiml_messages,
    wait_for_health,
)

TEXTER = "+13125550142"
ON_CALL = "+13125550101"
START_TIMEOUT = 60.0
TASK_TIMEOUT = 20.0


@dataclass
class Stack:
    """The running web and worker, and how to reach them."""

    base_url: str
    workdir: Path
    env: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]]
    twilio: TwilioEmulator

    def logs(self) -> str:
        return "\n".join(
            f"--- {name} ---\n{(self.workdir / f'{name}.log').read_text(errors='replace')[-4000:]}"
            for name in self.processes
        )

    def text(self, body: str) -> list[str]:
        """Send one SMS as Twilio would; return the reply messages."""
        params = sms_params(
            body, TEXTER, self.env["TWILIO_PHONE_NUMBER"], self.env["TWILIO_ACCOUNT_SID"]
        )
        status, xml = post_form(self.base_url + "/sms", params, self.env["TWILIO_AUTH_TOKEN"])
        assert status == 200, f"{xml}\n{self.logs()}"
        return twiml_messages(xml)

    def tasks(self) -> list[dict[str, Any]]:
        """What `intake tasks list --json` prints."""
        result = subprocess.run(
            [sys.executable, "-m", "intake.cli", "tasks", "list", "--json"],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0, result.stderr
        tasks: list[dict[str, Any]] = json.loads(result.stdout)
        return tasks


@pytest.fixture(scope="module")
def stack(
    session_settings_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    port = free_port()
    workdir = tmp_path_factory.mktemp("e2e")  # no .env here: only the settings below count
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
            "TWILIO_API_BASE_URL": twilio.url,  # the worker texts staff and callers here
            "STAFF_NOTIFY_NUMBERS": ON_CALL,
        }
        running = Stack(f"http://127.0.0.1:{port}", workdir, env, {}, twilio)
        try:
            start_procfile(workdir, env, running.processes)
            wait_for_health(running.base_url, running.processes, running.logs, START_TIMEOUT)
            yield running
        finally:
            for process in running.processes.values():
                stop_group(process)


def test_it_turns_an_sms_conversation_into_a_callback_task(stack: Stack) -> None:
    for body in ["hi", "CALL", "Sam", "YES", "evening", "ME", "NO", "YES", "YES"]:
        assert stack.text(body), f"no reply to {body!r}\n{stack.logs()}"

    [task] = wait_for_tasks(stack, "sms")
    assert set(task) == {
        "id",
        "kind",
        "priority",
        "status",
        "created_at",
        "channel",
        "language",
        "from_number",
        "callback_number",
        "name",
        "best_time",
        "best_time_window",
        "for_whom",
        "voicemail_ok",
        "text_ok",
        "topics",
    }
    assert isinstance(task["id"], str) and task["id"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", task["created_at"])
    assert {k: v for k, v in task.items() if k not in ("id", "created_at")} == {
        "kind": "callback",
        "priority": "normal",
        "status": "new",
        "channel": "sms",
        "language": "en",
        "from_number": TEXTER,
        "callback_number": TEXTER,
        "name": "Sam",
        "best_time": "evening",
        "best_time_window": "evening",
        "for_whom": "self",
        "voicemail_ok": False,
        "text_ok": True,
        "topics": [],
    }
    # the worker told the on-call phone that a task exists, and nothing personal
    [note] = wait_for_texts(stack, ON_CALL, task["id"])
    assert f"/staff/tasks/{task['id']}" in note.body
    for secret in (TEXTER, TEXTER[2:], "Sam", "evening"):
        assert secret not in note.body


def wait_for_texts(stack: Stack, number: str, containing: str) -> list[Any]:
    """Texts the worker sent through the Twilio emulator to `number` that mention `containing`."""
    deadline = time.monotonic() + TASK_TIMEOUT
    while time.monotonic() < deadline:
        found = [r for r in stack.twilio.sent_to(number) if containing in r.body]
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no text to {number} about {containing}\n{stack.logs()}")


def wait_for_tasks(stack: Stack, channel: str) -> list[dict[str, Any]]:
    """Poll `intake tasks list --json` until the worker has written a task for `channel`."""
    deadline = time.monotonic() + TASK_TIMEOUT
    tasks = [t for t in stack.tasks() if t["channel"] == channel]
    while not tasks and time.monotonic() < deadline:
        time.sleep(0.25)
        tasks = [t for t in stack.tasks() if t["channel"] == channel]
    assert len(tasks) == 1, f"{tasks}\n{stack.logs()}"
    return tasks


def test_it_turns_a_phone_call_into_a_voice_task(stack: Stack) -> None:
    caller = "+13125550143"
    call_sid = "CA" + secrets.token_hex(16)
    common = {
        "CallSid": call_sid,
        "AccountSid": stack.env["TWILIO_ACCOUNT_SID"],
        "From": caller,
        "To": stack.env["TWILIO_PHONE_NUMBER"],
        "CallStatus": "in-progress",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }

    def post(path: str, **extra: str) -> ET.Element:
        status, xml = post_form(
            stack.base_url + path, common | extra, stack.env["TWILIO_AUTH_TOKEN"]
        )
        assert status == 200, f"{xml}\n{stack.logs()}"
        return ET.fromstring(xml)

    greeting = post("/voice")
    assert "9 1 1" in ET.tostring(greeting, encoding="unicode")
    # callback, this number, evening, for me, no voicemail, texts ok, confirm
    for digits in ["2", "1", "3", "1", "2", "1"]:
        assert list(post("/voice/input", Digits=digits).iter("Gather")), digits
    done = post("/voice/input", Digits="1")
    assert done[-1].tag == "Hangup"

    [task] = wait_for_tasks(stack, "voice")
    assert {k: v for k, v in task.items() if k not in ("id", "created_at")} == {
        "kind": "callback",
        "priority": "normal",
        "status": "new",
        "channel": "voice",
        "language": "en",
        "from_number": caller,
        "callback_number": caller,
        "name": None,
        "best_time": "evening",
        "best_time_window": "evening",
        "for_whom": "self",
        "voicemail_ok": False,
        "text_ok": True,
        "topics": [],
    }
    # texts were allowed: the worker confirmed by SMS, and on-call staff heard of the task
    [confirmation] = wait_for_texts(stack, caller, "admissions")
    assert "5 PM to 9 PM" in confirmation.body  # the evening, in our words
    wait_for_texts(stack, ON_CALL, task["id"])


def test_intake_chat_texts_the_running_app_like_twilio(stack: Stack) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "intake.cli", "chat", "--from", "+13125550144"],
        input="hi\nOPIOIDS\n",
        cwd=stack.workdir,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    replies = [line for line in result.stdout.splitlines() if line.startswith("bot> ")]
    assert any("Reply STOP to opt out" in r for r in replies), result.stdout
    assert any("receptors" in r for r in replies), result.stdout


def test_it_refuses_a_wrong_signature(stack: Stack) -> None:
    params = sms_params(
        "hi", TEXTER, stack.env["TWILIO_PHONE_NUMBER"], stack.env["TWILIO_ACCOUNT_SID"]
    )
    status, body = post_form(
        stack.base_url + "/sms",
        params,
        stack.env["TWILIO_AUTH_TOKEN"],
        signature="bm90IGEgc2lnbmF0dXJl",
    )
    assert status == 403, body


def test_it_trains_the_classifier_once_before_the_workers_boot(stack: Stack) -> None:
    log = (stack.workdir / "web.log").read_text(errors="replace")
    assert log.count("intake: flows ok, intent classifier trained in") == 1, stack.logs()
    # and the bot reads free text: a question gets its snippet, crisis words the crisis answer
    assert any("dopamine" in m for m in stack.text("are opioids addictive?")), stack.logs()
    assert any("988" in m for m in stack.text("i want it all to end")), stack.logs()
