"""`intake staff add` asks for the password twice and stores only a hash."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from werkzeug.security import check_password_hash

from tests.support.stores import make_store


def staff_add(env: dict[str, str], *args: str, typed: str) -> subprocess.CompletedProcess[str]:
    """Run the command the way a person would, minus the terminal: getpass then reads stdin."""
    return subprocess.run(
        [sys.executable, "-m", "intake.cli", "staff", "add", *args],
        env=env,
        input=typed,
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,  # no controlling terminal, so nothing can wait on a tty
    )


def test_it_prompts_for_the_password_twice_and_stores_only_a_hash(
    redis_conn: Any, settings_env: dict[str, str]
) -> None:
    password = "a long pass phrase"
    result = staff_add(
        settings_env, "Bo@Center.org", "--role", "admin", typed=f"{password}\n{password}\n"
    )
    assert result.returncode == 0, result.stderr
    prompts = result.stdout + result.stderr
    assert "Password for bo@center.org:" in prompts and "Again:" in prompts
    assert password not in prompts
    account = make_store(redis_conn).get_staff("bo@center.org")
    assert account is not None and account.role == "admin"
    assert account.password_hash.startswith("scrypt:")
    assert check_password_hash(account.password_hash, password)
    stored = [redis_conn.get(k) or b"" for k in redis_conn.scan_iter(_type="string")]
    assert any(b"scrypt:" in value for value in stored)  # the account is among them
    assert not any(password.encode() in value for value in stored)


def test_it_refuses_passwords_that_differ(redis_conn: Any, settings_env: dict[str, str]) -> None:
    result = staff_add(
        settings_env, "cy@center.org", typed="a long pass phrase\nanother long phrase\n"
    )
    assert result.returncode == 2
    assert "the passwords differ" in result.stderr
    assert make_store(redis_conn).get_staff("cy@center.org") is None


def test_it_refuses_a_short_password(redis_conn: Any, settings_env: dict[str, str]) -> None:
    result = staff_add(settings_env, "di@center.org", typed="short\nshort\n")
    assert result.returncode == 2
    assert "at least 12 characters" in result.stderr
    assert make_store(redis_conn).get_staff("di@center.org") is None
