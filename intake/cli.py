"""The `intake` command: flows check, tasks list, chat, dev."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shutil
import sys
import textwrap
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .config import ConfigError, Settings
from .flow.loader import FlowError
from .tasks import OUTCOMES, iso

if TYPE_CHECKING:
    from .simulator import Calling, Texting
    from .store import Store

CHAT_FROM = "+17275550100"  # a fictional 555-01xx number


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="intake", description="Helpline intake bot")
    sub = parser.add_subparsers(dest="command", required=True)

    flows = sub.add_parser("flows", help="check or describe the flow files")
    flows_sub = flows.add_subparsers(dest="flows_command", required=True)
    flows_sub.add_parser("check", help="validate flows/*.yaml, snippets and crisis phrases")
    flows_sub.add_parser("schema", help="print the JSON Schema of a flow file")
    add_flows_graph_parser(flows_sub)

    sub.add_parser("check", help="check every setting and the flows (the worker runs it first)")

    tasks = sub.add_parser("tasks", help="staff tasks")
    tasks_sub = tasks.add_subparsers(dest="tasks_command", required=True)
    tasks_list = tasks_sub.add_parser(
        "list", help="tasks: urgent first, then due time, then oldest"
    )
    tasks_list.add_argument("--json", action="store_true", help="print JSON")
    tasks_list.add_argument("--open", action="store_true", help="leave out done tasks")
    tasks_list.add_argument(
        "--by",
        default=os.environ.get("INTAKE_STAFF_EMAIL"),
        help="your staff email, for the audit trail (default: $INTAKE_STAFF_EMAIL)",
    )
    for name, help_text in [
        ("show", "one task with its attempts and audit trail"),
        ("claim", "claim a task so others see it is yours"),
        ("attempt", "record a call attempt"),
        ("reschedule", "move a claimed task to a new time"),
        ("done", "complete a claimed task"),
        ("reopen", "reopen a done task"),
    ]:
        p = tasks_sub.add_parser(name, help=help_text)
        p.add_argument("task_id")
        if name == "attempt":
            p.add_argument("outcome", choices=OUTCOMES)
        if name == "reschedule":
            p.add_argument("when", help="ISO 8601 time, e.g. 2026-11-26T14:00 (business time zone)")
        p.add_argument(
            "--by",
            default=os.environ.get("INTAKE_STAFF_EMAIL"),
            help="your staff email (default: $INTAKE_STAFF_EMAIL)",
        )
        if name != "show":
            p.add_argument("--note", help="a short note for the audit trail")
        p.add_argument("--json", action="store_true", help="print JSON")

    add_staff_parser(sub)

    purge = sub.add_parser(
        "purge", help="remove done tasks older than RETENTION_DAYS and what was kept for them"
    )
    purge.add_argument("--dry-run", action="store_true", help="count only; change nothing")
    purge.add_argument("--json", action="store_true", help="print JSON")
    add_twilio_parser(sub)
    add_keys_parser(sub)

    report = sub.add_parser(
        "report", help="speed to lead: time to claim and first attempt, contact rate, funnel"
    )
    report.add_argument("--since", type=_day, help="first day, YYYY-MM-DD (default: 30 days ago)")
    report.add_argument("--until", type=_day, help="last day, YYYY-MM-DD (default: today)")
    report.add_argument("--json", action="store_true", help="print JSON")

    chat = sub.add_parser(
        "chat", help="text (or --voice: call) the running app as Twilio would, from a terminal"
    )
    chat.add_argument(
        "--from", dest="from_number", default=CHAT_FROM, help="the number you text from"
    )
    chat.add_argument("--url", help="where the app listens (default: PUBLIC_BASE_URL)")
    chat.add_argument(
        "--voice", action="store_true", help="call instead: keypad keys or typed speech"
    )
    chat.add_argument(
        "--whatsapp",
        action="store_true",
        help="text on WhatsApp instead of SMS (From whatsapp:+1..., to WHATSAPP_FROM)",
    )

    dev = sub.add_parser(
        "dev", help="run Redis (unless REDIS_URL is set), web and worker; what `make run` does"
    )
    dev.add_argument("--port", type=int, default=None)

    args = parser.parse_args(argv)
    try:
        if args.command == "flows":
            if args.flows_command == "graph":
                return flows_graph_command(args.format, args.output)
            return flows_command(args.flows_command)
        if args.command == "check":
            from .app import load_flow

            load_flow(Settings.from_env(), train=False)
            print("settings and flows ok")
            return 0
        if args.command == "tasks":
            if args.tasks_command == "list":
                return tasks_list_command(as_json=args.json, only_open=args.open, by=args.by)
            return task_command(args)
        if args.command == "staff":
            return staff_command(args)
        if args.command == "purge":
            return purge_command(dry_run=args.dry_run, as_json=args.json)
        if args.command == "report":
            return report_command(args.since, args.until, as_json=args.json)
        if args.command == "twilio":
            return twilio_configure_command()
        if args.command == "keys":
            return keys_rotate_command(as_json=args.json)
        if args.command == "chat":
            return chat_command(
                args.from_number, args.url, voice=args.voice, whatsapp=args.whatsapp
            )
        if args.command == "dev":
            from .devserver import run

            return run(port=args.port)
    except ConfigError as e:
        print(f"intake: configuration error: {e}", file=sys.stderr)
        return 2
    except FlowError as e:
        print("intake: invalid flows:", file=sys.stderr)
        for problem in e.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    parser.error("unknown command")
    return 2


def flows_command(what: str) -> int:
    if what == "schema":
        from .flow.model import flow_json_schema

        print(json.dumps(flow_json_schema(), indent=2))
        return 0
    from .app import FLOW_ID
    from .config import flow_settings
    from .flow.loader import default_params, load_flows

    flows_dir, admissions, program = flow_settings()
    flow = load_flows(flows_dir, default_params(admissions, program), train=False)[FLOW_ID]
    print(
        f"flows ok: {flow.id}: {len(flow.spec.states)} states, {len(flow.snippets)} snippets, "
        f"languages {', '.join(flow.spec.languages)}, channels {', '.join(flow.spec.channels)}"
    )
    return 0


def add_flows_graph_parser(flows_sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    graph = flows_sub.add_parser(
        "graph", help="draw the conversation: Mermaid text, or SVG through Graphviz's dot"
    )
    graph.add_argument("--format", choices=["mermaid", "svg"], default="mermaid")
    graph.add_argument("--output", "-o", help="write to this file instead of standard output")


def flows_graph_command(fmt: str, output: str | None) -> int:
    """Print or write the flow's graph; SVG needs Graphviz's `dot` on PATH."""
    import subprocess

    from .app import FLOW_ID
    from .config import flow_settings
    from .flow.graph import build, to_dot, to_mermaid
    from .flow.loader import default_params, load_flows

    flows_dir, admissions, program = flow_settings()
    flow = load_flows(flows_dir, default_params(admissions, program), train=False)[FLOW_ID]
    graph = build(flow.spec)
    if fmt == "mermaid":
        data = to_mermaid(graph).encode()
    else:
        dot = shutil.which("dot")
        if dot is None:
            print(
                "intake: --format svg needs Graphviz's `dot`: install graphviz "
                "(apt-get install graphviz, brew install graphviz), or use --format mermaid",
                file=sys.stderr,
            )
            return 1
        result = subprocess.run(
            [dot, "-Tsvg"], input=to_dot(graph).encode(), capture_output=True, timeout=60
        )
        if result.returncode != 0:
            print(f"intake: dot failed: {result.stderr.decode().strip()}", file=sys.stderr)
            return 1
        data = result.stdout
    if output:
        Path(output).write_bytes(data)
        print(f"wrote {output}", file=sys.stderr)
    else:
        sys.stdout.write(data.decode())
    return 0


def add_twilio_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    twilio = sub.add_parser("twilio", help="the Twilio number")
    twilio_sub = twilio.add_subparsers(dest="twilio_command", required=True)
    twilio_sub.add_parser(
        "configure",
        help="point TWILIO_PHONE_NUMBER's SMS and voice webhooks (and fallbacks) at "
        "PUBLIC_BASE_URL; says what to set by hand for WHATSAPP_FROM",
    )


def add_keys_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    keys = sub.add_parser("keys", help="the encryption keys (ENCRYPTION_KEYS)")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    rotate = keys_sub.add_parser(
        "rotate",
        help="re-encrypt everything in Redis and the spool under the newest key, and seal "
        "what an older version left in clear",
    )
    rotate.add_argument("--json", action="store_true", help="print JSON")


def keys_rotate_command(as_json: bool) -> int:
    """Re-encrypt under ENCRYPTION_KEYS' first key; prints counts, never contents."""
    from .crypto import keyring
    from .spool import Spool

    settings, store = _store()
    counts = store.rotate_keys().counts()
    counts["spooled_records"] = Spool(
        settings.spool_dir, keyring(settings.encryption_keys)
    ).rotate()
    if as_json:
        print(json.dumps(counts))
        return 0
    print(
        "re-encrypted under the newest key: "
        + ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in counts.items())
    )
    return 0


def twilio_configure_command() -> int:
    """Set the number's webhook URLs through Twilio's API; print each change, old -> new."""
    from .twilio_number import NumberSetupError, configure_number, wanted, whatsapp_steps

    settings = Settings.from_env()
    try:
        setup = configure_number(settings)
    except NumberSetupError as e:
        print(f"intake: {e}", file=sys.stderr)
        return 1
    if not setup.changes:
        print(f"{setup.phone_number} already points at {settings.public_base_url}: nothing changed")
    else:
        print(f"{setup.phone_number} ({setup.sid}):")
        for field in wanted(settings.public_base_url):
            if field in setup.changes:
                old, new = setup.changes[field]
                print(f"  {field}: {old or '(none)'} -> {new}")
        print(f"updated {len(setup.changes)} setting(s)")
    for line in whatsapp_steps(settings):  # what the API cannot do
        print(line)
    return 0


def _store() -> tuple[Settings, Store]:
    from redis import Redis

    from .store import Store

    settings = Settings.from_env(dev_redis_env())
    return settings, Store.from_settings(Redis.from_url(settings.redis_url), settings)


def dev_redis_env() -> dict[str, str] | None:
    """The environment with `make run`'s Redis when REDIS_URL is unset and `make run` is up
    (it leaves the URL in var/dev-redis.url); None to read the environment as usual."""
    from dotenv import load_dotenv

    from .config import DEV_REDIS_URL_FILE

    load_dotenv(Path.cwd() / ".env")  # as Settings.from_env() does; the environment wins
    if os.environ.get("REDIS_URL"):
        return None
    try:
        url = (Path.cwd() / DEV_REDIS_URL_FILE).read_text().strip()
    except OSError:
        return None
    if not url:
        return None
    print(f"intake: using the Redis of `make run`, {url} ({DEV_REDIS_URL_FILE})", file=sys.stderr)
    return {**os.environ, "REDIS_URL": url}


TASK_COLUMNS = [
    ("ID", "id"),
    ("PRIORITY", "priority"),
    ("KIND", "kind"),
    ("STATUS", "status"),
    ("CREATED", "created_at"),
    ("NUMBER", "callback_number"),
    ("WINDOW", "best_time_window"),
    ("LANGUAGE", "language"),
]


def tasks_list_command(as_json: bool, only_open: bool = False, by: str | None = None) -> int:
    _, store = _store()
    tasks = [t for t in store.list_tasks() if t.is_open or not only_open]
    for t in tasks:  # the list shows numbers and names: each task's audit trail says who saw it
        store.note_view(t.id, by or "cli", detail="intake tasks list")
    if as_json:
        print(json.dumps([t.as_json() for t in tasks], indent=2, ensure_ascii=False))
        return 0
    if not tasks:
        print("no tasks")
        return 0
    rows = [[header for header, _ in TASK_COLUMNS]]
    for t in tasks:
        data = t.as_json()
        rows.append([str(data.get(key) or "-") for _, key in TASK_COLUMNS])
    widths = [max(len(row[i]) for row in rows) for i in range(len(TASK_COLUMNS))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return 0


def purge_command(dry_run: bool, as_json: bool) -> int:
    """What the worker's daily purge does, now; prints counts, never personal data."""
    from .retention import purge

    settings, store = _store()
    counts = purge(store.redis, settings, datetime.now(UTC), dry_run=dry_run).counts()
    if as_json:
        print(json.dumps({"dry_run": dry_run, "retention_days": settings.retention_days} | counts))
        return 0
    if settings.retention_days <= 0:
        print("RETENTION_DAYS is 0: everything is kept, nothing purged")
        return 0
    verb = "would remove" if dry_run else "removed"
    print(
        f"done more than {settings.retention_days} days ago: {verb} "
        + ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in counts.items())
    )
    return 0


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def report_command(since: date | None, until: date | None, as_json: bool) -> int:
    """The figures /staff/reports shows, from the same code; days in BUSINESS_TIMEZONE."""
    from . import reports

    settings, store = _store()
    tz = settings.business_timezone
    first, last = reports.default_range(datetime.now(tz).date())
    since, until = since or first, until or last
    if until < since:
        print("intake: --until comes before --since", file=sys.stderr)
        return 2
    data = reports.report(store, since, until, tz)
    print(json.dumps(data, indent=2) if as_json else reports.text(data))
    return 0


def task_command(args: argparse.Namespace) -> int:
    """show / claim / attempt / reschedule / done / reopen one task."""
    from .desk import Desk
    from .tasks import TransitionError

    settings, store = _store()
    task = store.get_task(args.task_id)
    if task is None:
        print(f"intake: no task {args.task_id!r}", file=sys.stderr)
        return 1
    if args.tasks_command == "show":
        # Seeing the personal details is an audit entry, from the dashboard or from here.
        store.note_view(task.id, args.by or "cli")
    else:
        if not args.by:
            print("intake: say who you are with --by EMAIL or INTAKE_STAFF_EMAIL", file=sys.stderr)
            return 2
        by = store.get_staff(args.by)
        if by is None or by.disabled:
            print(f"intake: {args.by} is not a staff account, or it is disabled", file=sys.stderr)
            return 2
        details: dict[str, object] = {"note": args.note}
        if args.tasks_command == "attempt":
            details["outcome"] = args.outcome
        if args.tasks_command == "reschedule":
            try:
                when = datetime.fromisoformat(args.when)
            except ValueError:
                print(f"intake: {args.when!r} is not a time like 2026-11-26T14:00", file=sys.stderr)
                return 2
            if when.tzinfo is None:
                when = when.replace(tzinfo=settings.business_timezone)
            details["when"] = when.astimezone(UTC)
        try:
            desk = Desk(store, store.redis, settings)
            task = desk.change(task.id, args.tasks_command, args.by, **details)
        except TransitionError as e:
            print(f"intake: {e}", file=sys.stderr)
            return 1
    detail = task.as_detail()
    detail["audit"] = [
        {"at": iso(e.at), "by": e.by, "action": e.action, "detail": e.detail}
        for e in store.audit(task.id)
    ]
    if args.json:
        print(json.dumps(detail, indent=2, ensure_ascii=False))
    else:
        for key, value in detail.items():
            if key != "audit":
                print(f"{key:>17}: {value}")
        for entry in detail["audit"]:  # type: ignore[attr-defined]
            print(f"  {entry['at']}  {entry['by']:<24} {entry['action']} {entry['detail']}")
    return 0


def add_staff_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    staff = sub.add_parser("staff", help="staff accounts")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    add = staff_sub.add_parser("add", help="create or update an account (password prompted)")
    add.add_argument("email")
    add.add_argument("--role", choices=["admissions", "admin"], default="admissions")
    add.add_argument("--phone", help="number for reminders about tasks you claimed")
    reset = staff_sub.add_parser(
        "reset-password", help="set a new password; the account's sessions end at once"
    )
    reset.add_argument("email")
    for p in (add, reset):
        p.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from standard input, one line (for scripts)",
        )
    listing = staff_sub.add_parser("list", help="list accounts: email, role, status")
    listing.add_argument("--json", action="store_true", help="print JSON")
    for name, help_text in [
        ("disable", "stop an account signing in; its sessions end at once"),
        ("enable", "let a disabled account sign in again"),
        ("remove", "delete an account; its sessions end at once"),
    ]:
        staff_sub.add_parser(name, help=help_text).add_argument("email")


class NoPassword(Exception):
    """No password could be read; the message says why in one line."""


def read_password(email: str, from_stdin: bool) -> str:
    """The new password: one line of stdin, or asked twice at the terminal (rule stated first)."""
    from .store.staff import PASSWORD_RULE, password_problem

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        if not sys.stdin.isatty():
            raise NoPassword(
                "no terminal to ask for the password: pipe it in with --password-stdin"
            )
        print(f"Passwords need {PASSWORD_RULE}.", file=sys.stderr)
        try:
            password = getpass.getpass(f"Password for {email}: ")
            again = getpass.getpass("Again: ")
        except (EOFError, KeyboardInterrupt):
            print(file=sys.stderr)
            raise NoPassword("no password given: nothing changed") from None
        if again != password:
            raise NoPassword("the passwords differ: nothing changed")
    problem = password_problem(password)
    if problem:
        raise NoPassword(problem)
    return password


def staff_command(args: argparse.Namespace) -> int:
    """Add, list, disable, enable, remove staff accounts, or reset a password."""
    from werkzeug.security import generate_password_hash

    from .store import StaffAccount, mask

    _, store = _store()
    if args.staff_command == "list":
        accounts = store.list_staff()
        if args.json:
            rows = [
                {
                    "email": a.email,
                    "role": a.role,
                    "status": "disabled" if a.disabled else "active",
                    "phone": mask(a.phone) if a.phone else None,
                }
                for a in accounts
            ]
            print(json.dumps(rows, indent=2))
            return 0
        if not accounts:
            print("no staff accounts (intake staff add EMAIL)")
        for a in accounts:
            print(f"{a.email}  {a.role}  {'disabled' if a.disabled else 'active'}")
        return 0
    email = args.email.strip().lower()
    if args.staff_command == "add":
        if "@" not in email:
            print(f"intake: {args.email!r} is not an email address", file=sys.stderr)
            return 2
        phone = None
        if args.phone:
            from .flow.text import parse_phone

            phone = parse_phone(args.phone)
            if phone is None:
                print(f"intake: {args.phone!r} is not a valid phone number", file=sys.stderr)
                return 2
        try:
            password = read_password(email, args.password_stdin)
        except NoPassword as e:
            print(f"intake: {e}", file=sys.stderr)
            return 2
        before = store.get_staff(email)
        store.save_staff(
            StaffAccount(
                email=email,
                password_hash=generate_password_hash(password),
                role=args.role,
                phone=phone,
                disabled=before.disabled if before else False,  # re-adding does not enable
            )
        )
        print(f"staff account {email} saved ({args.role})")
        return 0
    account = store.get_staff(email)
    if account is None:
        print(f"intake: no staff account {email} (intake staff list)", file=sys.stderr)
        return 1
    if args.staff_command == "reset-password":
        try:
            password = read_password(email, args.password_stdin)
        except NoPassword as e:
            print(f"intake: {e}", file=sys.stderr)
            return 2
        store.save_staff(
            account.model_copy(update={"password_hash": generate_password_hash(password)})
        )
        print(f"new password for {email}; its sessions ended")
    elif args.staff_command == "disable":
        store.save_staff(account.model_copy(update={"disabled": True}))
        store.end_staff_sessions(email)  # also when it was disabled already
        print(f"{email} disabled; its sessions ended")
    elif args.staff_command == "enable":
        store.save_staff(account.model_copy(update={"disabled": False}))
        print(f"{email} enabled")
    elif args.staff_command == "remove":
        store.remove_staff(email)
        print(f"{email} removed; its sessions ended")
    return 0


def chat_command(
    from_number: str, url: str | None, voice: bool = False, whatsapp: bool = False
) -> int:
    """Text (by SMS, or on WhatsApp with `whatsapp`) or, with `voice`, call the running app as
    Twilio would, from the terminal."""
    from dotenv import load_dotenv

    from .simulator import Calling, Phone, Texting, WebhookError

    load_dotenv(Path.cwd() / ".env")
    env = dict(os.environ)
    # chat only speaks HTTP; under `make run` REDIS_URL is unset (the embedded Redis is private).
    env["REDIS_URL"] = env.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    settings = Settings.from_env(env)
    phone = Phone(
        settings.public_base_url,
        settings.twilio_auth_token,
        settings.twilio_account_sid,
        settings.twilio_phone_number,
        target=url or "",
    )
    where = (url or settings.public_base_url).rstrip("/")
    try:
        if voice:
            return call_loop(Calling(phone, from_number), where)
        texting = Texting(phone, from_number, whatsapp=whatsapp, whatsapp_to=settings.whatsapp_from)
        return text_loop(texting, where)
    except WebhookError as e:
        print(f"[{e}. Is `make run` running?]")
        return 1


def prompt(label: str) -> str | None:
    """One line from stdin (None at its end), with a prompt when a person is typing."""
    if sys.stdin.isatty():
        print(label, end="", flush=True)
    line = sys.stdin.readline()
    return line.rstrip("\n") if line else None


def text_loop(texting: Texting, where: str) -> int:
    """Read lines, text each one, print the replies."""
    from .simulator import WebhookError

    how = "on WhatsApp from whatsapp:" if texting.whatsapp else "from "
    print(
        f"Texting {where}/sms {how}{texting.from_number}. Type a message, Enter to send, "
        "Ctrl-D to quit."
    )
    while (body := prompt("you> ")) is not None:
        try:
            replies = texting.send(body)
        except WebhookError as e:
            if not e.status:
                raise
            print(f"[{e}]")
            continue
        if not replies:
            print("bot> (no reply)")
        for reply in replies:
            print(format_reply(reply.text, reply_width()) + "\n")
    return 0


def call_loop(call: Calling, where: str) -> int:
    """Call: print what the bot says; read keys (digits, * and #) or typed speech until hangup."""
    from .simulator import Dialled, Gathered, HungUp, Said, Step

    print(
        f"Calling {where}/voice from {call.from_number}. At each prompt type keypad keys "
        "(0-9, * and #) or what you would say; Enter alone is silence; Ctrl-D hangs up."
    )
    steps: list[Step] = call.start()
    while True:
        for step in steps:
            if isinstance(step, Said):
                print(format_reply(step.text, reply_width()))
            elif isinstance(step, Gathered):
                for said in step.says:
                    print(format_reply(said.text, reply_width()))
            elif isinstance(step, Dialled):
                print(f"[putting the call through to {step.number}]")
            elif isinstance(step, HungUp):
                print("[the call ended]")
        if call.ended:
            return 0
        if call.dialled is not None:
            answer = prompt("transfer> answered? (y/N) ")
            if answer is None:
                return 0
            steps = call.dial_ends(
                "completed" if answer.strip().lower() in ("y", "yes") else "no-answer"
            )
            continue
        line = prompt("you> ")
        if line is None:
            print("[you hung up]")
            return 0
        line = line.strip()
        if not line:
            steps = call.silence()
        elif all(c in "0123456789*#" for c in line):
            steps = call.press(line)
        else:
            steps = call.say(line)


BOT = "bot> "


def reply_width() -> int:
    """The terminal's width when printing to one; 0 (no wrapping) for a pipe or a file."""
    if not sys.stdout.isatty():
        return 0
    return shutil.get_terminal_size().columns


def format_reply(text: str, width: int) -> str:
    """`bot> ` and the reply, wrapped at word boundaries to `width` (0: one line per paragraph).

    Words longer than a line (a link) stay whole, so they can still be copied.
    """
    paragraphs = text.splitlines() or [""]
    lines: list[str] = []
    for i, paragraph in enumerate(paragraphs):
        first = BOT if i == 0 else " " * len(BOT)
        if width <= len(BOT) + 10:  # no terminal, or one too narrow to wrap into
            lines.append(first + paragraph)
            continue
        lines.append(
            textwrap.fill(
                paragraph,
                width=width - 1,  # a full last column makes some terminals wrap again
                initial_indent=first,
                subsequent_indent=" " * len(BOT),
                break_long_words=False,
                break_on_hyphens=False,
            )
            or first.rstrip()
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
