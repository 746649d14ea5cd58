"""`intake staff ...`: accounts from the command line; passwords asked at a terminal or piped."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from typing import Any

from redis import Redis
from werkzeug.security import check_password_hash, generate_password_hash

from intake.store import StaffAccount
from tests.support.stores import make_store

PASSWORD = "a long pass phrase"


def intake(env: dict[str, str], *args: str, typed: str = "") -> subprocess.CompletedProcess[str]:
    """Run `intake` with `typed` on a pipe: no terminal, as in a script or a CI job."""
    return subprocess.run(
        [sys.executable, "-m", "intake.cli", *args],
        env=env,
        input=typed,
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,  # no controlling terminal, so nothing can wait on a tty
    )


def at_a_terminal(env: dict[str, str], *args: str, answers: list[str]) -> tuple[int, str]:
    """Run `intake` with a pseudo-terminal as stdin; type each answer once its prompt shows."""
    leader, follower = os.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "intake.cli", *args],
        env=env,
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    os.close(follower)
    assert process.stdout is not None
    seen = b""
    deadline = time.monotonic() + 60
    pending = list(answers)
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        if ready:
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
        if pending and seen.rstrip().endswith(b":"):
            time.sleep(0.1)  # getpass turns echo off (flushing input) right after the prompt
            os.write(leader, (pending.pop(0) + "\n").encode())
            seen += b"\n"
    code = process.wait(timeout=30)
    os.close(leader)
    return code, seen.decode()


def save(redis_conn: Redis, email: str, password: str = PASSWORD, **fields: Any) -> None:
    make_store(redis_conn).save_staff(
        StaffAccount(email=email, password_hash=generate_password_hash(password), **fields)
    )


def test_it_states_the_rule_then_asks_twice_and_stores_only_a_hash(
    redis_conn: Redis, settings_env: dict[str, str]
) -> None:
    code, output = at_a_terminal(
        settings_env, "staff", "add", "Bo@Center.org", "--role", "admin", answers=[PASSWORD] * 2
    )
    assert code == 0, output
    rule = output.index("Passwords need at least 12 characters.")
    assert rule < output.index("Password for bo@center.org:") < output.index("Again:")
    assert PASSWORD not in output  # not echoed
    account = make_store(redis_conn).get_staff("bo@center.org")
    assert account is not None and account.role == "admin"
    assert account.password_hash.startswith("scrypt:")
    assert check_password_hash(account.password_hash, PASSWORD)
    stored = [redis_conn.get(k) or b"" for k in redis_conn.scan_iter(_type="string")]
    assert any(b"scrypt:" in value for value in stored)  # the account is among them
    assert not any(PASSWORD.encode() in value for value in stored)


def test_it_refuses_passwords_that_differ(redis_conn: Redis, settings_env: dict[str, str]) -> None:
    code, output = at_a_terminal(
        settings_env, "staff", "add", "cy@center.org", answers=[PASSWORD, "another long phrase"]
    )
    assert code == 2
    assert "the passwords differ" in output
    assert make_store(redis_conn).get_staff("cy@center.org") is None


def test_it_refuses_a_short_password(redis_conn: Redis, settings_env: dict[str, str]) -> None:
    result = intake(
        settings_env, "staff", "add", "di@center.org", "--password-stdin", typed="short\n"
    )
    assert result.returncode == 2
    assert result.stderr == "intake: use a password of at least 12 characters\n"
    assert make_store(redis_conn).get_staff("di@center.org") is None


def test_it_says_in_one_line_that_it_needs_a_terminal_or_password_stdin(
    redis_conn: Redis, settings_env: dict[str, str]
) -> None:
    for command in ("add", "reset-password"):
        save(redis_conn, "ed@center.org")
        result = intake(settings_env, "staff", command, "ed@center.org", typed=f"{PASSWORD}\n")
        assert result.returncode == 2
        assert result.stderr == (
            "intake: no terminal to ask for the password: pipe it in with --password-stdin\n"
        )
        assert "Traceback" not in result.stdout + result.stderr


def test_it_reads_the_password_from_stdin_for_scripts(
    redis_conn: Redis, settings_env: dict[str, str]
) -> None:
    result = intake(
        settings_env, "staff", "add", "fa@center.org", "--password-stdin", typed=f"{PASSWORD}\n"
    )
    assert result.returncode == 0, result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    account = make_store(redis_conn).get_staff("fa@center.org")
    assert account is not None and check_password_hash(account.password_hash, PASSWORD)


def test_it_lists_accounts_with_role_and_status(
    redis_conn: Redis, settings_env: dict[str, str]
) -> None:
    save(redis_conn, "ana@center.org")
    save(redis_conn, "bo@center.org", role="admin", phone="+13125550142")
    save(redis_conn, "cy@center.org", disabled=True)
    result = intake(settings_env, "staff", "list")
    assert result.stdout.splitlines() == [
        "ana@center.org  admissions  active",
        "bo@center.org  admin  active",
        "cy@center.org  admissions  disabled",
    ]
    rows = json.loads(intake(settings_env, "staff", "list", "--json").stdout)
    assert rows[1] == {
        "email": "bo@center.org",
        "role": "admin",
        "status": "active",
        "phone": "+1…42",
    }
    assert "scrypt" not in result.stdout and "5550142" not in json.dumps(rows)


def test_it_disables_enables_and_removes_accounts_ending_their_sessions(
    redis_conn: Redis, settings_env: dict[str, str]
) -> None:
    store = make_store(redis_conn)
    save(redis_conn, "ana@center.org")

    def signed_in() -> None:
        store.save_staff_session("d1", b"{}", 600, email="ana@center.org", new=True)

    signed_in()
    result = intake(settings_env, "staff", "disable", "Ana@center.org")
    assert result.stdout == "ana@center.org disabled; its sessions ended\n"
    assert store.get_staff("ana@center.org").disabled  # type: ignore[union-attr]
    assert store.load_staff_session("d1") is None
    assert "disabled" in intake(settings_env, "staff", "list").stdout
    assert intake(settings_env, "staff", "enable", "ana@center.org").returncode == 0
    assert not store.get_staff("ana@center.org").disabled  # type: ignore[union-attr]
    signed_in()
    result = intake(settings_env, "staff", "remove", "ana@center.org")
    assert result.stdout == "ana@center.org removed; its sessions ended\n"
    assert store.get_staff("ana@center.org") is None
    assert store.load_staff_session("d1") is None
    assert (
        intake(settings_env, "staff", "list").stdout
        == "no staff accounts (intake staff add EMAIL)\n"
    )
    missing = intake(settings_env, "staff", "disable", "ana@center.org")
    assert missing.returncode == 1
    assert missing.stderr == "intake: no staff account ana@center.org (intake staff list)\n"


def test_it_resets_a_password_and_ends_the_sessions(
    redis_conn: Redis, settings_env: dict[str, str]
) -> None:
    store = make_store(redis_conn)
    save(redis_conn, "ana@center.org", role="admin")
    store.save_staff_session("d1", b"{}", 600, email="ana@center.org", new=True)
    new = "another long pass phrase"
    code, output = at_a_terminal(
        settings_env, "staff", "reset-password", "ana@center.org", answers=[new, new]
    )
    assert code == 0, output
    assert "Passwords need at least 12 characters." in output
    account = store.get_staff("ana@center.org")
    assert account is not None and account.role == "admin"
    assert check_password_hash(account.password_hash, new)
    assert store.load_staff_session("d1") is None
