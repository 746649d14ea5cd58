"""workers.jobs with a real Redis and a real RQ worker, enqueued by name as the web layer does."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from redis import Redis
from rq import Retry, SimpleWorker, Worker
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from intake import create_app
from intake.config import Settings
from intake.conversation import CREATE_TASK_JOB
from intake.flow.events import CallbackRequest
from intake.queues import JobQueue, fetch_job
from intake.store import DEFAULT_QUEUE, URGENT_QUEUE
from intake.tasks import Task
from tests.support import factories
from tests.support.stores import make_store
from tests.support.worker import CRASH_ONCE_JOB, enqueue_task
from workers.jobs import create_task

T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


def make_task(
    priority: str = "normal", created_at: datetime = T0, task_id: str | None = None
) -> dict[str, Any]:
    kind = "crisis" if priority == "urgent" else "callback"
    task = factories.make_task(task_id, kind=kind, priority=priority, created_at=created_at)
    return task.model_dump(mode="json")


def enqueue(redis: Redis, task: dict[str, Any], func: str = CREATE_TASK_JOB, **kw: Any) -> Job:
    """Stage the task and queue its job by id, as the web layer does."""
    kw.setdefault("job_id", None)
    return enqueue_task(redis, Task.model_validate(task), func, **kw)


def queue_for(redis: Redis, task: dict[str, Any]) -> JobQueue:
    name = URGENT_QUEUE if task["priority"] == "urgent" else DEFAULT_QUEUE
    return JobQueue(name, connection=redis)


def worker_queues(redis: Redis) -> list[JobQueue]:
    """The queues in the Procfile worker's order: urgent first."""
    return [JobQueue(URGENT_QUEUE, connection=redis), JobQueue(DEFAULT_QUEUE, connection=redis)]


def work(redis: Redis) -> None:
    """Run every queued job in this process, like the Procfile's worker does."""
    SimpleWorker(worker_queues(redis), connection=redis, serializer=JSONSerializer).work(burst=True)


def test_it_stores_the_task(redis_conn: Redis) -> None:
    task = make_task()
    job = enqueue(redis_conn, task)

    work(redis_conn)

    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == task["id"]
    store = make_store(redis_conn)
    tasks = store.list_tasks()
    assert [t.model_dump(mode="json") for t in tasks] == [task]
    assert store.get_task(task["id"]) == Task.model_validate(task)
    assert store.notifications_due() == [task["id"]]


def test_it_stores_a_task_once_when_enqueued_twice(redis_conn: Redis) -> None:
    task = make_task()
    enqueue(redis_conn, task, job_id="first")
    enqueue(redis_conn, task, job_id="second")

    work(redis_conn)

    assert fetch_job("first", redis_conn).get_status() == JobStatus.FINISHED
    assert fetch_job("second", redis_conn).get_status() == JobStatus.FINISHED
    store = make_store(redis_conn)
    assert [t.id for t in store.list_tasks()] == [task["id"]]
    assert store.notifications_due() == [task["id"]]


def test_it_stores_a_task_once_when_the_job_is_retried(redis_conn: Redis) -> None:
    task = make_task()
    job = enqueue(redis_conn, task, CRASH_ONCE_JOB, retry=Retry(max=2))

    work(redis_conn)

    assert job.get_status() == JobStatus.FINISHED
    assert redis_conn.get(f"test:attempts:{job.id}") == b"2"
    store = make_store(redis_conn)
    assert [t.id for t in store.list_tasks()] == [task["id"]]
    assert store.notifications_due() == [task["id"]]


def test_it_lists_urgent_first_then_oldest(redis_conn: Redis) -> None:
    newer = make_task(created_at=T0 + timedelta(minutes=5))
    older = make_task(created_at=T0)
    urgent = make_task(priority="urgent", created_at=T0 + timedelta(minutes=10))
    for task in (newer, urgent, older):
        enqueue(redis_conn, task)

    work(redis_conn)

    store = make_store(redis_conn)
    assert [t.id for t in store.list_tasks()] == [urgent["id"], older["id"], newer["id"]]
    assert sorted(store.notifications_due()) == sorted([urgent["id"], older["id"], newer["id"]])


def test_it_fails_on_an_invalid_payload(redis_conn: Redis) -> None:
    task = make_task()
    job = enqueue(redis_conn, task)
    task["priority"] = "whenever"
    store = make_store(redis_conn)
    redis_conn.set(f"intake:staged:{task['id']}", store.seal(json.dumps(task)))
    queue = queue_for(redis_conn, make_task())

    work(redis_conn)

    assert job.get_status() == JobStatus.FAILED
    assert job.id in FailedJobRegistry(queue=queue).get_job_ids()
    failure = job.latest_result().exc_string or ""  # type: ignore[union-attr]
    assert "invalid task payload: priority" in failure
    # the failed-job registry and the worker's log must not repeat what the person told us
    assert task["callback_number"] not in failure and "whenever" not in failure
    store = make_store(redis_conn)
    assert store.list_tasks() == []
    assert store.notifications_due() == []


def test_it_fails_when_run_outside_a_worker() -> None:
    try:
        create_task(make_task()["id"])
    except RuntimeError as e:
        assert "RQ worker" in str(e)
    else:
        raise AssertionError("create_task ran without a worker")


def test_it_runs_in_a_forking_worker(redis_conn: Redis) -> None:
    task = make_task()
    job = enqueue(redis_conn, task)

    Worker(worker_queues(redis_conn), connection=redis_conn, serializer=JSONSerializer).work(
        burst=True
    )

    assert job.get_status() == JobStatus.FINISHED
    assert [t.id for t in make_store(redis_conn).list_tasks()] == [task["id"]]


def test_it_stores_what_the_conversation_queues(redis_conn: Redis, settings: Settings) -> None:
    conversations = create_app(settings).extensions["intake"].conversations  # as the web wires it
    request = CallbackRequest(
        kind="crisis",
        priority="urgent",
        channel="sms",
        language="es",
        from_number="+13125550199",
        callback_number="+13125550199",
        name=None,
        best_time=None,
        best_time_window=None,
        for_whom=None,
        voicemail_ok=None,
        text_ok=None,
    )

    conversations.enqueue_task(request, "abc123", T0)
    assert JobQueue(URGENT_QUEUE, connection=redis_conn).job_ids == ["create-task-abc123"]
    work(redis_conn)

    tasks = make_store(redis_conn).list_tasks()
    assert [t.as_json() for t in tasks] == [
        {
            "id": "abc123",
            "kind": "crisis",
            "priority": "urgent",
            "status": "new",
            "created_at": "2026-03-02T14:30:00Z",
            "channel": "sms",
            "language": "es",
            "from_number": "+13125550199",
            "callback_number": "+13125550199",
            "name": None,
            "best_time": None,
            "best_time_window": None,
            "for_whom": None,
            "voicemail_ok": None,
            "text_ok": None,
            "topics": [],
        }
    ]
