"""GET /healthz: the app is up and Redis answers. GET /readyz: ready to take webhooks."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app

from ..queues import JobQueue
from ..store import DEFAULT_QUEUE, URGENT_QUEUE

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[dict[str, str], int]:
    try:
        current_app.extensions["intake"].redis.ping()
    except Exception:
        return {"status": "redis unavailable"}, 503
    return {"status": "ok"}, 200


@bp.get("/readyz")
def readyz() -> tuple[dict[str, Any], int]:
    """Redis, the flow and its classifier, the spool; with queue depths and spooled records.

    Only counts and check names: nothing about a person.
    """
    services = current_app.extensions["intake"]
    conversations = services.conversations
    checks: dict[str, str] = {}
    queues: dict[str, int | None] = {URGENT_QUEUE: None, DEFAULT_QUEUE: None}
    try:
        services.redis.ping()
        for name in queues:
            queues[name] = JobQueue(name, services.redis).count
        checks["redis"] = "ok"
    except Exception as e:  # any failure to reach Redis means not ready; the type says which
        checks["redis"] = f"unreachable ({type(e).__name__})"
    flow = services.flow
    if not flow.spec.states:
        checks["flows"] = "no states loaded"
    elif flow.language.model is None:
        checks["flows"] = "classifier not trained"
    else:
        checks["flows"] = "ok"
    checks["spool"] = "ok" if conversations.spool.writable() else "spool directory not writable"
    failing = [name for name, result in checks.items() if result != "ok"]
    body = {
        "status": "not ready" if failing else "ready",
        "failing": failing,
        "checks": checks,
        "queues": queues,
        "spooled": conversations.spool.count(),
    }
    return body, 503 if failing else 200
