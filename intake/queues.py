"""RQ as every part of the app uses it: jobs serialised as JSON (never pickle), and failed jobs
kept for FAILED_JOB_TTL_DAYS, not RQ's year.

Jobs carry ids and references only (workers/jobs.py reads what they need from the store), so
neither a queued nor a failed job holds anything personal.
"""

from __future__ import annotations

from typing import Any

from redis import Redis
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer

from . import logs
from .config import Settings

SERIALIZER = JSONSerializer
DEFAULT_FAILURE_TTL = 7 * 24 * 3600


class JobQueue(Queue):  # type: ignore[misc]
    """A Queue of JSON jobs whose failures expire after `failure_ttl` seconds."""

    def __init__(
        self, name: str, connection: Redis, failure_ttl: int = DEFAULT_FAILURE_TTL, **kwargs: Any
    ) -> None:
        kwargs.setdefault("serializer", SERIALIZER)
        super().__init__(name, connection=connection, **kwargs)
        self.failure_ttl = failure_ttl

    def create_job(self, *args: Any, **kwargs: Any) -> Job:
        if kwargs.get("failure_ttl") is None:
            kwargs["failure_ttl"] = self.failure_ttl
        # The request (or job) this one comes from: its log lines carry the same id.
        request_id = logs.REQUEST_ID.get()
        if request_id != "-":
            kwargs["meta"] = {"request_id": request_id, **(kwargs.get("meta") or {})}
        return super().create_job(*args, **kwargs)


def failure_ttl(settings: Settings) -> int:
    """FAILED_JOB_TTL_DAYS in seconds."""
    return settings.failed_job_ttl_days * 24 * 3600


def job_queue(name: str, redis: Redis, settings: Settings) -> JobQueue:
    """The queue `name` with the settings' failed-job TTL."""
    return JobQueue(name, redis, failure_ttl=failure_ttl(settings))


def fetch_job(job_id: str, redis: Redis) -> Job:
    """An existing job, read with the app's serializer; raises NoSuchJobError."""
    return Job.fetch(job_id, connection=redis, serializer=SERIALIZER)
