"""`intake dev`'s helpers: the generated .env, the port and address, Ctrl-C under make."""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dotenv import dotenv_values

from intake.config import Settings
from intake.devserver import DEFAULT_PORT, add_missing_dev_secrets, local_port, write_dev_env

ROOT = Path(__file__).resolve().parents[1]


def dev_env(path: Path, port: int = 8000) -> dict[str, str]:
    write_dev_env(path, ROOT / ".env.example", port)
    return {k: v or "" for k, v in dotenv_values(path).items()}


def test_it_writes_a_dev_env_that_settings_accept(tmp_path: Path, redis_url: str) -> None:
    values = dev_env(tmp_path / ".env", port=8123)

    settings = Settings.from_env({**values, "REDIS_URL": redis_url})

    assert settings.public_base_url == "http://127.0.0.1:8123"
    assert settings.twilio_phone_number == "+17275550199"
    assert settings.admissions_phone == "+17273917001"
    assert values["TWILIO_AUTH_TOKEN"].startswith("dev-")
    assert (tmp_path / ".env").stat().st_mode & 0o777 == 0o600


def test_it_keeps_the_examples_comments_and_leaves_redis_url_unset(tmp_path: Path) -> None:
    values = dev_env(tmp_path / ".env")

    assert "REDIS_URL" not in values
    example = (ROOT / ".env.example").read_text().splitlines()
    written = (tmp_path / ".env").read_text().splitlines()
    assert [line for line in written if line.startswith("#")] == [
        line for line in example if line.startswith("#")
    ]


def test_it_generates_new_secrets_each_time(tmp_path: Path) -> None:
    first = dev_env(tmp_path / "one.env")
    second = dev_env(tmp_path / "two.env")

    for name in ("SECRET_KEY", "TWILIO_AUTH_TOKEN", "TWILIO_ACCOUNT_SID", "LOOKUP_KEY"):
        assert first[name] != second[name]


def test_it_runs_on_the_port_of_a_local_public_base_url() -> None:
    assert local_port("http://127.0.0.1:8123") == 8123
    assert local_port("http://localhost:9000") == 9000
    assert local_port("https://intake.example.org") == DEFAULT_PORT
    assert local_port("http://127.0.0.1:notaport") == DEFAULT_PORT
    assert local_port("") == DEFAULT_PORT


FOREGROUND_SCRIPT = """
import signal, sys
from intake.devserver import take_foreground
give_back = take_foreground() if sys.argv[1] == "take" else (lambda: None)
try:
    print("ready", flush=True)
    signal.pause()
except KeyboardInterrupt:
    give_back()
    print("stopped cleanly", flush=True)
    sys.exit(0)
"""


def ctrl_c_under_make(tmp_path: Path, mode: str) -> tuple[int, str]:
    """Run a target under a real `make` in a pseudo-terminal, press Ctrl-C once it is up;
    make's exit status and what the terminal showed."""
    (tmp_path / "fg.py").write_text(FOREGROUND_SCRIPT)
    (tmp_path / "Makefile").write_text(f"run:\n\t{sys.executable} fg.py {mode}\n")
    pid, master = pty.fork()
    if pid == 0:  # the child: a session leading the new terminal, like a login shell's job
        os.chdir(tmp_path)
        os.environ["PYTHONPATH"] = str(ROOT)
        os.execvp("make", ["make", "run"])
    seen = b""
    try:
        while b"ready" not in seen:
            ready, _, _ = select.select([master], [], [], 60)
            assert ready, f"no 'ready' in 60 s: {seen!r}"
            seen += os.read(master, 4096)
        os.write(master, b"\x03")  # Ctrl-C, as typed: the terminal signals its foreground group
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            assert ready, f"still running 60 s after Ctrl-C: {seen!r}"
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: everyone closed the terminal
                break
            if not chunk:
                break
            seen += chunk
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(master)
    return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_ctrl_c_on_make_run_stops_with_status_0(tmp_path: Path) -> None:
    status, shown = ctrl_c_under_make(tmp_path, "take")
    assert status == 0, shown
    assert "stopped cleanly" in shown
    assert "Interrupt" not in shown and "Error" not in shown


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_without_taking_the_terminal_make_reports_ctrl_c_as_a_failure(tmp_path: Path) -> None:
    status, shown = ctrl_c_under_make(tmp_path, "leave")
    assert status != 0, shown  # what `take_foreground` is for


def test_the_procfile_binds_all_interfaces_unless_host_says_otherwise() -> None:
    web = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line[:4] == "web:")
    bind = re.search(r'--bind ("[^"]+")', web)
    assert bind is not None
    for host, expected in [(None, "0.0.0.0:8000"), ("127.0.0.1", "127.0.0.1:8000")]:
        env = {"PATH": os.environ["PATH"], "PORT": "8000", **({"HOST": host} if host else {})}
        out = subprocess.run(
            ["sh", "-c", f"echo {bind.group(1)}"], env=env, capture_output=True, text=True
        )
        assert out.stdout.strip() == expected


def test_it_gives_an_older_dev_env_the_keys_it_lacks(
    tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("LOOKUP_KEY", "ENCRYPTION_KEYS", "TWILIO_AUTH_TOKEN", "TWILIO_API_BASE_URL"):
        monkeypatch.delenv(name)  # as `make run` starts: the .env decides
    path = tmp_path / ".env"
    values = dev_env(path)
    kept = [
        line
        for line in path.read_text().splitlines()
        if not line.startswith(("LOOKUP_KEY=", "ENCRYPTION_KEYS="))
    ]
    path.write_text("\n".join(kept) + "\n")

    add_missing_dev_secrets(path)

    again = {k: v or "" for k, v in dotenv_values(path).items()}
    assert again["LOOKUP_KEY"] and again["LOOKUP_KEY"] != values["LOOKUP_KEY"]
    Settings.from_env({**again, "REDIS_URL": redis_url})


def test_it_turns_the_phone_simulator_on_for_development_only(
    tmp_path: Path, redis_url: str, settings_env: dict[str, str]
) -> None:
    values = dev_env(tmp_path / ".env")
    assert Settings.from_env({**values, "REDIS_URL": redis_url}).simulator_enabled is True
    assert Settings.from_env(settings_env).simulator_enabled is False  # off by default
