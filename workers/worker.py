"""The Procfile's RQ worker class (`rq worker --worker-class workers.worker.Worker`)."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Worker as RQWorker
from rq.job import Job
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler
from rq.scripts import release_lock

from intake import logs, outbound, retention

REDIS_RETRY_SECONDS = 2.0
# How long a running job's entry outlives the worker's last heartbeat (RQ's own: 60 s). The
# worker beats every --job-monitoring-interval seconds; after a crash the job is re-run once
# its entry has expired and a worker's registry cleanup (--maintenance-interval) finds it.
HEARTBEAT_GRACE = 10


class Worker(RQWorker):  # type: ignore[misc]
    """RQ's worker, made to outlast a Redis outage.

    RQ waits for Redis between jobs with a backoff that grows to a minute, and exits when Redis
    goes away while a job runs. This worker looks again every 2 s at most, and after such an
    exit starts working again under a new name once Redis answers (the job it was running is
    re-run by RQ's abandoned-job cleanup, as after a crash), so queued and spooled work resumes
    within seconds of Redis's return.

    It also notices a crashed worker's jobs sooner (see HEARTBEAT_GRACE), and takes over the
    scheduler lock of a scheduler that died on this host instead of waiting a minute for it to
    expire (retries after a crash are scheduled jobs: they need a scheduler).
    """

    max_connection_wait_time = REDIS_RETRY_SECONDS

    def get_heartbeat_ttl(self, job: Job) -> int:
        ttl = int(super().get_heartbeat_ttl(job)) - 60 + HEARTBEAT_GRACE
        return max(ttl, HEARTBEAT_GRACE)

    def _start_scheduler(self, *args: Any, **kwargs: Any) -> None:
        self._free_dead_schedulers_locks()
        super()._start_scheduler(*args, **kwargs)

    def run_maintenance_tasks(self) -> None:
        self._free_dead_schedulers_locks()
        self._schedule_purge()
        super().run_maintenance_tasks()

    def _schedule_purge(self) -> None:
        """Make sure the next daily retention purge is scheduled (once, whichever worker asks)."""
        from workers import jobs  # the job's own settings, read once per process

        settings = jobs.settings()
        at = retention.next_run(datetime.now(UTC))
        if retention.schedule_purge(self.connection, settings, at) is not None:
            self.log.debug("Retention purge scheduled at %s", at.isoformat())

    def _free_dead_schedulers_locks(self) -> None:
        """Release scheduler locks whose holder ran on this host and is gone."""
        for queue in self.queues:
            key = RQScheduler.get_locking_key(queue.name)
            owner = self.connection.get(key)
            if owner is None:
                continue
            name = _text(owner)
            host, pid = self.connection.hmget(SCHEDULER_KEY_TEMPLATE % name, ["hostname", "pid"])
            if host is None or pid is None or _text(host) != socket.gethostname():
                continue  # elsewhere or unknown: its lock expires on its own
            if not _alive(int(pid)) and release_lock(self.connection, key, name):
                self.log.warning("Scheduler lock of %s freed: its scheduler died", queue.name)

    def perform_job(self, job: Job, queue: Any) -> bool:
        """Log the job under the id of the request that queued it (or its own id)."""
        token = logs.REQUEST_ID.set(str(job.meta.get("request_id") or job.id))
        try:
            return bool(super().perform_job(job, queue))
        finally:
            logs.REQUEST_ID.reset(token)

    def work(self, *args: Any, **kwargs: Any) -> bool:
        from workers import jobs  # the job's own settings, read once per process

        settings = jobs.settings()
        # Loaded in this process, so that every job forked from it starts with them: the flows
        # (about 2 s of CPU: a text to the person renders from them) and twilio's REST client.
        jobs.flow()
        outbound.preload()
        # The jobs' own lines (masked, as the web's) go to stderr as the web's do; RQ's lines
        # keep RQ's handlers, and are not repeated through the root logger.
        logging.getLogger("rq.worker").propagate = False
        logs.configure(settings.log_level, settings.log_format, loggers=("rq.worker",))
        while True:
            try:
                return bool(super().work(*args, **kwargs))
            except (RedisConnectionError, RedisTimeoutError) as e:
                self.log.warning("Redis went away (%s): working again once it answers", e)
                self._wait_for_redis()
                self.name = uuid.uuid4().hex  # the old registration may still look alive
                self._stop_requested = False

    def _wait_for_redis(self) -> None:
        while True:
            time.sleep(REDIS_RETRY_SECONDS)
            try:
                self.connection.ping()
                return
            except (RedisConnectionError, RedisTimeoutError):
                continue


def _alive(pid: int) -> bool:
    """Whether a process of this host runs; a zombie does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
