"""The Procfile's RQ worker class (`rq worker --worker-class workers.worker.Worker`)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Worker as RQWorker

REDIS_RETRY_SECONDS = 2.0


class Worker(RQWorker):  # type: ignore[misc]
    """RQ's worker, made to outlast a Redis outage.

    RQ waits for Redis between jobs with a backoff that grows to a minute, and exits when Redis
    goes away while a job runs. This worker looks again every 2 s at most, and after such an
    exit starts working again under a new name once Redis answers (the job it was running is
    re-run by RQ's abandoned-job cleanup, as after a crash), so queued and spooled work resumes
    within seconds of Redis's return.
    """

    max_connection_wait_time = REDIS_RETRY_SECONDS

    def work(self, *args: Any, **kwargs: Any) -> bool:
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
