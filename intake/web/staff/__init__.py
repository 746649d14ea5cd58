"""The admissions staff dashboard at /staff: sign-in, the live queue, each task's lifecycle."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager

from . import auth, views
from . import flowchart as flowchart  # its routes join views.bp

LOGIN_RATE = "10 per minute"  # sign-in POSTs per client address, before account lockout


def init_app(app: Flask) -> None:
    """Register /staff with secure session cookies, Flask-Login and a sign-in rate limit."""
    services = app.extensions["intake"]
    app.config.update(
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # The idle timeout: each request re-signs the cookie for another staff_idle_minutes.
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=services.settings.staff_idle_minutes),
        SESSION_REFRESH_EACH_REQUEST=True,
    )
    login = LoginManager(app)
    login.user_loader(auth.load_user)
    login.unauthorized_handler(views.unauthorized)
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=services.settings.redis_url,
        storage_options={"key_prefix": services.store.rate_limit_prefix()},
        headers_enabled=False,
    )
    limiter.limit(
        LOGIN_RATE, methods=["POST"], exempt_when=lambda: request.endpoint != "staff.login"
    )(views.bp)
    app.register_blueprint(views.bp)
