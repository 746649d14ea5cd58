"""Admin-only pages: staff accounts (list, disable, enable) and the open tasks as CSV."""

from __future__ import annotations

import csv
import functools
import io
import logging
import re
from collections.abc import Callable
from typing import Any

from flask import Response, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response as BaseResponse

from ...tasks import Task, iso
from .forms import AccountForm
from .views import bp, services

log = logging.getLogger(__name__)

# What an export holds: what staff need to call someone back, nothing more (no free text as said,
# no crisis kind, no topics, no caller ID when it differs from the number to call).
EXPORT_COLUMNS = (
    "id",
    "priority",
    "kind",
    "status",
    "created_at",
    "due_at",
    "language",
    "name",
    "callback_number",
    "best_time_window",
    "voicemail_ok",
    "text_ok",
    "claimed_by",
)
FORMULA = re.compile(r"[=+\-@\t\r]")
PHONE = re.compile(r"\+\d{6,15}")


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Signed in (else to sign-in) and an admin (else a plain 403 page)."""

    @functools.wraps(view)
    def check(*args: Any, **kwargs: Any) -> Any:
        if current_user.role != "admin":
            log.warning("staff admin page refused: not an admin")
            abort(403)
        return view(*args, **kwargs)

    wrapped: Callable[..., Any] = login_required(check)
    return wrapped


@bp.errorhandler(403)
def forbidden(_: Exception) -> tuple[str, int]:
    """Not for this account: said plainly, with the way back."""
    message = "Only an admin can open this page."
    return render_template("staff/error.html", heading="Not allowed", message=message), 403


@bp.get("/admin/accounts")
@admin_required
def accounts() -> str:
    """Every staff account with its role and status, and a button to disable or enable it."""
    return render_template(
        "staff/accounts.html", accounts=services().store.list_staff(), form=AccountForm()
    )


@bp.post("/admin/accounts/<action>")
@admin_required
def account_action(action: str) -> BaseResponse:
    """Disable (ending its sessions at once) or enable an account."""
    if action not in ("disable", "enable"):
        abort(404)
    form = AccountForm()
    back = redirect(url_for("staff.accounts"), code=303)
    if not form.validate_on_submit():
        flash("The form was incomplete.", "error")
        return back
    store = services().store
    email = form.email.data.strip().lower()
    account = store.get_staff(email)
    if account is None:
        flash("No such account.", "error")
        return back
    if action == "disable" and email == current_user.email:
        flash("You cannot disable your own account.", "error")  # nor lock the last admin out
        return back
    store.save_staff(account.model_copy(update={"disabled": action == "disable"}))
    if action == "disable":
        store.end_staff_sessions(email)
    log.info("staff account %sd by an admin", action)
    flash(f"{email} {action}d.", "ok")
    return back


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run: text starting like a formula gets a quote."""
    text = "" if value is None else str(value)
    if FORMULA.match(text) and not PHONE.fullmatch(text):
        return "'" + text
    return text


def export_rows(tasks: list[Task]) -> list[list[str]]:
    """The header and one row per task, in EXPORT_COLUMNS."""
    rows = [list(EXPORT_COLUMNS)]
    for task in tasks:
        values: dict[str, object] = {
            **task.model_dump(include=set(EXPORT_COLUMNS)),
            "created_at": iso(task.created_at),
            "due_at": iso(task.due_at) if task.due_at else None,
        }
        rows.append([_cell(values.get(column)) for column in EXPORT_COLUMNS])
    return rows


@bp.get("/admin/export.csv")
@admin_required
def export() -> Response:
    """The open tasks as CSV; each exported task gets an audit entry saying who and when."""
    store = services().store
    tasks = [t for t in store.list_tasks() if t.is_open]
    for task in tasks:
        store.note_view(task.id, current_user.email, action="exported")
    out = io.StringIO()
    csv.writer(out).writerows(export_rows(tasks))
    log.info("staff export of %d open tasks", len(tasks))
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="open-tasks.csv"'},
    )
