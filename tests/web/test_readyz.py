"""GET /readyz: Redis, the flow, the spool, with queue depths; 503 naming what fails."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from flask import Flask

from intake import create_app
from intake.config import Settings
from intake.queues import JobQueue
from intake.store import DEFAULT_QUEUE, URGENT_QUEUE
from tests.support.net import free_port


def ready_app(settings: Settings, tmp_path: Path) -> Flask:
    return create_app(replace(settings, spool_dir=tmp_path / "spool"))


def test_it_is_ready_with_queue_depths_and_an_empty_spool(
    settings: Settings, redis_conn: Any, tmp_path: Path
) -> None:
    app = ready_app(settings, tmp_path)
    JobQueue(URGENT_QUEUE, connection=redis_conn).enqueue("workers.jobs.create_task", "a")
    for _ in range(2):
        JobQueue(DEFAULT_QUEUE, connection=redis_conn).enqueue("workers.jobs.create_task", "b")

    response = app.test_client().get("/readyz")

    assert response.status_code == 200
    assert response.json == {
        "status": "ready",
        "failing": [],
        "checks": {"redis": "ok", "flows": "ok", "spool": "ok"},
        "queues": {URGENT_QUEUE: 1, DEFAULT_QUEUE: 2},
        "spooled": 0,
    }


def test_it_counts_spooled_records_without_reading_them(
    settings: Settings, redis_conn: Any, tmp_path: Path
) -> None:
    app = ready_app(settings, tmp_path)
    spool = app.extensions["intake"].conversations.spool
    spool.append("opt_out", {"number": "+13125550142"})
    spool.append("opt_out", {"number": "+13125550143"})

    response = app.test_client().get("/readyz")

    assert response.status_code == 200
    assert response.json["spooled"] == 2
    assert b"555" not in response.data  # counts only, never what a record holds


def test_it_is_not_ready_when_redis_does_not_answer(settings: Settings, tmp_path: Path) -> None:
    dead = replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    app = ready_app(dead, tmp_path)

    response = app.test_client().get("/readyz")

    assert response.status_code == 503
    body = response.json
    assert body["status"] == "not ready"
    assert body["failing"] == ["redis"]
    assert body["checks"]["redis"] == "unreachable (ConnectionError)"
    assert body["checks"]["flows"] == "ok"
    assert body["queues"] == {URGENT_QUEUE: None, DEFAULT_QUEUE: None}
    # /healthz keeps its own answer
    health = app.test_client().get("/healthz")
    assert (health.status_code, health.json) == (503, {"status": "redis unavailable"})


def test_it_is_not_ready_when_the_spool_cannot_be_written(
    settings: Settings, redis_conn: Any, tmp_path: Path
) -> None:
    app = ready_app(settings, tmp_path)
    (tmp_path / "spool").write_text("a file where the spool directory should be")

    response = app.test_client().get("/readyz")

    assert response.status_code == 503
    assert response.json["failing"] == ["spool"]
    assert response.json["checks"]["spool"] == "spool directory not writable"


def test_it_is_not_ready_without_a_trained_classifier(
    settings: Settings, redis_conn: Any, tmp_path: Path
) -> None:
    app = ready_app(settings, tmp_path)
    app.extensions["intake"].flow.language.model = None

    response = app.test_client().get("/readyz")

    assert response.status_code == 503
    assert response.json["failing"] == ["flows"]
    assert response.json["checks"]["flows"] == "classifier not trained"
