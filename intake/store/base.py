"""What every part of the store shares: the key prefix, queue names and small helpers."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from redis import Redis

PREFIX = "intake"
# RQ queue names; the Procfile's worker listens to them in this order.
URGENT_QUEUE = "intake-urgent"
DEFAULT_QUEUE = "intake-default"
TASK_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def is_task_id(text: str) -> bool:
    """Could be a task id: a key part never holds a ':', so "abc:audit" cannot reach a list."""
    return TASK_ID.fullmatch(text) is not None


def mask(number: str | None) -> str:
    """A phone number safe to log: '+1…01'."""
    if not number:
        return "-"
    return f"{number[:2]}…{number[-2:]}" if len(number) > 4 else "…"


class StoreBase:
    """The connection and settings each part of Store uses."""

    def __init__(self, redis: Redis, session_ttl: int = 24 * 3600) -> None:
        self.redis = redis
        self.session_ttl = session_ttl

    def number_ref(self, number: str) -> str:
        """How a phone number appears in key names and sets: every such use goes through here."""
        return number


def utcnow() -> datetime:
    return datetime.now(UTC)


def _strings(items: Any) -> list[str]:
    return [i.decode() if isinstance(i, bytes) else str(i) for i in items]
