"""Start-up: the Procfile's processes refuse bad settings in one line; `intake dev` runs, stops."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from dotenv import dotenv_values

from intake.config import Settings
from intake.redis_server import free_port

from .support import (
    ROOT,
    base_env,
    post_form,
    processes_mentioning,
    procfile_commands,
    sms_params,
    stop_group,
    twiml_messages,
)


def run_procfile(name: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run one Procfile process type to its end (it is expected to refuse to start)."""
    process = subprocess.Popen(
        ["bash", "-c", procfile_commands()[name]],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        stop_group(process)
        pytest.fail(f"{name} kept running with bad settings: {process.communicate()[0]}")
    return subprocess.CompletedProcess(process.args, process.returncode, out, "")


def intake_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("intake:")]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"TWILIO_ACCOUNT_SID": ""}, "intake: configuration error: TWILIO_ACCOUNT_SID is required"),
        ({"TWILIO_PHONE_NUMBER": "12"}, "intake: configuration error: TWILIO_PHONE_NUMBER is not"),
        ({"REDIS_URL": "localhost:6379"}, "intake: configuration error: REDIS_URL must start"),
        ({"SESSION_TTL_SECONDS": "a day"}, "intake: configuration error: SESSION_TTL_SECONDS"),
    ],
)
def test_it_stops_web_with_one_line_on_a_bad_setting(
    settings_env: dict[str, str], tmp_path: Path, change: dict[str, str], expected: str
) -> None:
    env = {**base_env(tmp_path), **settings_env, "PORT": str(free_port()), **change}

    result = run_procfile("web", env, tmp_path)

    assert result.returncode != 0
    assert "Traceback" not in result.stdout, result.stdout
    lines = intake_lines(result.stdout)
    assert len(lines) == 1 and lines[0].startswith(expected), result.stdout


def test_it_stops_web_with_one_line_on_invalid_flows(
    settings_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "flows").mkdir()
    env = {
        **base_env(tmp_path),
        **settings_env,
        "PORT": str(free_port()),
        "FLOWS_DIR": str(tmp_path / "flows"),
    }

    result = run_procfile("web", env, tmp_path)

    assert result.returncode != 0
    assert "Traceback" not in result.stdout, result.stdout
    lines = intake_lines(result.stdout)
    assert len(lines) == 1 and lines[0].startswith("intake: invalid flows:"), result.stdout


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"STAFF_NOTIFY_NUMBERS": "+1555"}, "STAFF_NOTIFY_NUMBERS is not a valid phone number"),
        ({"CRM_WEBHOOK_URL": "https://crm.example.org/hook"}, "CRM_WEBHOOK_SECRET is required"),
        (
            {"CRM_WEBHOOK_URL": "http://crm.example.org/hook", "CRM_WEBHOOK_SECRET": "s" * 20},
            "CRM_WEBHOOK_URL must be an https URL (http only to localhost)",
        ),
        ({"BUSINESS_HOURS": "9 to 5"}, "BUSINESS_HOURS must look like 08:00-20:00"),
    ],
)
def test_it_stops_the_worker_with_one_line_on_a_bad_setting(
    settings_env: dict[str, str], tmp_path: Path, change: dict[str, str], expected: str
) -> None:
    env = {**base_env(tmp_path), **settings_env, **change}

    result = run_procfile("worker", env, tmp_path)

    assert result.returncode != 0
    assert "Traceback" not in result.stdout, result.stdout
    lines = intake_lines(result.stdout)
    assert lines == [f"intake: configuration error: {expected}"] or (
        len(lines) == 1 and expected in lines[0]
    ), result.stdout


def test_it_stops_the_worker_without_redis_url(
    settings_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**base_env(tmp_path), **settings_env}
    del env["REDIS_URL"]  # never a silent fallback to a Redis on 6379

    result = run_procfile("worker", env, tmp_path)

    assert result.returncode != 0
    assert "REDIS_URL is required" in result.stdout
    assert "Traceback" not in result.stdout, result.stdout


class Output:
    """Collects a process's output lines from a background thread."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert process.stdout is not None
        stdout = process.stdout
        self.thread = threading.Thread(target=lambda: self.lines.extend(stdout), daemon=True)
        self.thread.start()

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.text)
            if match:
                return match
            time.sleep(0.2)
        pytest.fail(f"no {pattern!r} in {timeout:.0f} s:\n{self.text}")


def dev_root(tmp_path: Path) -> Path:
    """A project root for `intake dev` with the repository's Procfile and .env.example."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(ROOT / "Procfile", root)
    shutil.copy(ROOT / ".env.example", root)
    return root


def start_dev(root: Path, port: int) -> subprocess.Popen[str]:
    """`intake dev` in `root`, in its own process group like a terminal's foreground job."""
    return subprocess.Popen(
        [sys.executable, "-m", "intake.cli", "dev", "--port", str(port)],
        cwd=root,
        env=base_env(root),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def test_it_runs_the_dev_stack_and_stops_it_all_on_ctrl_c(tmp_path: Path) -> None:
    root = dev_root(tmp_path)
    port = free_port()
    dev = start_dev(root, port)
    output = Output(dev)
    try:
        redis_url = output.wait_for(r"Redis: +(redis://127\.0\.0\.1:(\d+)/0)", 150)
        assert f"intake is running at http://127.0.0.1:{port}" in output.text
        assert "Created .env" in output.text
        assert "make chat" in output.text

        env_file = root / ".env"
        assert env_file.stat().st_mode & 0o777 == 0o600
        values = {k: v or "" for k, v in dotenv_values(env_file).items()}
        settings = Settings.from_env({**values, "REDIS_URL": redis_url.group(1)})
        assert settings.public_base_url == f"http://127.0.0.1:{port}"
        assert settings.twilio_phone_number == "+17275550199"
        # a whole callback request: the worker's staff text shows in the terminal, not at Twilio
        for body in ["hi", "CALL", "Sam", "YES", "evening", "ME", "NO", "YES", "YES"]:
            params = sms_params(
                body, "+13125550142", settings.twilio_phone_number, settings.twilio_account_sid
            )
            url = f"http://127.0.0.1:{port}/sms"
            status, xml = post_form(url, params, settings.twilio_auth_token)
            assert status == 200, xml
            assert twiml_messages(xml)
        output.wait_for(r"\[dev outbox\] text to \+1…98: New task \w+ at", 30)

        # listening on this machine only; the CLI finds the embedded Redis on its own
        assert processes_mentioning(f"127.0.0.1:{port}") != []
        assert processes_mentioning(f"0.0.0.0:{port}") == []
        assert (root / "var" / "dev-redis.url").read_text() == redis_url.group(1) + "\n"
        listed = subprocess.run(
            [sys.executable, "-m", "intake.cli", "tasks", "list"],
            cwd=root,
            env={k: v for k, v in base_env(root).items() if k != "REDIS_URL"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert listed.returncode == 0, listed.stderr
        assert redis_url.group(1) in listed.stderr
        assert listed.stdout.split()[:2] == ["ID", "PRIORITY"]
        assert len(listed.stdout.splitlines()) == 2  # the header and the callback task

        os.killpg(dev.pid, signal.SIGINT)  # what Ctrl-C does to the terminal's foreground group
        assert dev.wait(timeout=30) == 0, output.text
        output.thread.join(timeout=5)
    finally:
        if dev.poll() is None:
            stop_group(dev)

    assert "Traceback" not in output.text, output.text
    assert processes_mentioning(f"127.0.0.1:{port}") == []
    assert processes_mentioning(f"127.0.0.1:{redis_url.group(2)}") == []
    assert (root / "var" / "redis").is_dir()
    assert not (root / "var" / "dev-redis.url").exists()


def test_it_refuses_to_start_the_dev_stack_on_a_bad_setting(tmp_path: Path) -> None:
    root = dev_root(tmp_path)
    (root / ".env").write_text("TWILIO_ACCOUNT_SID=AC123\n")
    dev = start_dev(root, free_port())
    out, _ = dev.communicate(timeout=60)

    assert dev.returncode == 2, out
    assert out.strip().splitlines() == [
        "intake: configuration error: TWILIO_ACCOUNT_SID must be AC followed by 32 hexadecimal "
        "characters"
    ]
    assert not (root / "var").exists()
