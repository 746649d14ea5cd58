"""The only package that knows Redis key names: sessions, dedupe, opt-outs, tasks, staff.

`Store` is one object; each concept keeps its keys in its own module.
"""

from __future__ import annotations

from .base import DEFAULT_QUEUE, PREFIX, URGENT_QUEUE, is_task_id, mask, utcnow
from .outbox import OutboxStore
from .reports import ReportStore
from .retention import Purged, RetentionStore
from .rotation import Rotated, RotationStore
from .sends import SendStore
from .sessions import Begun, SessionStore
from .staff import StaffAccount, StaffStore
from .tasks import TaskStore

__all__ = [
    "DEFAULT_QUEUE",
    "PREFIX",
    "URGENT_QUEUE",
    "Begun",
    "Purged",
    "Rotated",
    "StaffAccount",
    "Store",
    "is_task_id",
    "mask",
    "utcnow",
]


class Store(
    RotationStore,
    SessionStore,
    TaskStore,
    StaffStore,
    SendStore,
    OutboxStore,
    RetentionStore,
    ReportStore,
):
    """Redis-backed state. Every key name lives in this package."""
