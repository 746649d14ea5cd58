"""Running RQ as the Procfile's worker does: in-process for most tests, or as a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from redis import Redis
from rq import SimpleWorker, Worker, get_current_job
from rq.job import Job
from rq.serializers import JSONSerializer

from intake.conversation import CREATE_TASK_JOB
from intake.queues import JobQueue
from intake.store import DEFAULT_QUEUE, URGENT_QUEUE
from intake.tasks import Task
from tests.support.factories import make_task
from tests.support.stores import make_store
from workers.jobs import create_task

ROOT = Path(__file__).resolve().parents[2]


def queues(redis: Redis) -> list[JobQueue]:
    """The queues in the Procfile worker's order: urgent first."""
    return [JobQueue(URGENT_QUEUE, connection=redis), JobQueue(DEFAULT_QUEUE, connection=redis)]


def work(redis: Redis) -> None:
    """Run every queued job in this process, once (no scheduler: retries with a pause wait)."""
    SimpleWorker(queues(redis), connection=redis, serializer=JSONSerializer).work(burst=True)


def work_until(redis: Redis, done: Callable[[], bool], timeout: float = 15.0) -> None:
    """Run burst workers with the scheduler until `done()`: scheduled retries run when due."""
    deadline = time.monotonic() + timeout
    while True:
        SimpleWorker(queues(redis), connection=redis, serializer=JSONSerializer).work(
            burst=True, with_scheduler=True
        )
        if done():
            return
        if time.monotonic() > deadline:
            raise AssertionError("the jobs did not get there in time")
        time.sleep(0.1)


def new_task(**overrides: Any) -> Task:
    """A task as the conversation would queue it; crisis tasks are urgent."""
    defaults: dict[str, Any] = dict(
        callback_number="+13125550188", name="Sam Rivera", topics=["opioids"]
    )
    if overrides.get("kind") == "crisis":
        defaults["priority"] = "urgent"
    return make_task(**{**defaults, **overrides})


def stage(redis: Redis, task: Task) -> None:
    """Stage the task (sealed) for its create_task job, as the web layer does."""
    with redis.pipeline() as pipe:
        make_store(redis).stage_task(task, pipe)
        pipe.execute()


def enqueue_task(redis: Redis, task: Task, func: str = CREATE_TASK_JOB, **options: Any) -> Job:
    """Stage the task and queue `func` with its id as the web layer does (by name, on the
    task's queue)."""
    stage(redis, task)
    name = URGENT_QUEUE if task.priority == "urgent" else DEFAULT_QUEUE
    options.setdefault("job_id", f"create-task-{task.id}")
    options.setdefault("description", f"create {task.kind} task {task.id}")
    job: Job = JobQueue(name, connection=redis).enqueue(func, task.id, **options)
    return job


def wait_registered(
    redis_url: str, process: subprocess.Popen[Any], log: Path, already: int = 0
) -> None:
    """Until the worker started as `process` has registered with Redis (more than `already`
    workers), ready for jobs: it loads the flows first, which takes seconds."""
    redis = Redis.from_url(redis_url)
    deadline = time.monotonic() + 120
    while len(Worker.all(connection=redis)) <= already:
        if process.poll() is not None:
            raise AssertionError(f"the worker exited:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the worker did not start within 120 s; log in {log}")
        time.sleep(0.05)


@contextmanager
def rq_worker(env: dict[str, str], redis_url: str, log: Path) -> Iterator[subprocess.Popen[Any]]:
    """The Procfile's worker (`rq worker --worker-class ...`) as a real process, stopped after."""
    command = [
        str(Path(sys.executable).parent / "rq"),
        "worker",
        "--worker-class",
        "workers.worker.Worker",
        "--serializer",
        "rq.serializers.JSONSerializer",
        "--with-scheduler",
        "--url",
        redis_url,
        URGENT_QUEUE,
        DEFAULT_QUEUE,
    ]
    full_env = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "HOME": os.environ.get("HOME", str(log.parent)),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(ROOT),
        **env,
    }
    already = len(Worker.all(connection=Redis.from_url(redis_url)))
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            env=full_env,
            cwd=log.parent,  # no .env there
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_registered(redis_url, process, log, already)
            yield process
        finally:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=15)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


CRASH_ONCE_JOB = f"{__name__}.create_task_then_crash_once"


def create_task_then_crash_once(task_id: str) -> str:
    """create_task, then fail the first time as if the worker died before acknowledging."""
    task_id = create_task(task_id)
    job = get_current_job()
    assert job is not None
    if job.connection.incr(f"test:attempts:{job.id}") == 1:
        raise ConnectionError("worker lost its connection after writing")
    return task_id
