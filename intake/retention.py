"""The retention purge, shared by `intake purge` and the worker's daily job."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta

from redis import Redis
from rq.job import Job
from rq.registry import CanceledJobRegistry, FailedJobRegistry, FinishedJobRegistry

from .config import Settings
from .queues import JobQueue, job_queue
from .store import DEFAULT_QUEUE, URGENT_QUEUE, Purged, Store

log = logging.getLogger(__name__)

PURGE_JOB = "workers.jobs.purge"  # by name, as the web layer does: intake never imports workers
PURGE_AT = time(3, 0)  # UTC: the quiet hours in the Americas


def cutoff(settings: Settings, now: datetime) -> datetime | None:
    """Tasks closed before this are purged; None when RETENTION_DAYS is 0 (keep for ever)."""
    if settings.retention_days <= 0:
        return None
    return now.astimezone(UTC) - timedelta(days=settings.retention_days)


def purge(redis: Redis, settings: Settings, now: datetime, dry_run: bool = False) -> Purged:
    """Remove what outlived the retention period; counts only, never contents, come back."""
    before = cutoff(settings, now)
    if before is None:
        return Purged()
    purged = Store.from_settings(redis, settings).purge(before, dry_run=dry_run)
    _drop_jobs(redis, set(purged.task_ids), dry_run)
    return purged


def _drop_jobs(redis: Redis, task_ids: set[str], dry_run: bool) -> None:
    """RQ's records of the purged tasks' jobs (a failed one keeps its arguments for long)."""
    if not task_ids or dry_run:
        return
    for name in (URGENT_QUEUE, DEFAULT_QUEUE):
        queue = JobQueue(name, redis)
        for registry in (
            FailedJobRegistry(queue=queue),
            FinishedJobRegistry(queue=queue),
            CanceledJobRegistry(queue=queue),
        ):
            for job_id in registry.get_job_ids():
                if any(part in task_ids for part in job_id.split("-")):
                    registry.remove(job_id, delete_job=True)


def next_run(now: datetime) -> datetime:
    """The next PURGE_AT after `now`."""
    now = now.astimezone(UTC)
    today = datetime.combine(now.date(), PURGE_AT, tzinfo=UTC)
    return today if today > now else today + timedelta(days=1)


def purge_job_id(at: datetime) -> str:
    """One job per day: every worker that schedules it names the same job, so it runs once."""
    return f"purge-{at.astimezone(UTC):%Y-%m-%d}"


def schedule_purge(redis: Redis, settings: Settings, at: datetime) -> str | None:
    """Schedule the purge at `at` (RQ's scheduler runs it), unless RETENTION_DAYS is 0."""
    if settings.retention_days <= 0:
        return None
    job_id = purge_job_id(at)
    existing = Job.exists(job_id, connection=redis)
    if not existing:
        job_queue(DEFAULT_QUEUE, redis, settings).enqueue_at(
            at, PURGE_JOB, job_id=job_id, description="retention purge"
        )
    return job_id
