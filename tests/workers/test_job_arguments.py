"""RQ jobs carry ids and references only, as JSON (no pickle), and failed ones expire in days."""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime
from pathlib import Path

from redis import Redis
from rq.job import JobStatus
from rq.serializers import JSONSerializer

from intake import create_app
from intake.config import Settings
from intake.queues import JobQueue, fetch_job
from intake.store import DEFAULT_QUEUE, URGENT_QUEUE
from tests.support.factories import make_request
from tests.support.stores import make_store
from tests.support.worker import work
from workers.jobs import deliveries

from .conftest import STAFF_1, WorkerEnv

ROOT = Path(__file__).resolve().parents[2]
NUMBER = "+13125550199"  # the factories' caller
PERSONAL = ("3125550199", "Sam", "evening", "3125550101", "oncall@")


def job_hashes(redis: Redis) -> bytes:
    """Every RQ job hash, field names and values (its `data`, zlib-compressed, unpacked)."""
    return b"\n".join(
        field + b"=" + (zlib.decompress(value) if field == b"data" else value)
        for key in redis.scan_iter("rq:job:*")
        if redis.type(key) == b"hash"
        for field, value in redis.hgetall(key).items()
    )


def test_the_web_layer_queues_only_the_task_id(redis_conn: Redis, settings: Settings) -> None:
    conversations = create_app(settings).extensions["intake"].conversations
    conversations.enqueue_task(make_request(), "abc123", datetime.now(UTC))

    job = fetch_job("create-task-abc123", redis_conn)
    assert job.args == ["abc123"]
    data = zlib.decompress(redis_conn.hget("rq:job:create-task-abc123", "data") or b"")
    assert json.loads(data)[0] == "workers.jobs.create_task"  # JSON, not a pickle
    blob = job_hashes(redis_conn)
    assert not any(p.encode() in blob for p in PERSONAL)
    assert make_store(redis_conn).staged_task("abc123") is not None  # sealed, read by id


def test_every_job_a_task_starts_carries_no_number_name_or_address(
    redis_conn: Redis, settings: Settings, worker_env: WorkerEnv
) -> None:
    worker_env.set(
        STAFF_NOTIFY_NUMBERS=STAFF_1,
        STAFF_NOTIFY_EMAILS="oncall@center.example.org",
        SMTP_HOST="127.0.0.1",
        SMTP_FROM="intake@center.example.org",
        ESCALATION_NUMBERS="+13125550109",
    )
    s = worker_env.settings
    conversations = create_app(s).extensions["intake"].conversations
    conversations.enqueue_task(
        make_request(kind="crisis", priority="urgent"), "t1", datetime.now(UTC)
    )
    work(redis_conn)  # create_task, notify_task: the sends then fail (no Twilio here) or wait

    assert not any(p.encode() in job_hashes(redis_conn) for p in PERSONAL)
    for d in deliveries(conversations.store.get_task("t1"), s):  # type: ignore[arg-type]
        assert not any(p in json.dumps(d.args) for p in PERSONAL)


def test_failed_jobs_expire_after_failed_job_ttl_days(
    redis_conn: Redis, worker_env: WorkerEnv
) -> None:
    worker_env.set(FAILED_JOB_TTL_DAYS="2")
    queue = JobQueue(DEFAULT_QUEUE, redis_conn, failure_ttl=2 * 86400)
    job = queue.enqueue("workers.jobs.create_task", "nosuchtask")

    work(redis_conn)

    assert job.get_status() == JobStatus.FAILED
    assert 86400 < redis_conn.ttl(f"rq:job:{job.id}") <= 2 * 86400


def test_the_app_queues_with_the_failed_job_ttl_setting(
    redis_conn: Redis, settings_env: dict[str, str]
) -> None:
    settings = Settings.from_env({**settings_env, "FAILED_JOB_TTL_DAYS": "3"})
    conversations = create_app(settings).extensions["intake"].conversations
    conversations.enqueue_task(make_request(), "abc124", datetime.now(UTC))

    assert fetch_job("create-task-abc124", redis_conn).failure_ttl == 3 * 86400
    assert JobQueue(URGENT_QUEUE, redis_conn).serializer is JSONSerializer


def test_the_procfile_worker_reads_json_jobs() -> None:
    worker = next(
        line for line in (ROOT / "Procfile").read_text().splitlines() if line[:7] == "worker:"
    )
    assert "--serializer rq.serializers.JSONSerializer" in worker
