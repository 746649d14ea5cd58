"""The daily retention purge, run by the Procfile's worker (`rq worker --with-scheduler`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

from redis import Redis
from rq.job import JobStatus
from rq.registry import ScheduledJobRegistry

from intake import retention
from intake.queues import JobQueue, fetch_job
from intake.store import DEFAULT_QUEUE
from tests.desk.test_retention import NUMBER, OPTED_OUT, populate
from tests.support.worker import rq_worker

from .conftest import WorkerEnv


def wait_until(done: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def scheduled_purges(redis: Redis) -> list[str]:
    registry = ScheduledJobRegistry(queue=JobQueue(DEFAULT_QUEUE, connection=redis))
    return [i for i in registry.get_job_ids() if i.startswith("purge-")]


def test_workers_schedule_one_daily_purge_and_the_scheduler_runs_it(
    worker_env: WorkerEnv, redis_conn: Redis, redis_url: str, tmp_path: Path
) -> None:
    store = populate(redis_conn)
    with ExitStack() as stack:
        for name in ("one", "two"):  # two workers: still one purge a day
            stack.enter_context(rq_worker(worker_env.values, redis_url, tmp_path / f"{name}.log"))
        tomorrow = retention.purge_job_id(retention.next_run(datetime.now(UTC)))
        wait_until(lambda: scheduled_purges(redis_conn) == [tomorrow])

        # What the scheduler does at 03:00, a second from now.
        JobQueue(DEFAULT_QUEUE, connection=redis_conn).enqueue_in(
            timedelta(seconds=1), retention.PURGE_JOB, job_id="purge-now"
        )
        job = fetch_job("purge-now", redis_conn)
        wait_until(lambda: job.get_status(refresh=True) == JobStatus.FINISHED)

        assert job.return_value() == {
            "tasks": 2,
            "audit_entries": 6,
            "notify_markers": 2,
            "send_records": 2,
            "returning_markers": 0,
        }
        assert {t.id for t in store.list_tasks()} == {"recent", "open", "reopened"}
        assert store.is_opted_out(OPTED_OUT)
        assert scheduled_purges(redis_conn) == [tomorrow]  # the chain goes on, once
    logs = "".join(p.read_text() for p in tmp_path.glob("*.log"))
    assert "Job OK (purge-now)" in logs
    assert NUMBER not in logs and "Jess" not in logs
