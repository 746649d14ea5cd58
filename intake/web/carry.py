"""The session copy a request carries, so a conversation goes on while Redis is away.

Voice: in the query string of every URL our TwiML gives Twilio (Gather action, Dial action);
Twilio signs the full URL, so a changed copy fails the signature before it is read. SMS: in a
cookie, which Twilio returns for the same From/To pair for up to four hours. Either way the copy
is compact (what the engine needs, nothing the request already says), compressed, encrypted
and authenticated with Fernet (ENCRYPTION_KEYS), bound to its call or number, and refused once
older than SESSION_TTL_SECONDS, as Redis would have forgotten it by then.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from datetime import UTC, datetime

from ..crypto import InvalidToken, MultiFernet
from ..flow.engine import Session
from ..flow.model import Medium

COOKIE = "intake_sms"
COOKIE_MAX_AGE = 4 * 3600  # Twilio keeps a webhook's cookies for four hours at most
QUERY = "s"


def seal(keys: MultiFernet, session: Session, key: str) -> str:
    """The session, compact and encrypted, as a URL- and cookie-safe string."""
    compact = {
        "k": _bind(key),
        "s": session.state,
        "l": session.language,
        "a": session.attempts,
        "f": session.fields,
        "t": session.topics,
        "n": session.last_snippet,
        "b": _micros(session.started_at),
        "u": _micros(session.updated_at),
    }
    raw = zlib.compress(json.dumps(compact, separators=(",", ":")).encode(), 9)
    return keys.encrypt(raw).decode().rstrip("=")


def unseal(
    keys: MultiFernet,
    token: str,
    key: str,
    flow: str,
    channel: Medium,
    contact: str,
    ttl: int,
) -> Session | None:
    """The session a token holds, or None when it is missing, altered, too old or not this one's."""
    if not token or len(token) > 4096:
        return None
    padded = token + "=" * (-len(token) % 4)
    try:
        compact = json.loads(zlib.decompress(keys.decrypt(padded.encode(), ttl=ttl)))
        if compact["k"] != _bind(key):
            return None
        return Session(
            flow=flow,
            channel=channel,
            language=compact["l"],
            contact=contact,
            state=compact["s"],
            attempts=compact["a"],
            fields=compact["f"],
            topics=compact["t"],
            last_snippet=compact["n"],
            started_at=_datetime(compact["b"]),
            updated_at=_datetime(compact["u"]),
        )
    except (InvalidToken, ValueError, KeyError, TypeError, zlib.error):
        return None


def _bind(key: str) -> str:
    """A short digest of the CallSid or number: a copy from one call cannot steer another."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def _micros(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def _datetime(micros: int) -> datetime:
    seconds, rest = divmod(int(micros), 1_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest)


def step_id(session: Session | None) -> str:
    """Which step of a call a carried copy stands for: with the CallSid, Twilio's retry key."""
    return str(_micros(session.updated_at)) if session is not None else ""
