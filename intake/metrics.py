"""GET /metrics for Prometheus: webhook counts and latency, crises, tasks, queues, claims.

Labels are channels, flow states, crisis categories, statuses, priorities and queue names: a
fixed, small set, never a number, a name, a message or a task id. Under gunicorn each worker
writes its samples to PROMETHEUS_MULTIPROC_DIR (set by intake.gunicorn_conf) and a scrape adds
them up; what lives in Redis (tasks, queues, failed notifications) is read at scrape time, so it
is the same whichever worker answers.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time
from collections import Counter as Tally
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from rq import Queue
from rq.registry import FailedJobRegistry

from .flow.engine import Session
from .store import DEFAULT_QUEUE, URGENT_QUEUE
from .tasks import Task

bp = Blueprint("metrics", __name__)

# Which requests are Twilio webhooks, and on which channel.
WEBHOOKS = {
    "sms.inbound": "sms",
    "fallback.sms_fallback": "sms",
    "voice.incoming": "voice",
    "voice.gathered": "voice",
    "voice.dial_status": "voice",
    "fallback.voice_fallback": "voice",
}

WEBHOOK_SECONDS = Histogram(
    "intake_webhook_seconds",
    "Time to answer a Twilio webhook, by channel and the flow state it left the person in",
    ["channel", "step"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CRISES = Counter(
    "intake_crisis_detected", "Crisis messages that made an urgent task, by category", ["category"]
)
TASKS_QUEUED = Counter(
    "intake_tasks_queued",
    "Tasks handed to the workers, by channel and priority",
    ["channel", "priority"],
)
TIME_TO_CLAIM = Histogram(
    "intake_time_to_claim_seconds",
    "From a task's creation to a staff member claiming it, by priority",
    ["priority"],
    buckets=(60, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400),
)


def step_done(session: Session | None) -> None:
    """Note the flow state one webhook step left the person in (the latency's step label)."""
    g.metrics_step = session.state if session is not None else "none"
    if session is not None:
        g.metrics_channel = session.channel  # /sms serves SMS and WhatsApp


def task_queued(task: Task) -> None:
    """A task went to the workers: by channel and priority, and a crisis by its category."""
    TASKS_QUEUED.labels(channel=task.channel, priority=task.priority).inc()
    if task.kind == "crisis":
        CRISES.labels(category=task.crisis_category or "unknown").inc()


def task_claimed(task: Task, now: Any) -> None:
    TIME_TO_CLAIM.labels(priority=task.priority).observe(
        max(0.0, (now - task.created_at).total_seconds())
    )


class RedisCollector(Collector):
    """Read at scrape time from Redis: tasks by status, queue depths, failed jobs, spool."""

    def __init__(self, services: Any) -> None:
        self.services = services

    def collect(self) -> Iterator[GaugeMetricFamily]:
        services = self.services
        statuses = GaugeMetricFamily(
            "intake_tasks", "Tasks in Redis by status and priority", labels=["status", "priority"]
        )
        failed = GaugeMetricFamily(
            "intake_notification_failed_tasks",
            "Tasks whose staff notification could not be delivered",
        )
        depth = GaugeMetricFamily("intake_queue_depth", "Jobs waiting, by queue", labels=["queue"])
        failed_jobs = GaugeMetricFamily(
            "intake_failed_jobs", "Jobs in RQ's failed registry, by queue", labels=["queue"]
        )
        up = GaugeMetricFamily("intake_redis_up", "1 when Redis answered this scrape")
        try:
            tasks = services.store.list_tasks()
            tally = Tally((t.status, t.priority) for t in tasks)
            for (status, priority), count in sorted(tally.items()):
                statuses.add_metric([status, priority], count)
            failed.add_metric([], sum(1 for t in tasks if t.delivery_failed))
            for name in (URGENT_QUEUE, DEFAULT_QUEUE):
                queue = Queue(name, connection=services.redis)
                depth.add_metric([name], queue.count)
                failed_jobs.add_metric([name], FailedJobRegistry(queue=queue).count)
            up.add_metric([], 1)
            yield from (statuses, failed, depth, failed_jobs)
        except Exception:  # a scrape during an outage still answers, and says so
            up.add_metric([], 0)
        yield up
        spooled = GaugeMetricFamily("intake_spooled", "Records kept on disk while Redis was down")
        spooled.add_metric([], services.conversations.spool.count())
        yield spooled


def allowed(token: str, networks: Iterable[str]) -> bool:
    """A scrape needs METRICS_TOKEN as a bearer token, or to come from METRICS_ALLOW."""
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n, strict=False) for n in networks)


@bp.get("/metrics")
def metrics() -> Response:
    services = current_app.extensions["intake"]
    settings = services.settings
    if not allowed(settings.metrics_token, settings.metrics_allow):
        abort(404)  # nothing here for anyone else, not even that it exists
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:  # one process (tests, intake dev without gunicorn): this process's own samples
        for collector in (WEBHOOK_SECONDS, CRISES, TASKS_QUEUED, TIME_TO_CLAIM):
            registry.register(collector)
    registry.register(RedisCollector(services))
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    """Time every webhook and serve /metrics."""

    @app.before_request
    def started() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def finished(response: Response) -> Response:
        channel = WEBHOOKS.get(request.endpoint or "")
        if channel:
            channel = g.get("metrics_channel", channel)
        started = g.get("metrics_started")
        if channel and started is not None:
            WEBHOOK_SECONDS.labels(channel=channel, step=g.get("metrics_step", "none")).observe(
                time.perf_counter() - started
            )
        return response

    app.register_blueprint(bp)
