"""GET /healthz: the app is up and Redis answers."""

from __future__ import annotations

from flask import Blueprint, current_app

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[dict[str, str], int]:
    try:
        current_app.extensions["intake"].redis.ping()
    except Exception:
        return {"status": "redis unavailable"}, 503
    return {"status": "ok"}, 200
