"""How tasks read on the dashboard: ages, local times, consent labels, queue rows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import phonenumbers

from ... import speed
from ...config import Settings
from ...tasks import Task, iso

STATUSES = ("new", "claimed", "rescheduled", "reopened", "done")
LANGUAGES = {"en": "English", "es": "Spanish"}
KINDS = {"callback": "Callback", "crisis": "Crisis"}
CHANNELS = {"sms": "Text message", "voice": "Phone call", "whatsapp": "WhatsApp"}
FOR_WHOM = {"self": "Themselves", "other": "Someone else (family or friend)"}
CRISIS = {
    "suicide": "Suicidal thoughts",
    "self_harm": "Self-harm",
    "overdose": "Overdose / medical emergency",
    "danger": "Someone in danger",
}
WINDOWS = {
    "now": "as soon as possible",
    "morning": "morning",
    "afternoon": "afternoon",
    "evening": "evening",
    "any": "any time",
}
DONE_SHOWN = 50
SOON = 0.75  # past this share of its claim target, a waiting time turns amber
UNCLAIMED = ("new", "reopened")
WHATSAPP_WINDOW = timedelta(hours=24)  # free-form messages after the person's last one


def age(since: datetime, now: datetime) -> str:
    """'just now', '3 min', '2 h 5 min', '4 d'."""
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} d"


def local_time(moment: datetime, now: datetime, tz: ZoneInfo) -> str:
    """'today 14:00', 'tomorrow 09:00', 'yesterday 18:30' or 'Thu 26 Nov 09:00', in `tz`."""
    local, today = moment.astimezone(tz), now.astimezone(tz).date()
    days = (local.date() - today).days
    day = {0: "today", 1: "tomorrow", -1: "yesterday"}.get(days, local.strftime("%a %d %b"))
    return f"{day} {local:%H:%M}"


def full_time(moment: datetime, tz: ZoneInfo) -> str:
    """'Wed 25 Nov 2026, 09:00 EST'."""
    return f"{moment.astimezone(tz):%a %d %b %Y, %H:%M %Z}"


def window(start: datetime | None, end: datetime | None, tz: ZoneInfo) -> str:
    """The time asked for, in `tz`: 'Tue 25 Nov, 18:00–21:00', or '' if none was understood."""
    if start is None:
        return f"{end.astimezone(tz):%a %d %b, until %H:%M}" if end else ""
    first = start.astimezone(tz)
    if end is None:
        return f"{first:%a %d %b, from %H:%M}"
    last = end.astimezone(tz)
    if last.date() == first.date():
        return f"{first:%a %d %b, %H:%M}–{last:%H:%M}"
    if last.time() == time(0) and last.date() == first.date() + timedelta(days=1):
        return f"{first:%a %d %b, %H:%M}–24:00"  # "tonight" ends at midnight, not tomorrow
    return f"{first:%a %d %b, %H:%M} – {last:%a %d %b, %H:%M}"


def for_whom(task: Task) -> str:
    """'Themselves', 'Someone else (brother)' in the person's words, or 'not asked'."""
    if task.for_whom == "other" and task.for_whom_detail:
        return f"Someone else ({task.for_whom_detail})"
    return FOR_WHOM.get(task.for_whom or "", "not asked")


def phone(number: str | None) -> str:
    """A number as staff read it out: '+1 727-555-0100'."""
    if not number:
        return ""
    try:
        parsed = phonenumbers.parse(number, "US")
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def voicemail_label(task: Task) -> tuple[str, str]:
    """The voicemail consent as (text, css class): only an explicit yes allows one."""
    if task.voicemail_ok is True:
        return "Voicemail OK", "yes"
    if task.voicemail_ok is False:
        return "Do NOT leave a voicemail", "no"
    return "Voicemail: not asked — do not assume", "unknown"


def text_label(task: Task) -> tuple[str, str]:
    """The texting consent as (text, css class): only an explicit yes allows a text."""
    if task.text_ok is True:
        return "Texts OK", "yes"
    if task.text_ok is False:
        return "Do NOT text", "no"
    return "Texts: not asked — do not assume", "unknown"


def counts(tasks: list[Task]) -> dict[str, int]:
    """Tasks by status, plus open urgent ones."""
    by_status = Counter[str](t.status for t in tasks)
    result = {s: by_status[s] for s in STATUSES}
    result["urgent_open"] = sum(1 for t in tasks if t.is_open and t.priority == "urgent")
    return result


def first_name(name: str | None) -> str:
    """What the queue calls the person: their first name, or initials when it is long."""
    words = (name or "").split()
    if not words:
        return ""
    if len(words[0]) <= 16:
        return words[0]
    return "".join(w[0].upper() + "." for w in words[:2])


def masked(number: str | None) -> str:
    """A number on the queue: its last four digits only ('•••0142')."""
    digits = "".join(c for c in number or "" if c.isdigit())
    return f"•••{digits[-4:]}" if len(digits) >= 4 else ""


def best_time(task: Task, now: datetime, tz: ZoneInfo) -> str:
    """The person's window, short: 'today 18:00', 'evening', 'as soon as possible' or ''."""
    if task.best_time_start is not None:
        return local_time(task.best_time_start, now, tz)
    return WINDOWS.get(task.best_time_window or "", "")


def channel(name: str) -> str:
    """'Text message', 'Phone call', or the channel's own name for one this code does not know."""
    return CHANNELS.get(name, name.replace("_", " ").capitalize())


def target_label(task: Task, settings: Settings) -> str:
    """The claim target as set: '5 min' (urgent), '1 h of business time' (normal)."""
    if task.priority == "urgent":
        return duration(settings.urgent_claim_minutes)
    return f"{duration(settings.normal_claim_minutes)} of business time"


def duration(minutes: float) -> str:
    """'5 min', '1 h', '1 h 30 min'."""
    start = datetime(2000, 1, 1)
    return age(start, start + timedelta(minutes=minutes)).replace("just now", "under a minute")


def wait_state(task: Task, now: datetime, target: datetime) -> str:
    """'held' once someone owns the task, else 'ok', 'soon' (most of the target used) or 'late'."""
    if task.status not in UNCLAIMED:
        return "held"
    if now >= target:
        return "late"
    allowed = (target - task.created_at).total_seconds()
    used = (now - task.created_at).total_seconds()
    return "soon" if allowed > 0 and used >= SOON * allowed else "ok"


def row(
    task: Task,
    now: datetime,
    tz: ZoneInfo,
    settings: Settings,
    links: list[Task] | None = None,
) -> dict[str, object]:
    """One queue line: waiting time against its target, who (first name, masked number), when."""
    due = task.due_at or task.created_at
    target = speed.claim_target(task, settings)
    return {
        "id": task.id,
        "priority": task.priority,
        "kind": task.kind,
        "crisis": CRISIS.get(task.crisis_category or "", ""),
        "status": task.status,
        "created_at": iso(task.created_at),
        "age": age(task.created_at, now),
        "target_at": iso(target),
        "target": target_label(task, settings),
        "wait": wait_state(task, now, target),
        "overdue": speed.overdue(task, now, settings),
        "opens_at": iso(speed.window_opens(task, settings)),
        "due_at": iso(due),
        "due": local_time(due, now, tz),
        "who": first_name(task.name),
        "number": masked(task.callback_number or task.from_number),
        "best": best_time(task, now, tz),
        "channel": channel(task.channel),
        "language": LANGUAGES.get(task.language, task.language),
        "owner": task.claimed_by or "",
        "attempts": len(task.attempts),
        "delivery_failed": task.delivery_failed,
        "escalated": task.escalated,
        "related": [{"id": t.id, "kind": t.kind} for t in links or []],
    }


def queue(
    tasks: list[Task],
    now: datetime,
    tz: ZoneInfo,
    settings: Settings,
    number_ref: Callable[[str], str],
) -> dict[str, object]:
    """The queue page's data: counts, open tasks in queue order, the latest done ones."""
    done = sorted((t for t in tasks if not t.is_open), key=lambda t: t.created_at, reverse=True)
    links = speed.related(tasks, number_ref)
    return {
        "counts": counts(tasks),
        "open": [row(t, now, tz, settings, links.get(t.id)) for t in tasks if t.is_open],
        "done": [row(t, now, tz, settings, links.get(t.id)) for t in done[:DONE_SHOWN]],
        "done_total": len(done),
    }
