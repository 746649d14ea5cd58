"""The Procfile's worker killed with SIGKILL inside a task job and inside a notification job.

Two workers are stopped at known points, then killed together with their children (the job's
work horse and the scheduler), as when a machine or container dies:

- one inside create_task, after the task was written and before its notifications were queued
  (workers.jobs.checkpoint, through INTAKE_TEST_PAUSE_AT);
- one inside the staff text of another task, after Twilio accepted the message and before the
  worker heard back (the emulator holds its answer), so the text went out but was not recorded.

A third worker, started afterwards, must finish both: each task stored once, each staff text
sent once, nothing failed. The test waits on the jobs' states, not a fixed time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry

from intake import notifications as n
from intake.conversation import TASK_RETRY
from intake.queues import fetch_job
from intake.redis_server import RedisProcess, start_redis
from intake.store import DEFAULT_QUEUE, URGENT_QUEUE
from intake.tasks import Task
from tests.support.stores import TEST_LOOKUP_KEY, make_store
from tests.support.twilio_emulator import TwilioEmulator
from tests.support.worker import enqueue_task, new_task
from workers.jobs import PAUSE_VARIABLE

from .support import base_env, procfile_commands

ON_CALL = "+13125550101"
PAUSE_TIMEOUT = 60.0  # a worker starts (`intake check` loads the flows) and reaches the point
RECOVERY_TIMEOUT = 90.0  # goal: well under a minute (docs/reliability.md has the figure)


class Workers:
    """Procfile workers as real processes; each log in `workdir`."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.env = env
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, **extra: str) -> subprocess.Popen[bytes]:
        with (self.workdir / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                ["bash", "-c", procfile_commands()["worker"]],
                cwd=self.workdir,
                env={**self.env, **extra},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running.append(process)
        return process

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name} ---\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.workdir.glob("*.log"))
        )

    def stop_all(self) -> None:
        for process in self.running:
            kill_tree(process)


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (the work horse leaves the worker's process group)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL a worker and everything it started, the worker first, as a dying host would."""
    below = descendants(process.pid)
    for pid in [process.pid, *below]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()


def enqueue(redis: Redis, task: Task) -> None:
    """Stage the task and queue create_task as the web layer does (intake/conversation.py)."""
    enqueue_task(redis, task, retry=TASK_RETRY)


def wait_until(check: Any, timeout: float, what: str, workers: Workers) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s\n{workers.logs()}")
        time.sleep(0.1)


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisProcess]:
    server = start_redis(data_dir=tmp_path / "redis")
    try:
        yield server
    finally:
        server.stop()


def test_a_killed_worker_loses_no_task_and_sends_no_text_twice(
    session_settings_env: dict[str, str], redis: RedisProcess, tmp_path: Path
) -> None:
    conn = Redis.from_url(redis.url)
    twilio = TwilioEmulator(
        session_settings_env["TWILIO_ACCOUNT_SID"], session_settings_env["TWILIO_AUTH_TOKEN"]
    )
    with twilio:
        env = {
            **base_env(tmp_path),
            **session_settings_env,
            "REDIS_URL": redis.url,
            "TWILIO_API_BASE_URL": twilio.url,
            "STAFF_NOTIFY_NUMBERS": ON_CALL,
        }
        workers = Workers(tmp_path, env)
        try:
            # 1. a worker stops inside create_task, the task written, nothing else queued yet
            stored = new_task(kind="crisis")
            marker = tmp_path / "paused"
            first = workers.start("worker-1", **{PAUSE_VARIABLE: f"create_task:stored={marker}"})
            enqueue(conn, stored)
            wait_until(marker.exists, PAUSE_TIMEOUT, "worker 1 inside create_task", workers)
            assert [t.id for t in make_store(conn).list_tasks()] == [stored.id]
            assert make_store(conn).notifications_due() == [stored.id]  # staff not told yet

            # 2. another stops inside a staff text that Twilio accepted, before the answer
            texted = new_task(kind="crisis", callback_number="+13125550177")
            twilio.script(ON_CALL, "accept_and_hold")
            second = workers.start("worker-2")
            enqueue(conn, texted)
            wait_until(twilio.holding.is_set, PAUSE_TIMEOUT, "worker 2 inside a send", workers)
            [held] = twilio.sent_to(ON_CALL)
            assert texted.id in held.body

            # 3. both die at once, with their horses and schedulers
            killed_at = time.monotonic()
            kill_tree(first)
            kill_tree(second)
            twilio.release()

            # 4. a new worker finishes what they left
            workers.start("worker-3")
            sms_jobs = [
                f"notify-sms-{t.id}-{n.digest(ON_CALL, TEST_LOOKUP_KEY)}" for t in (stored, texted)
            ]
            jobs = [f"create-task-{stored.id}", f"create-task-{texted.id}", *sms_jobs]

            def finished() -> bool:
                return all(
                    Job.exists(j, connection=conn)
                    and fetch_job(j, conn).get_status() == JobStatus.FINISHED
                    for j in jobs
                )

            wait_until(finished, RECOVERY_TIMEOUT, "every job finished", workers)
            took = time.monotonic() - killed_at
        finally:
            workers.stop_all()

        # each task once, with one "created" entry
        store = make_store(conn)
        assert sorted(t.id for t in store.list_tasks()) == sorted([stored.id, texted.id])
        for task in (stored, texted):
            assert [e.action for e in store.audit(task.id)] == ["created"]
        # each staff text once: the held one was found at Twilio, not sent again
        bodies = [r.body for r in twilio.sent_to(ON_CALL)]
        assert len(bodies) == 2, bodies
        assert [b for b in bodies if texted.id in b] == [held.body]
        assert [b for b in bodies if stored.id in b] != []
        held_sid = twilio.messages[0]["sid"]
        assert fetch_job(sms_jobs[1], conn).return_value() == held_sid
        assert len(twilio.lookups) == 1
        assert store.notifications_due() == []  # staff count as told for both
        for name in (URGENT_QUEUE, DEFAULT_QUEUE):
            assert FailedJobRegistry(name, connection=conn).count == 0
        conn.close()
    print(f"\nkilled 2 workers mid-job; a new worker finished both in {took:.1f} s")
