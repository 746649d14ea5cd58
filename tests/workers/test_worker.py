"""The Procfile's worker class: a crashed worker's job and scheduler are taken over soon."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from redis import Redis
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler
from rq.serializers import JSONSerializer

from intake.queues import JobQueue
from intake.store import DEFAULT_QUEUE, URGENT_QUEUE
from workers.worker import HEARTBEAT_GRACE, Worker


def worker(redis: Redis) -> Worker:
    queues = [JobQueue(URGENT_QUEUE, connection=redis), JobQueue(DEFAULT_QUEUE, connection=redis)]
    return Worker(queues, connection=redis, job_monitoring_interval=5, serializer=JSONSerializer)


def test_a_running_jobs_entry_outlives_the_last_heartbeat_by_the_grace_only(
    redis_conn: Redis,
) -> None:
    job = JobQueue(DEFAULT_QUEUE, connection=redis_conn).enqueue("os.getpid", job_timeout=60)

    assert worker(redis_conn).get_heartbeat_ttl(job) == 5 + HEARTBEAT_GRACE  # RQ's: 5 + 60


def hold_lock(redis: Redis, queue: str, owner: str, host: str, pid: int) -> None:
    """A scheduler lock as RQScheduler leaves it: the lock, and the holder's host and pid."""
    redis.set(RQScheduler.get_locking_key(queue), owner, ex=61)
    redis.hset(SCHEDULER_KEY_TEMPLATE % owner, mapping={"hostname": host, "pid": str(pid)})


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_it_frees_the_lock_of_a_scheduler_that_died_on_this_host(redis_conn: Redis) -> None:
    hold_lock(redis_conn, URGENT_QUEUE, "dead", socket.gethostname(), dead_pid())
    hold_lock(redis_conn, DEFAULT_QUEUE, "alive", socket.gethostname(), os.getpid())

    worker(redis_conn)._free_dead_schedulers_locks()

    assert redis_conn.get(RQScheduler.get_locking_key(URGENT_QUEUE)) is None
    assert redis_conn.get(RQScheduler.get_locking_key(DEFAULT_QUEUE)) == b"alive"


def test_it_leaves_the_lock_of_a_scheduler_on_another_host_to_expire(redis_conn: Redis) -> None:
    hold_lock(redis_conn, URGENT_QUEUE, "elsewhere", "another-host", dead_pid())
    redis_conn.set(RQScheduler.get_locking_key(DEFAULT_QUEUE), "unknown", ex=61)

    worker(redis_conn)._free_dead_schedulers_locks()

    assert redis_conn.get(RQScheduler.get_locking_key(URGENT_QUEUE)) == b"elsewhere"
    assert redis_conn.get(RQScheduler.get_locking_key(DEFAULT_QUEUE)) == b"unknown"


ROOT = str(Path(__file__).resolve().parents[2])
# What twilio imports on the first message sent (workers.jobs never imports it itself).
SENDING = "twilio.rest.api.v2010.account.message"


def test_a_job_starts_with_the_flows_and_twilios_rest_client_already_loaded(
    redis_url: str,
) -> None:
    """Loaded once by the worker before it forks, not again by every job (the flows take
    about 2 s of CPU, twilio's REST client 40 ms)."""
    redis = Redis.from_url(redis_url)
    queue = JobQueue(DEFAULT_QUEUE, connection=redis)
    sending = queue.enqueue("tests.workers.probe.imported", SENDING, job_timeout=60)
    flows = queue.enqueue("tests.workers.probe.flows_loaded", job_timeout=60)
    # A fresh interpreter, as the Procfile's worker starts: this one imported everything.
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from redis import Redis; from rq.serializers import JSONSerializer; "
            "from workers.worker import Worker; "
            f"assert {SENDING!r} not in sys.modules; "
            f"r = Redis.from_url({redis_url!r}); "
            f"w = Worker([{DEFAULT_QUEUE!r}], connection=r, serializer=JSONSerializer); "
            "w.work(burst=True)",
        ],
        check=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": ROOT},
    )

    for job in (sending, flows):
        job.refresh()
        assert job.get_status() == "finished"
        assert job.return_value() is True
