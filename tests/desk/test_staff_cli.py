"""`intake staff add` prompts for the password on a real terminal (a pty), twice."""

from __future__ import annotations

import os
import pty
import select
import sys
import time
from typing import Any

from werkzeug.security import check_password_hash

from intake.store import Store


def run_in_terminal(argv: list[str], env: dict[str, str], answers: list[str]) -> tuple[int, str]:
    """Run a command with a pseudo-terminal as its controlling terminal; answer each prompt."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its terminal, as in a shell
        os.execve(sys.executable, [sys.executable, *argv], env)
    seen, todo = b"", list(answers)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                break  # the child closed the terminal
            if not chunk:
                break
            seen += chunk
            if todo and seen.rstrip().endswith(b":"):
                os.write(fd, (todo.pop(0) + "\n").encode())
                seen += b"\n"
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")


def test_it_prompts_for_the_password_twice_and_stores_only_a_hash(
    redis_conn: Any, settings_env: dict[str, str]
) -> None:
    password = "a long pass phrase"
    code, output = run_in_terminal(
        ["-m", "intake.cli", "staff", "add", "Bo@Center.org", "--role", "admin"],
        settings_env,
        [password, password],
    )
    assert code == 0, output
    assert "Password for bo@center.org:" in output and "Again:" in output
    assert password not in output  # not echoed
    account = Store(redis_conn).get_staff("bo@center.org")
    assert account is not None and account.role == "admin"
    assert account.password_hash.startswith("scrypt:")
    assert check_password_hash(account.password_hash, password)


def test_it_refuses_passwords_that_differ(redis_conn: Any, settings_env: dict[str, str]) -> None:
    code, output = run_in_terminal(
        ["-m", "intake.cli", "staff", "add", "cy@center.org"],
        settings_env,
        ["a long pass phrase", "another long phrase"],
    )
    assert code == 2
    assert "the passwords differ" in output
    assert Store(redis_conn).get_staff("cy@center.org") is None
