"""/simulator: a phone in the browser, for development only (SIMULATOR_ENABLED; 404 otherwise).

The page's script calls the JSON endpoints here, which act as Twilio through intake/simulator.py:
signed POSTs over real HTTP to this same app's /sms and /voice, so the page exercises exactly
what Twilio does. The POSTs need the page's token; every route answers loopback clients only.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request

from .. import simulator as sim
from ..flow.segments import is_gsm7, segment_count

bp = Blueprint(
    "simulator",
    __name__,
    url_prefix="/simulator",
    template_folder="templates",
    static_folder="static/simulator",
    static_url_path="/static",
)
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# Numbers in the fictional 555-01xx range, to pick from on the page.
FROM_NUMBERS = ("+17275550100", "+13125550142", "+12125550173")
MAX_TEXT = 1600  # Twilio's own limit on a message body
CALL_ACTIONS = ("start", "press", "say", "silence", "dial")
TOKEN_HEADER = "X-CSRFToken"
TOKEN_MAX_AGE = 12 * 3600  # seconds: reload the page after that
DIAL_OUTCOMES = ("completed", "no-answer", "busy", "failed")


def settings() -> Any:
    return current_app.extensions["intake"].settings


LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")


@bp.before_request
def loopback_only() -> None:
    """A development tool: not for anyone reaching this machine over the network, nor for a web
    page whose own domain was rebound to 127.0.0.1 (DNS rebinding: its Host header says so)."""
    try:
        loopback = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        loopback = False
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    if not loopback or host.lower() not in LOCAL_HOSTS:
        abort(404)


def token(now: float | None = None) -> str:
    """The page's token for its posts: a time and its HMAC under SECRET_KEY. It stands in for
    Flask-WTF's, which needs a session, and sessions live only under /staff."""
    stamp = str(int(time.time() if now is None else now))
    return f"{stamp}.{_mac(stamp)}"


def _mac(stamp: str) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, f"simulator-csrf:{stamp}".encode(), hashlib.sha256).hexdigest()


@bp.before_request
def posts_from_the_page_only() -> None:
    """A POST needs the page's token (another site cannot read the page, so cannot have one) and,
    when the browser says where it comes from, this origin."""
    if request.method != "POST":
        return
    stamp, _, mac = request.headers.get(TOKEN_HEADER, "").partition(".")
    fresh = stamp.isdigit() and 0 <= time.time() - int(stamp) <= TOKEN_MAX_AGE
    if not (fresh and hmac.compare_digest(mac, _mac(stamp))):
        abort(400, "the simulator's token is missing or old: reload the page")
    origin = request.headers.get("Origin")
    if origin is not None and origin != request.host_url.rstrip("/"):
        abort(400, "a post from another origin")


@bp.after_request
def headers(response: Response) -> Response:
    """Scripts and styles from our own files only; nothing cached."""
    response.headers["Content-Security-Policy"] = CSP
    if request.endpoint != "simulator.static":
        response.headers["Cache-Control"] = "no-store"
    return response


def phone() -> sim.Phone:
    """Twilio's view of this app; posts go to the address this server listens on, never to a
    host a request named (the signatures must not leave this machine)."""
    s = settings()
    host = request.environ.get("SERVER_NAME", "")
    if host in ("", "0.0.0.0", "::", "localhost"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    target = f"http://{host}:{request.environ.get('SERVER_PORT', '80')}"
    return sim.Phone(
        s.public_base_url,
        s.twilio_auth_token,
        s.twilio_account_sid,
        s.twilio_phone_number,
        target=target,
    )


@bp.get("")
def page() -> str:
    """The phone."""
    return render_template(
        "simulator/phone.html",
        numbers=FROM_NUMBERS,
        hidden=sim.HIDDEN_CALLER_ID,
        helpline=settings().twilio_phone_number,
        program=settings().program_name,
        token=token(),
    )


def body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400)
    return data


def field(data: dict[str, Any], name: str, limit: int = 200) -> str:
    value = data.get(name, "")
    if not isinstance(value, str) or len(value) > limit:
        abort(400)
    return value


def refused(e: sim.WebhookError) -> tuple[Response, int]:
    return jsonify(error=str(e), status=e.status), 502


@bp.post("/text")
def text() -> Any:
    """Text the helpline: {from, body, cookies, whatsapp} -> {sent, replies, cookies}; on
    WhatsApp nothing is counted in SMS segments (`segments` null)."""
    data = body()
    cookies = data.get("cookies") or {}
    if not isinstance(cookies, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in cookies.items()
    ):
        abort(400)
    message = field(data, "body", MAX_TEXT)
    whatsapp = data.get("whatsapp") is True
    texting = sim.Texting(
        phone(), field(data, "from", 40), dict(cookies), whatsapp, settings().whatsapp_from
    )
    try:
        replies = texting.send(message)
    except sim.WebhookError as e:
        return refused(e)
    shown = [sim.as_dict(r) for r in replies]
    if whatsapp:
        for reply in shown:
            reply.update(encoding="WhatsApp", segments=None)
    return jsonify(
        sent={
            "encoding": "WhatsApp" if whatsapp else "GSM-7" if is_gsm7(message) else "UCS-2",
            "segments": None if whatsapp else segment_count(message),
        },
        replies=shown,
        cookies=texting.cookies,
    )


@bp.post("/call")
def call() -> Any:
    """Call the helpline: {action, from | call, digits, speech, status} -> {steps, call}."""
    data = body()
    action = field(data, "action")
    if action not in CALL_ACTIONS:
        abort(400)
    try:
        if action == "start":
            calling = sim.Calling(phone(), field(data, "from", 40))
            steps = calling.start()
        else:
            state = data.get("call")
            if not isinstance(state, dict):
                abort(400)
            try:
                calling = sim.Calling.resume(phone(), state)
            except (KeyError, TypeError, ValueError):
                abort(400)
            if action == "press":
                digits = field(data, "digits", 40)
                if not digits or any(c not in "0123456789*#" for c in digits):
                    abort(400)
                steps = calling.press(digits)
            elif action == "say":
                steps = calling.say(field(data, "speech", 500))
            elif action == "silence":
                steps = calling.silence()
            else:
                status = field(data, "status")
                if status not in DIAL_OUTCOMES:
                    abort(400)
                steps = calling.dial_ends(status)
    except sim.WebhookError as e:
        return refused(e)
    return jsonify(steps=[sim.as_dict(s) for s in steps], call=calling.state())


@bp.get("/tasks")
def tasks() -> Any:
    """The tasks made for one From number (a hidden caller ID: those with no number)."""
    sender = request.args.get("from", "")
    wanted = None if sender == sim.HIDDEN_CALLER_ID else sender
    found = [
        t for t in current_app.extensions["intake"].store.list_tasks() if t.from_number == wanted
    ]
    found.sort(key=lambda t: t.created_at, reverse=True)
    return jsonify(
        tasks=[
            {
                "id": t.id,
                "kind": t.kind,
                "priority": t.priority,
                "status": t.status,
                "channel": t.channel,
                "language": t.language,
                "best_time": t.best_time or "",
                "crisis": t.crisis_category or "",
                "created_at": t.created_at.isoformat(),
            }
            for t in found
        ]
    )
