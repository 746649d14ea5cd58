"""The /staff pages: sign in and out, the queue (live), one task and its lifecycle actions."""

from __future__ import annotations

import logging
import math
import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import TooManyRequests
from werkzeug.wrappers import Response as BaseResponse

from ... import speed
from ...desk import Desk
from ...tasks import TransitionError
from ...tasks import iso as iso_time
from . import present
from .auth import (
    DEVICE_COOKIE,
    DEVICE_DAYS,
    SignInRefused,
    User,
    authenticate,
    device_cookie,
    password_mark,
    sign_in_client,
)
from .forms import ActionForm, AttemptForm, DoneForm, LoginForm, MessageForm, RescheduleForm

if TYPE_CHECKING:
    from ...app import Services

log = logging.getLogger(__name__)
bp = Blueprint(
    "staff",
    __name__,
    url_prefix="/staff",
    template_folder="../templates",
    static_folder="../static/staff",
    static_url_path="/static",
)
POLL_ENDPOINT = "staff.queue_json"
NEXT_PAGE = re.compile(r"/staff/[A-Za-z0-9_.~/?=&%-]*")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
FORMS: dict[str, type[FlaskForm]] = {
    "claim": ActionForm,
    "attempt": AttemptForm,
    "reschedule": RescheduleForm,
    "done": DoneForm,
    "reopen": ActionForm,
}
VIEWS = ("viewed", "exported")  # audit entries of who saw the details, listed apart from changes
DONE_MESSAGES = {
    "claim": "Claimed: it is yours now.",
    "attempt": "Attempt recorded.",
    "reschedule": "Rescheduled.",
    "done": "Marked done.",
    "reopen": "Reopened.",
}


def services() -> Services:
    """The app's settings, store and Redis."""
    found: Services = current_app.extensions["intake"]
    return found


def now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


@bp.context_processor
def names() -> dict[str, str]:
    """What every staff template shows: the program's name and the business time zone."""
    settings = services().settings
    return {"program": settings.program_name, "tz_name": str(settings.business_timezone)}


@bp.before_request
def idle_timeout() -> BaseResponse | None:
    """Sign out after staff_idle_minutes without a click; the queue's polling does not count."""
    if not current_user.is_authenticated:
        return None
    minutes = services().settings.staff_idle_minutes
    if time.time() - session.get("seen", 0) > minutes * 60:
        logout_user()
        session.clear()
        session.regenerate()  # type: ignore[attr-defined]
        flash(f"You were signed out after {minutes} minutes without activity.", "info")
        return unauthorized()
    if request.endpoint != POLL_ENDPOINT:
        session["seen"] = time.time()
    return None


@bp.after_request
def headers(response: Response) -> Response:
    """No caching of personal details; no framing; scripts and styles only from our own files."""
    if request.endpoint != "staff.static":
        response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # same-origin, not no-referrer: Flask-WTF checks the Referer of HTTPS form posts.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Security-Policy"] = g.get("csp", CSP)
    return response


def unauthorized() -> BaseResponse:
    """Not signed in: the poller gets 401, a page goes to sign-in and comes back after."""
    if request.endpoint == POLL_ENDPOINT:
        return Response('{"error": "signed out"}', status=401, mimetype="application/json")
    target = request.path if request.method == "GET" else None
    return redirect(url_for("staff.login", next=target), code=303)


def safe_next(target: str | None) -> str:
    """Only our own pages: an open redirect would make the sign-in page a phishing tool."""
    # Plain path characters only: a CR/LF would split the Location header (a 500 before).
    if target and NEXT_PAGE.fullmatch(target) and "//" not in target:
        return target
    return url_for("staff.queue")


@bp.errorhandler(CSRFError)
def csrf_error(error: CSRFError) -> tuple[str, int]:
    """A form without a valid CSRF token (often one left open too long): 400, said plainly."""
    message = f"This form could not be accepted ({error.description}) Go back, reload, try again."
    return render_template("staff/error.html", message=message), 400


@bp.errorhandler(TooManyRequests)
def too_many(error: TooManyRequests) -> tuple[str, int]:
    """The sign-in rate limit was hit: 429 with the sign-in form and a message."""
    message = "Too many sign-in attempts for this account from here. Wait a minute and try again."
    return render_template("staff/login.html", form=LoginForm(), error=message), 429


@bp.route("/login", methods=["GET", "POST"])
def login() -> BaseResponse | str:
    """The sign-in form; on success, a fresh session and back to the page asked for."""
    if current_user.is_authenticated:
        return redirect(url_for("staff.queue"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        s = services()
        device = request.cookies.get(DEVICE_COOKIE)
        client = sign_in_client(s.settings, form.email.data, request.remote_addr, device)
        try:
            account = authenticate(s.store, s.settings, form.email.data, form.password.data, client)
        except SignInRefused as refused:
            if refused.wait:
                page = render_template("staff/login.html", form=form, error=str(refused))
                return Response(
                    page, status=429, headers={"Retry-After": str(math.ceil(refused.wait))}
                )
            error = str(refused)
        else:
            session.clear()  # nothing from before sign-in survives it, not even its id
            session.regenerate()  # type: ignore[attr-defined]
            login_user(User(account))
            session.permanent = True
            session["password_mark"] = password_mark(account)
            session["seen"] = time.time()
            log.info("staff signed in")
            response = redirect(safe_next(request.args.get("next")), code=303)
            response.set_cookie(
                DEVICE_COOKIE,
                device_cookie(s.settings, account.email),
                max_age=DEVICE_DAYS * 86400,
                path=url_for("staff.login"),
                secure=True,
                httponly=True,
                samesite="Lax",
            )
            return response
    return render_template("staff/login.html", form=form, error=error)


@bp.post("/logout")
@login_required
def logout() -> BaseResponse:
    """Sign out (a POST with its CSRF token): every session of the account ends, everywhere."""
    if ActionForm().validate_on_submit():
        services().store.end_staff_sessions(current_user.email)
        logout_user()
        session.clear()
        session.regenerate()  # type: ignore[attr-defined]
        flash("You are signed out.", "info")
    return redirect(url_for("staff.login"), code=303)


@bp.get("/")
@login_required
def queue() -> str:
    """Counts by status, open tasks in queue order and the latest done ones."""
    data = _queue_data()
    return render_template("staff/queue.html", queue=data, poll_url=url_for(POLL_ENDPOINT))


@bp.get("/queue.json")
@login_required
def queue_json() -> Response:
    """What the queue page polls: counts and rows (first names and masked numbers only)."""
    s = services()
    data = _queue_data()
    data["task_url"] = url_for("staff.task", task_id="TASK_ID")
    moment = now()
    data["updated_at"] = iso_time(moment)
    data["updated"] = f"{moment.astimezone(s.settings.business_timezone):%H:%M:%S}"
    return jsonify(data)


def _queue_data() -> dict[str, object]:
    s = services()
    tz = s.settings.business_timezone
    return present.queue(s.store.list_tasks(), now(), tz, s.settings, s.store.number_ref)


@bp.get("/tasks/<task_id>")
@login_required
def task(task_id: str) -> str:
    """Everything about one task, its actions and its audit trail."""
    s = services()
    found = s.store.get_task(task_id)
    if found is None:
        abort(404)
    s.store.note_view(task_id, current_user.email)  # who saw the personal details, and when
    trail = s.store.audit(task_id)
    tz = s.settings.business_timezone
    moment = now()
    reschedule = RescheduleForm()
    reschedule.when.data = found.due_at if found.due_at and found.due_at > moment else None
    return render_template(
        "staff/task.html",
        task=found,
        audit=[e for e in trail if e.action not in VIEWS],
        views=[e for e in trail if e.action in VIEWS],
        p=present,
        related=speed.related(s.store.list_tasks(), s.store.number_ref).get(task_id, []),
        related_days=speed.RELATED_DAYS,
        tz=tz,
        now=moment,
        mine=found.status == "claimed" and found.claimed_by == current_user.email,
        claim=ActionForm(),
        attempt=AttemptForm(),
        reschedule=reschedule,
        done=DoneForm(),
        reopen=ActionForm(),
        message=MessageForm(),
        window=s.store.last_inbound("whatsapp", found.from_number)
        if found.channel == "whatsapp" and found.from_number
        else None,
        template=bool(s.settings.whatsapp_template_sid),
        min_when=f"{moment.astimezone(tz):%Y-%m-%dT%H:%M}",
    )


@bp.post("/tasks/<task_id>/<action>")
@login_required
def act(task_id: str, action: str) -> BaseResponse:
    """Claim, attempt, reschedule, done or reopen, always through the Desk."""
    if action not in FORMS:
        abort(404)
    s = services()
    if s.store.get_task(task_id) is None:
        abort(404)
    back = redirect(url_for("staff.task", task_id=task_id), code=303)
    form = FORMS[action]()
    if not form.validate_on_submit():
        flash(_form_problem(form), "error")
        return back
    details: dict[str, object] = {}
    if "note" in form:
        details["note"] = (form.note.data or "").strip() or None
    if isinstance(form, AttemptForm):
        details["outcome"] = form.outcome.data
    if isinstance(form, RescheduleForm):
        try:
            when = form.when.data.astimezone(UTC)
        except OverflowError:  # the year 9999 in a zone behind UTC: no such instant
            when = None
        if when is None or when <= now():
            flash("Pick a time in the future.", "error")
            return back
        details["when"] = when
    desk = Desk(s.store, s.redis, s.settings)
    try:
        desk.change(task_id, action, current_user.email, **details)
    except TransitionError as refused:
        flash(f"Not done: {refused}", "error")
    except KeyError:
        abort(404)
    else:
        flash(DONE_MESSAGES[action], "ok")
    return back


@bp.post("/tasks/<task_id>/message")
@login_required
def message(task_id: str) -> BaseResponse:
    """Text a WhatsApp task's person, on WhatsApp, through the Desk (a job sends it)."""
    s = services()
    if s.store.get_task(task_id) is None:
        abort(404)
    back = redirect(url_for("staff.task", task_id=task_id), code=303)
    form = MessageForm()
    if not form.validate_on_submit():
        flash(_form_problem(form), "error")
        return back
    try:
        Desk(s.store, s.redis, s.settings).message(
            task_id, form.body.data or "", current_user.email
        )
    except TransitionError as refused:
        flash(f"Not sent: {refused}", "error")
    except KeyError:
        abort(404)
    else:
        flash("Message queued on WhatsApp; the audit trail says when it went.", "ok")
    return back


def _form_problem(form: FlaskForm) -> str:
    for field, errors in form.errors.items():
        label = getattr(form, field).label.text if field in form else field
        return f"{label}: {errors[0]}"
    return "The form was incomplete."
