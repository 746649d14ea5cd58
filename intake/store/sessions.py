"""Conversation sessions, dedupe of deliveries, the inbound limit and opt-outs."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, NamedTuple

from redis.commands.core import Script
from redis.exceptions import LockError
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


LOCK_TIMEOUT = 30  # seconds a per-person lock lives if its holder never releases it
LOCK_WAIT = 20  # seconds a message waits for the one before it from the same person

# One round trip to begin a step (EVALSHA): take the person's lock, then under it mark the
# delivery seen, count the sender and read session, opt-out and returning flags.
# KEYS: lock, seen, inbound counter, session, opt-outs, returning.
# ARGV: lock token ("" takes no lock), lock ms, seen ttl, window, opt-out ref, dedupe?, count?
# Returns {0} while someone else holds the lock, {1, 0} for a repeat (lock left free), else
# {1, 1, recent, session or false, opted out, returning}.
_BEGIN = """
if ARGV[1] ~= '' and not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {0}
end
if ARGV[6] == '1' and not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[3]) then
  if ARGV[1] ~= '' then redis.call('DEL', KEYS[1]) end
  return {1, 0}
end
local recent = 0
if ARGV[7] == '1' then
  redis.call('SET', KEYS[3], 0, 'NX', 'EX', ARGV[4])
  recent = redis.call('INCR', KEYS[3])
end
return {1, 1, recent, redis.call('GET', KEYS[4]),
        redis.call('SISMEMBER', KEYS[5], ARGV[5]), redis.call('EXISTS', KEYS[6])}
"""
# Free the lock only if it is still ours (it may have expired and been taken): as redis-py's
# Lock.release, but sent as EVAL inside the step's closing MULTI.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _person_key(kind: str, channel: str, ref: str) -> str:
    """A per-person key: `ref` is the number_ref of a number or CallSid, never the number."""
    return f"{PREFIX}:{kind}:{channel}:{ref}"


class Begun(NamedTuple):
    """What one inbound step starts from."""

    first: bool  # not a repeated delivery of a message already handled
    session: Session | None
    opted_out: bool
    recent: int  # messages from this sender in the current minute, this one included
    returning: bool = False  # we talked with this person before (the session may have expired)
    ref: str = ""  # number_ref of the step's key: computed once per step
    lock: str | None = None  # the lock's token while this step holds it


class SessionStore(StoreBase):
    """What one conversation needs between messages."""

    # --- sessions --------------------------------------------------------

    # `key` is the person's number (texts) or the CallSid (calls): either way only its
    # number_ref appears in key names.

    def session_key(self, channel: str, key: str) -> str:
        return _person_key("session", channel, self.number_ref(key))

    def _returning_key(self, channel: str, key: str) -> str:
        return _person_key("returning", channel, self.number_ref(key))

    def lock(self, channel: str, key: str) -> Lock:
        """Serialises messages from one person: two arriving together run one after the other."""
        lock: Lock = self.redis.lock(
            _person_key("lock", channel, self.number_ref(key)),
            timeout=LOCK_TIMEOUT,
            blocking_timeout=LOCK_WAIT,
        )
        return lock

    def load_session(self, channel: str, key: str) -> Session | None:
        raw = self.redis.get(self.session_key(channel, key))
        if raw is None:
            return None
        return Session.model_validate_json(self.unseal(raw))

    @cached_property
    def _begin(self) -> Script:
        return self.redis.register_script(_BEGIN)

    def begin_step(
        self,
        channel: str,
        key: str,
        contact: str,
        delivery_id: str,
        sender: str = "",
        lock: bool = False,
    ) -> Begun:
        """Dedupe mark, session, opt-out, returning flag and the sender's count this minute, in
        one round trip (a Lua script); with `lock`, under the person's lock, taken first and
        held (Begun.lock) until `end_step` or `release`. Waits for a lock held by the message
        before; LockError after LOCK_WAIT seconds.

        `sender`: who to count against the inbound limit ("" counts nobody).
        """
        ref = self.number_ref(key)
        contact_ref = ref if contact and contact == key else self.number_ref(contact or "-")
        sender_ref = "" if not sender else ref if sender == key else self.number_ref(sender)
        keys = [
            _person_key("lock", channel, ref),
            f"{PREFIX}:seen:{delivery_id}",
            # A window from the sender's first message, not the clock's minute (a burst across
            # a minute boundary would get twice the limit).
            _person_key("inbound", channel, sender_ref),
            _person_key("session", channel, ref),
            optouts_key(channel),
            _person_key("returning", channel, ref),
        ]
        token = os.urandom(16).hex() if lock else ""
        args: list[str | int] = [
            token,
            LOCK_TIMEOUT * 1000,
            SEEN_MESSAGE_TTL,
            INBOUND_WINDOW,
            contact_ref,
            "1" if delivery_id else "0",
            "1" if sender else "0",
        ]
        deadline = time.monotonic() + LOCK_WAIT
        pause = 0.002
        while True:
            result: list[Any] = self._begin(keys=keys, args=args)
            if result[0]:
                break
            if time.monotonic() > deadline:
                raise LockError(f"{channel} lock still held after waiting")
            time.sleep(pause)  # the message before is being handled: a few ms at most
            pause = min(pause * 2, 0.05)
        if not result[1]:
            return Begun(False, None, False, 0, ref=ref)
        raw = result[3]
        session = None if raw is None else Session.model_validate_json(self.unseal(raw))
        return Begun(
            True,
            session,
            bool(result[4]),
            int(result[2]),
            returning=bool(result[5]),
            ref=ref,
            lock=token or None,
        )

    def end_step(
        self, pipe: Any, channel: str, begun: Begun, session: Session | None, ended: bool
    ) -> None:
        """Queue on `pipe` (a MULTI) the session's save (or its deletion, `ended`) and the
        lock's release: with what the step queues, one round trip."""
        if ended or session is None:
            pipe.delete(_person_key("session", channel, begun.ref))
        else:
            self._queue_save(pipe, channel, begun.ref, session)
        if begun.lock:
            pipe.eval(_RELEASE, 1, _person_key("lock", channel, begun.ref), begun.lock)

    def release(self, channel: str, begun: Begun) -> None:
        """Free the step's lock when the step ends without saving (a repeat, a limit)."""
        if begun.lock:
            self.redis.eval(_RELEASE, 1, _person_key("lock", channel, begun.ref), begun.lock)

    def _queue_save(self, pipe: Any, channel: str, ref: str, session: Session) -> None:
        """The session sealed, and the note that we talked with this person, on `pipe`."""
        pipe.set(
            _person_key("session", channel, ref),
            self.seal(session.model_dump_json()),
            ex=self.session_ttl,
        )
        pipe.set(_person_key("returning", channel, ref), "1", ex=RETURNING_TTL)

    def save_session(self, key: str, session: Session) -> None:
        pipe = self.redis.pipeline()
        self._queue_save(pipe, session.channel, self.number_ref(key), session)
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

    def note_inbound(self, channel: str, number: str, at: datetime, pipe: Any = None) -> None:
        """When this number last wrote on `channel` (sealed: when someone wrote is theirs);
        gone once the window it opens has closed. On `pipe` (a step's MULTI) when given."""
        (pipe if pipe is not None else self.redis).set(
            self._inbound_at_key(channel, number),
            self.seal(at.astimezone(UTC).isoformat()),
            ex=WHATSAPP_WINDOW,
        )

    def last_inbound(self, channel: str, number: str) -> datetime | None:
        """When this number last wrote on `channel`, if within the last 24 hours."""
        raw = self.redis.get(self._inbound_at_key(channel, number))
        return None if raw is None else datetime.fromisoformat(self.unseal(raw))
