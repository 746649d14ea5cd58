"""The admissions staff dashboard at /staff: sign-in, the live queue, each task's lifecycle."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager

from . import admin, auth, flowchart, reports, views  # noqa: F401 (they add routes to views.bp)
from .sessions import RedisSessionInterface

# Sign-in POSTs per account and client, whatever the throttle says: a flood is refused before
# any password is hashed. Never per address alone: behind a load balancer that is everyone.
LOGIN_RATE = "30 per minute"
log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Register /staff with server-side sessions, Flask-Login and a sign-in rate limit."""
    services = app.extensions["intake"]
    idle = services.settings.staff_idle_minutes
    app.session_interface = RedisSessionInterface(services.store, ttl_seconds=idle * 60)
    app.config.update(
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PATH="/staff",  # only the dashboard has sessions; webhooks never see one
        # The idle timeout: each request keeps the record (and cookie) another staff_idle_minutes.
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=idle),
        SESSION_REFRESH_EACH_REQUEST=True,
    )
    login = LoginManager(app)
    login.user_loader(auth.load_user)
    login.unauthorized_handler(views.unauthorized)
    settings = services.settings

    def account_and_client() -> str:
        email = request.form.get("email", "") if request.method == "POST" else ""
        device = request.cookies.get(auth.DEVICE_COOKIE)
        client = auth.sign_in_client(settings, email, get_remote_address(), device)
        return auth.throttle_digest(settings, email, client)

    limiter = Limiter(
        account_and_client,
        storage_uri=services.settings.redis_url,
        storage_options={"key_prefix": services.store.rate_limit_prefix()},
        headers_enabled=False,
    )
    limiter.limit(
        LOGIN_RATE, methods=["POST"], exempt_when=lambda: request.endpoint != "staff.login"
    )(views.bp)
    # Only the staff pages have limits: the limiter's request hooks run for them alone. On
    # every request they cost a webhook 60 us; Twilio's webhooks are signature-checked and
    # have their own per-number inbound limit.
    _for_blueprint_only(app, views.bp.name, limiter.init_app)
    app.register_blueprint(views.bp)
    if not settings.trusted_proxies:
        app.before_request(_warn_of_an_untrusted_proxy())


def _for_blueprint_only(app: Flask, blueprint: str, init: Callable[[Flask], None]) -> None:
    """Run an extension's `init_app`, then move the request hooks it added to the app onto one
    blueprint, where Flask runs them for that blueprint's requests only."""
    hooks = (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs)
    had = [list(h.get(None, [])) for h in hooks]
    init(app)
    for table, old in zip(hooks, had, strict=True):
        added = [f for f in table.get(None, []) if f not in old]
        table[None] = old
        table.setdefault(blueprint, []).extend(added)  # type: ignore[arg-type]


def _warn_of_an_untrusted_proxy() -> Callable[[], None]:
    """Once per process: X-Forwarded-For arrives, but TRUSTED_PROXIES is 0."""
    warned = False

    def check() -> None:
        nonlocal warned
        if not warned and "X-Forwarded-For" in request.headers:
            warned = True
            # Every client then has the proxy's address: sign-in throttling (per account and
            # client) would slow an account down for everyone behind it.
            log.warning(
                "requests carry X-Forwarded-For but TRUSTED_PROXIES is 0: every client looks "
                "like the proxy; set TRUSTED_PROXIES to the number of proxies in front of the app"
            )

    return check  # with admin's routes on it
