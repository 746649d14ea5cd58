"""Helpline intake bot. `create_app` is imported lazily so `intake.flow` stays free of Flask."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from .config import Settings


def create_app(settings: Settings | None = None) -> Flask:
    """App factory (see intake.app)."""
    from .app import create_app as factory

    return factory(settings)
