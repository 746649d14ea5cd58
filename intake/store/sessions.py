"""Conversation sessions, dedupe of deliveries, the inbound limit and opt-outs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

from redis.lock import Lock

from ..flow.engine import Session
from .base import PREFIX, StoreBase

SEEN_MESSAGE_TTL = 7 * 24 * 3600  # Twilio retries within minutes; a week is plenty
RETURNING_TTL = 30 * 24 * 3600  # how long we remember that a number talked to us
INBOUND_WINDOW = 60  # seconds: the inbound limit counts messages per sender per minute
# WhatsApp allows free-form messages this long after the person's last message.
WHATSAPP_WINDOW = 24 * 3600


def optouts_key(channel: str = "sms") -> str:
    """The opt-out set of a channel: SMS (and voice, whose follow-ups are texts) keep the
    original `optouts` set, so every opt-out recorded before WhatsApp stays valid."""
    return f"{PREFIX}:optouts:whatsapp" if channel == "whatsapp" else f"{PREFIX}:optouts"


class Begun(NamedTuple):
    """What one inbound step starts from."""

    first: bool  # not a repeated delivery of a message already handled
    session: Session | None
    opted_out: bool
    recent: int  # messages from this sender in the current minute, this one included


class SessionStore(StoreBase):
    """What one conversation needs between messages."""

    # --- sessions --------------------------------------------------------

    # `key` is the person's number (texts) or the CallSid (calls): either way only its
    # number_ref appears in key names.

    def session_key(self, channel: str, key: str) -> str:
        return f"{PREFIX}:session:{channel}:{self.number_ref(key)}"

    def _returning_key(self, channel: str, key: str) -> str:
        return f"{PREFIX}:returning:{channel}:{self.number_ref(key)}"

    def lock(self, channel: str, key: str) -> Lock:
        """Serialises messages from one person: two arriving together run one after the other."""
        lock: Lock = self.redis.lock(
            f"{PREFIX}:lock:{channel}:{self.number_ref(key)}", timeout=30, blocking_timeout=20
        )
        return lock

    def load_session(self, channel: str, key: str) -> Session | None:
        raw = self.redis.get(self.session_key(channel, key))
        if raw is None:
            return None
        return Session.model_validate_json(self.unseal(raw))

    def begin_step(
        self, channel: str, key: str, contact: str, delivery_id: str, sender: str = ""
    ) -> Begun:
        """Dedupe mark, session, opt-out and the sender's count this minute, in one round trip.

        `sender`: who to count against the inbound limit ("" counts nobody).
        """
        pipe = self.redis.pipeline(transaction=False)
        if delivery_id:
            pipe.set(f"{PREFIX}:seen:{delivery_id}", "1", nx=True, ex=SEEN_MESSAGE_TTL)
        if sender:
            # A window from the sender's first message, not the clock's minute (a burst across
            # a minute boundary would get twice the limit); SET NX EX, as Redis 6.2 has no
            # EXPIRE NX.
            counter = f"{PREFIX}:inbound:{channel}:{self.number_ref(sender)}"
            pipe.set(counter, 0, nx=True, ex=INBOUND_WINDOW)
            pipe.incr(counter)
        pipe.get(self.session_key(channel, key))
        pipe.sismember(optouts_key(channel), self.number_ref(contact or "-"))
        results = pipe.execute()
        first = bool(results[0]) if delivery_id else True
        recent = int(results[-3]) if sender else 0
        raw, opted_out = results[-2], bool(results[-1])
        session = None if raw is None else Session.model_validate_json(self.unseal(raw))
        return Begun(first, session, opted_out, recent)

    def save_session(self, key: str, session: Session) -> None:
        pipe = self.redis.pipeline()
        pipe.set(
            self.session_key(session.channel, key),
            self.seal(session.model_dump_json()),
            ex=self.session_ttl,
        )
        pipe.set(self._returning_key(session.channel, key), "1", ex=RETURNING_TTL)
        pipe.execute()

    def delete_session(self, channel: str, key: str) -> None:
        self.redis.delete(self.session_key(channel, key))

    def is_returning(self, channel: str, key: str) -> bool:
        """We talked with this person before, but their session has expired."""
        return bool(self.redis.exists(self._returning_key(channel, key)))

    # --- opt-outs (kept forever; only START/UNSTOP removes one), per channel --

    def opt_out(self, number: str, channel: str = "sms") -> None:
        self.redis.sadd(optouts_key(channel), self.number_ref(number))

    def opt_in(self, number: str, channel: str = "sms") -> None:
        self.redis.srem(optouts_key(channel), self.number_ref(number))

    def is_opted_out(self, number: str, channel: str = "sms") -> bool:
        return bool(self.redis.sismember(optouts_key(channel), self.number_ref(number)))

    # --- WhatsApp's 24-hour window ------------------------------------------

    def _inbound_at_key(self, channel: str, number: str) -> str:
        return f"{PREFIX}:last-inbound:{channel}:{self.number_ref(number)}"

    def note_inbound(self, channel: str, number: str, at: datetime) -> None:
        """When this number last wrote on `channel` (sealed: when someone wrote is theirs);
        gone once the window it opens has closed."""
        self.redis.set(
            self._inbound_at_key(channel, number),
            self.seal(at.astimezone(UTC).isoformat()),
            ex=WHATSAPP_WINDOW,
        )

    def last_inbound(self, channel: str, number: str) -> datetime | None:
        """When this number last wrote on `channel`, if within the last 24 hours."""
        raw = self.redis.get(self._inbound_at_key(channel, number))
        return None if raw is None else datetime.fromisoformat(self.unseal(raw))
