"""`intake tasks list`: a table with a header row, and `make run`'s Redis found on its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from intake.config import DEV_REDIS_URL_FILE
from tests.support import factories
from tests.support.stores import make_store


def tasks_list(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "intake.cli", "tasks", "list"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_prints_a_header_row_over_aligned_columns(
    redis_conn: Any, settings_env: dict[str, str], tmp_path: Path
) -> None:
    store = make_store(redis_conn)
    store.create_task(factories.make_task("a1b2c3d4e5", callback_number="+13125550142"))
    store.create_task(factories.make_task("f6e5d4c3b2", kind="crisis", priority="urgent"))

    result = tasks_list(settings_env, tmp_path)

    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == [
        "ID", "PRIORITY", "KIND", "STATUS", "CREATED", "NUMBER", "WINDOW", "LANGUAGE"
    ]  # fmt: skip
    assert [row.split()[:3] for row in rows] == [
        ["f6e5d4c3b2", "urgent", "crisis"],
        ["a1b2c3d4e5", "normal", "callback"],
    ]
    for name in ("PRIORITY", "NUMBER", "LANGUAGE"):  # every row's cell starts under its header
        column = header.index(name)
        assert all(row[column - 2 : column] == "  " and row[column] != " " for row in rows), name
    assert "+13125550142" in rows[1]
    assert result.stderr == ""


def test_it_uses_the_redis_that_make_run_started_when_redis_url_is_unset(
    redis_conn: Any, settings_env: dict[str, str], tmp_path: Path
) -> None:
    make_store(redis_conn).create_task(factories.make_task("a1b2c3d4e5"))
    url = settings_env.pop("REDIS_URL")
    (tmp_path / DEV_REDIS_URL_FILE).parent.mkdir()
    (tmp_path / DEV_REDIS_URL_FILE).write_text(url + "\n")

    result = tasks_list(settings_env, tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stderr == f"intake: using the Redis of `make run`, {url} (var/dev-redis.url)\n"
    assert result.stdout.splitlines()[1].startswith("a1b2c3d4e5 ")


def test_redis_url_wins_over_make_runs_redis(
    redis_conn: Any, settings_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / DEV_REDIS_URL_FILE).parent.mkdir()
    (tmp_path / DEV_REDIS_URL_FILE).write_text("redis://127.0.0.1:9/0\n")  # a dead one

    result = tasks_list(settings_env, tmp_path)

    assert (result.returncode, result.stdout, result.stderr) == (0, "no tasks\n", "")


def test_without_either_it_names_the_missing_variable(
    settings_env: dict[str, str], tmp_path: Path
) -> None:
    del settings_env["REDIS_URL"]

    result = tasks_list(settings_env, tmp_path)

    assert result.returncode == 2
    assert result.stderr.startswith("intake: configuration error: REDIS_URL")


def test_each_listed_task_records_who_saw_its_details(
    redis_conn: Any, settings_env: dict[str, str], tmp_path: Path
) -> None:
    store = make_store(redis_conn)
    store.create_task(factories.make_task("a1b2c3d4e5"))
    store.create_task(factories.make_task("f6e5d4c3b2"))

    result = tasks_list(settings_env | {"INTAKE_STAFF_EMAIL": "ana@center.org"}, tmp_path)

    assert result.returncode == 0, result.stderr
    for task_id in ("a1b2c3d4e5", "f6e5d4c3b2"):
        views = [e for e in store.audit(task_id) if e.action == "viewed"]
        assert [(e.by, e.detail) for e in views] == [("ana@center.org", "intake tasks list")]
