"""`intake keys rotate`: every sealed value re-encrypted under the newest key.

It also finishes an upgrade from before encryption: values still in clear are sealed, and keys
and opt-outs still named by a phone number are renamed to the number's reference.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from redis.exceptions import WatchError

from .base import FERNET_PREFIX, PREFIX, _strings
from .sessions import SessionStore
from .staff import StaffStore

REF = re.compile(r"[0-9a-f]{64}")  # what number_ref gives


@dataclass
class Rotated:
    """What a rotation changed: counts only."""

    sessions: int = 0
    tasks: int = 0
    audit_entries: int = 0
    staged_tasks: int = 0
    staff_accounts: int = 0
    staff_sessions: int = 0
    last_inbound: int = 0  # when a number last wrote on WhatsApp (the 24-hour window)
    staged_messages: int = 0  # texts staff wrote, waiting for their job
    sealed_from_clear: int = 0  # of the above, values that were still in clear
    renamed_keys: int = 0  # sessions, markers and daily counts still named by a number
    opt_outs: int = 0  # opt-outs still held as a number, now as its reference

    def counts(self) -> dict[str, int]:
        return asdict(self)


class RotationStore(SessionStore, StaffStore):
    """Re-encrypts what the store sealed; renames what an older version named by number."""

    def rotate_keys(self) -> Rotated:
        """Re-encrypt every sealed value under the newest key (each key in its own WATCH, so
        writes meanwhile are never lost: a value changed under us is read again)."""
        done = Rotated()
        for key in _strings(self.redis.scan_iter(match=f"{PREFIX}:*", count=1000)):
            parts = key.split(":")
            kind = parts[1] if len(parts) > 1 else ""
            if kind == "task" and key.endswith(":audit"):
                done.audit_entries += self._reseal_list(key, done)
            elif kind == "task" and len(parts) == 3:
                done.tasks += self._reseal(key, done)
            elif kind == "staged":
                done.staged_tasks += self._reseal(key, done)
            elif kind == "session" and len(parts) == 4:
                if REF.fullmatch(parts[3]):
                    done.sessions += self._reseal(key, done)
                else:
                    renamed = self.session_key(parts[2], parts[3])
                    done.sessions += self._reseal(key, done, rename=renamed)
                    done.renamed_keys += 1
            elif kind == "staff" and len(parts) == 3:
                if REF.fullmatch(parts[2]):
                    done.staff_accounts += self._reseal(key, done)
                else:  # named by the email before accounts were sealed
                    renamed = self._staff_key(parts[2])
                    done.staff_accounts += self._reseal(key, done, rename=renamed)
                    done.renamed_keys += 1
            elif kind == "message" and len(parts) == 3:
                done.staged_messages += self._reseal(key, done)
            elif kind == "last-inbound" and len(parts) == 4:
                done.last_inbound += self._reseal(key, done)
            elif kind == "staff-session" and len(parts) == 3:
                done.staff_sessions += self._reseal(key, done)
            elif kind == "staff-sessions" and len(parts) == 3 and not REF.fullmatch(parts[2]):
                done.renamed_keys += self._rename(key, self._sessions_of(parts[2]))
            elif kind == "returning" and len(parts) == 4 and not REF.fullmatch(parts[3]):
                done.renamed_keys += self._rename(key, self._returning_key(parts[2], parts[3]))
            elif kind == "outbox" and len(parts) == 4 and not REF.fullmatch(parts[3]):
                done.renamed_keys += self._rename(key, self._outbox_name(parts[2], parts[3]))
        done.opt_outs = self._hash_opt_outs()
        self._ref_staff_emails()
        return done

    def _outbox_name(self, day: str, number: str) -> str:
        return f"{PREFIX}:outbox:{day}:{self.number_ref(number)}"

    def _resealed(self, raw: bytes, done: Rotated) -> bytes:
        if raw.startswith(FERNET_PREFIX):
            return self.keys.rotate(raw)
        done.sealed_from_clear += 1
        return self.seal(self.unseal(raw))  # unseal: only JSON passes as clear

    def _reseal(self, key: str, done: Rotated, rename: str | None = None) -> int:
        """One string value, under WATCH; under `rename` instead when given (unless a newer
        value is there already). Returns 1 if it was rotated."""
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    if raw is None:
                        return 0
                    ttl = pipe.pttl(key)
                    new = self._resealed(raw, done)
                    pipe.multi()
                    if rename is None:
                        pipe.set(key, new, keepttl=True)
                    else:
                        pipe.set(rename, new, nx=True, px=ttl if ttl > 0 else None)
                        pipe.delete(key)
                    pipe.execute()
                    return 1
                except WatchError:
                    continue

    def _reseal_list(self, key: str, done: Rotated) -> int:
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raws = pipe.lrange(key, 0, -1)
                    new = [self._resealed(raw, done) for raw in raws]
                    pipe.multi()
                    for index, value in enumerate(new):
                        pipe.lset(key, index, value.decode())
                    pipe.execute()
                    return len(new)
                except WatchError:
                    continue

    def _rename(self, key: str, new: str) -> int:
        """Rename a key named by a number, unless its new name is taken (that one is newer)."""
        return int(bool(self.redis.renamenx(key, new))) or int(bool(self.redis.delete(key)))

    def _hash_opt_outs(self) -> int:
        key = f"{PREFIX}:optouts"
        plain = [m for m in _strings(self.redis.smembers(key)) if not REF.fullmatch(m)]
        if plain:
            pipe: Any = self.redis.pipeline()
            pipe.sadd(key, *[self.number_ref(m) for m in plain])
            pipe.srem(key, *plain)
            pipe.execute()
        return len(plain)

    def _ref_staff_emails(self) -> None:
        """The accounts' set held emails before accounts were sealed: now their references."""
        key = f"{PREFIX}:staff"
        plain = [m for m in _strings(self.redis.smembers(key)) if not REF.fullmatch(m)]
        if plain:
            pipe: Any = self.redis.pipeline()
            pipe.sadd(key, *[self.staff_ref(m) for m in plain])
            pipe.srem(key, *plain)
            pipe.execute()
