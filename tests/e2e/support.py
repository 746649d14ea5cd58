"""Helpers for tests that run the project's real processes."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parents[2]


def procfile_commands() -> dict[str, str]:
    """The Procfile's process types, as `honcho start` reads them."""
    commands = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_-]+):\s*(.+)$", line)
        if match:
            commands[match.group(1)] = match.group(2)
    return commands


def base_env(home: Path) -> dict[str, str]:
    """A bare environment: this Python's scripts first on PATH, no intake settings."""
    return {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "HOME": os.environ.get("HOME", str(home)),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(ROOT),
    }


def start_procfile(
    workdir: Path, env: dict[str, str], processes: dict[str, subprocess.Popen[Any]]
) -> None:
    """Every Procfile process, as a host starts it, logging to `workdir/<name>.log`.

    Each goes into `processes` as it starts, so a caller's `finally` stops what did start.
    """
    for name in procfile_commands():
        start_process(name, workdir, env, processes)


def start_process(
    name: str, workdir: Path, env: dict[str, str], processes: dict[str, subprocess.Popen[Any]]
) -> None:
    """The Procfile's process `name`, as a host starts it, logging to `workdir/<name>.log`."""
    with (workdir / f"{name}.log").open("wb") as log:
        processes[name] = subprocess.Popen(
            ["bash", "-c", procfile_commands()[name]],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for_health(
    base_url: str,
    processes: dict[str, subprocess.Popen[Any]],
    logs: Callable[[], str],
    timeout: float,
) -> None:
    """Until `/healthz` answers 200; fails with the logs if a process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, process in processes.items():
            if process.poll() is not None:
                pytest.fail(f"{name} exited with {process.returncode}\n{logs()}")
        try:
            with urllib.request.urlopen(base_url + "/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"/healthz did not answer in {timeout:.0f} s\n{logs()}")


def stop_group(process: subprocess.Popen[Any]) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left of it."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def sms_params(body: str, from_: str, to: str, account_sid: str) -> dict[str, str]:
    """An inbound SMS webhook's form, as Twilio sends it."""
    sid = "SM" + secrets.token_hex(16)
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": account_sid,
        "From": from_,
        "To": to,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "ApiVersion": "2010-04-01",
        "SmsStatus": "received",
    }


def post_form(
    url: str, params: dict[str, str], auth_token: str, signature: str | None = None
) -> tuple[int, str]:
    """POST a form signed for `url` with the auth token (or with `signature`); status and body."""
    if signature is None:
        signature = RequestValidator(auth_token).compute_signature(url, params)
    request = urllib.request.Request(
        url,
        data=urllib.parse.urlencode(params).encode(),
        method="POST",
        headers={
            "X-Twilio-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def twiml_messages(xml: str) -> list[str]:
    """The texts of a TwiML <Response>'s <Message>s."""
    root = ET.fromstring(xml)
    assert root.tag == "Response", xml
    return [m.text or "" for m in root.iter("Message")]


def processes_mentioning(needle: str) -> list[str]:
    """Command lines of running processes that contain `needle` (Linux /proc)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle in text:
            found.append(f"{cmdline.parent.name}: {text.strip()}")
    return found
