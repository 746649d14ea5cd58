"""Jobs the web layer enqueues by dotted name ("workers.jobs.create_task")."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from redis import Redis
from rq import get_current_job

from intake.store import Store
from intake.tasks import Task

log = logging.getLogger(__name__)


def _redis() -> Redis:
    job = get_current_job()
    if job is None:
        raise RuntimeError("workers.jobs functions run inside an RQ worker")
    return job.connection


def create_task(task: dict[str, Any]) -> str:
    """Write a staff task once (a retried job finds it there) and mark staff as due to hear."""
    try:
        parsed = Task.model_validate(task)
    except ValidationError as e:
        # pydantic's message repeats the input (names, numbers): keep only where it was wrong.
        fields = ", ".join(".".join(str(p) for p in err["loc"]) for err in e.errors())
        raise ValueError(f"invalid task payload: {fields}") from None
    created = Store(_redis()).create_task(parsed)
    log.info("task %s %s (%s)", parsed.id, "created" if created else "already stored", parsed.kind)
    return parsed.id
