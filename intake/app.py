"""The Flask app: settings, flow, Redis and blueprints wired together."""

from __future__ import annotations

import ctypes
import gc
from dataclasses import dataclass

from flask import Flask, Response
from flask_wtf.csrf import CSRFProtect
from redis import Redis
from werkzeug.middleware.proxy_fix import ProxyFix

from . import logs, metrics
from .config import Settings
from .conversation import Conversations
from .crypto import MultiFernet, keyring
from .flow.engine import Flow, render
from .flow.loader import default_params, load_flows
from .flow.model import Channel
from .queues import failure_ttl
from .spool import Spool
from .store import Store
from .web import security_headers
from .web.body_limit import BodyLimit

FLOW_ID = "helpline"


@dataclass
class Services:
    """What the transports need, built once per app."""

    settings: Settings
    flow: Flow
    keys: MultiFernet  # ENCRYPTION_KEYS: the session copies in URLs and cookies, the spool
    redis: Redis
    store: Store
    conversations: Conversations

    def error_text(self, channel: Channel, language: str = "en") -> str:
        """The apology with the admissions number, for when something broke."""
        texts = self.flow.spec.messages["error"][channel]
        return render(texts.get(language) or texts[self.flow.spec.languages[0]], self.flow.params)


def load_flow(settings: Settings, train: bool = True) -> Flow:
    """The helpline flow, validated; raises FlowError naming file:state:field.

    `train`: fit the intent classifier too (the web app needs it; workers and checks don't).
    """
    params = default_params(settings.admissions_phone, settings.program_name)
    flows = load_flows(
        settings.flows_dir,
        params,
        settings.business_timezone,
        train=train,
        cache=settings.model_cache_dir,
    )
    return flows[FLOW_ID]


def create_app(settings: Settings | None = None) -> Flask:
    """App factory; refuses to start on bad settings or an invalid flow."""
    settings = settings or Settings.from_env()
    logs.configure(settings.log_level, settings.log_format)
    flow = load_flow(settings)
    # A Redis that hangs must not hang the webhook past Twilio's timeout: fail fast, apologise.
    timeout = settings.redis_timeout_seconds
    redis = Redis.from_url(
        settings.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout
    )
    store = Store.from_settings(redis, settings)
    app = Flask(__name__)
    if settings.trusted_proxies:
        # Behind a load balancer: the client's address (sign-in rate limits) and scheme come
        # from its headers. Webhook signatures never depend on this: they use PUBLIC_BASE_URL.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    # Outermost: an oversized body is refused before anything reads or parses it.
    https = settings.public_base_url.startswith("https://")
    app.wsgi_app = BodyLimit(  # type: ignore[method-assign]
        app.wsgi_app, headers=security_headers.security_headers(https)
    )
    security_headers.init_app(app, https)
    app.config["SECRET_KEY"] = settings.secret_key
    keys = keyring(settings.encryption_keys)
    spool = Spool(settings.spool_dir, keys)
    app.extensions["intake"] = Services(
        settings=settings,
        flow=flow,
        keys=keys,
        redis=redis,
        store=store,
        conversations=Conversations(
            flow,
            store,
            redis,
            settings.business_timezone,
            spool,
            inbound_limit=settings.inbound_limit_per_minute,
            failure_ttl=failure_ttl(settings),
        ),
    )
    from .web import fallback, health, sms, staff, voice

    app.register_blueprint(sms.bp)
    app.register_blueprint(fallback.bp)
    app.register_blueprint(voice.bp)
    app.register_blueprint(health.bp)
    csrf = CSRFProtect(app)
    csrf.exempt(sms.bp)  # Twilio signs its webhooks instead; it cannot send a CSRF token
    csrf.exempt(voice.bp)
    csrf.exempt(fallback.bp)
    staff.init_app(app)
    metrics.init_app(app)

    @app.before_request
    def request_id() -> None:
        logs.REQUEST_ID.set(logs.new_request_id())

    @app.after_request
    def say_request_id(response: Response) -> Response:
        response.headers["X-Request-Id"] = logs.REQUEST_ID.get()
        return response

    if settings.simulator_enabled:  # development only: without it, /simulator is a 404
        from .web import simulator

        app.register_blueprint(simulator.bp)
        # Its posts carry the page's own token: Flask-WTF's needs a session, kept under /staff.
        csrf.exempt(simulator.bp)
    return app


def keep_for_life() -> None:
    """Hide what is loaded by now from the garbage collector, for good (a web worker calls this
    once its app is loaded).

    The flows, the language layer's data and its model live as long as the worker. Left in
    sight, every full collection walked them again, in the middle of a request: about 120 ms
    each time, once every few hundred texts (bench/cpu_per_request.py).
    """
    gc.collect()
    gc.freeze()
    _return_freed_memory()


def _return_freed_memory() -> None:
    """Give the heap that loading used and freed back to the system.

    Reading the flows normalises some 30,000 example texts; glibc keeps the memory they
    took once freed, and it would count in the worker's resident size for its whole life.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return  # not glibc (macOS, musl): nothing kept to give back
    libc.malloc_trim(0)
