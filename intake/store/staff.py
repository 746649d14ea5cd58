"""Staff accounts, their server-side sessions, sign-in throttling and rate-limit counters."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from .base import PREFIX, StoreBase, _strings

MIN_PASSWORD_LENGTH = 12
PASSWORD_RULE = f"at least {MIN_PASSWORD_LENGTH} characters"


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"use a password of {PASSWORD_RULE}"
    return None


class StaffAccount(BaseModel):
    """An admissions staff member who can sign in to /staff."""

    email: str
    password_hash: str
    role: Literal["admissions", "admin"] = "admissions"
    phone: str | None = None  # for reminders about tasks they claimed
    disabled: bool = False  # a disabled account cannot sign in; its sessions end at once


class StaffStore(StoreBase):
    """Who may sign in to /staff."""

    # --- staff accounts ------------------------------------------------------

    def _staff_key(self, email: str) -> str:
        return f"{PREFIX}:staff:{email.lower()}"

    def save_staff(self, staff: StaffAccount) -> None:
        """Create or update an account; a new password or disabling it ends its sessions."""
        before = self.get_staff(staff.email)
        pipe = self.redis.pipeline()
        pipe.set(self._staff_key(staff.email), staff.model_dump_json())
        pipe.sadd(f"{PREFIX}:staff", staff.email.lower())
        if before is not None and (
            before.password_hash != staff.password_hash or (staff.disabled and not before.disabled)
        ):
            self._end_sessions(pipe, staff.email)
        pipe.execute()

    def remove_staff(self, email: str) -> bool:
        """Delete an account and end its sessions; False when there was none."""
        pipe = self.redis.pipeline()
        pipe.delete(self._staff_key(email))
        pipe.srem(f"{PREFIX}:staff", email.lower())
        self._end_sessions(pipe, email)
        removed, *_ = pipe.execute()
        return bool(removed)

    def get_staff(self, email: str) -> StaffAccount | None:
        raw = self.redis.get(self._staff_key(email))
        return None if raw is None else StaffAccount.model_validate_json(raw)

    def list_staff(self) -> list[StaffAccount]:
        emails = sorted(_strings(self.redis.smembers(f"{PREFIX}:staff")))
        accounts = [self.get_staff(e) for e in emails]
        return [a for a in accounts if a is not None]

    # --- sign-in throttle ---------------------------------------------------------
    # One record per account and client, named by a keyed digest of both (made by the caller):
    # how many failures, and until when (ms) that client must wait before trying that account.

    def _throttle_key(self, digest: str) -> str:
        return f"{PREFIX}:login-throttle:{digest}"

    def login_wait(self, digest: str, now: float) -> float:
        """Seconds this account+client must still wait before a try; 0 when it may try now."""
        until = self.redis.hget(self._throttle_key(digest), "until")
        return max(0.0, int(until) / 1000 - now) if until else 0.0

    def login_failed(
        self, digest: str, now: float, free: int, max_delay: int, remember: int
    ) -> tuple[int, int]:
        """Count a failure; returns (failures, seconds to wait before the next try)."""
        script = self.redis.register_script(_LOGIN_FAILED)
        failures, delay = script(
            keys=[self._throttle_key(digest)],
            args=[int(now * 1000), free, max_delay, remember],
        )
        return int(failures), int(delay)

    def login_succeeded(self, digest: str) -> None:
        self.redis.delete(self._throttle_key(digest))

    # --- server-side sessions ----------------------------------------------------
    # The cookie holds a random id; Redis keeps the record under the id's SHA-256, so a copy of
    # Redis holds no usable cookie. Each account's set of record keys lets us end them all.

    def _session_key(self, digest: str) -> str:
        return f"{PREFIX}:staff-session:{digest}"

    def _sessions_of(self, email: str) -> str:
        return f"{PREFIX}:staff-sessions:{email.lower()}"

    def load_staff_session(self, digest: str) -> bytes | None:
        raw = self.redis.get(self._session_key(digest))
        return raw.encode() if isinstance(raw, str) else raw

    def save_staff_session(
        self, digest: str, data: bytes, ttl_seconds: int, email: str | None, new: bool
    ) -> None:
        """Write a session record for `ttl_seconds`; a signed-in one is listed under its account.

        Only a new session creates a record: a request still running when its session was ended
        (signed out elsewhere, account disabled) must not write it back.
        """
        pipe = self.redis.pipeline()
        pipe.set(self._session_key(digest), data, ex=ttl_seconds, nx=new, xx=not new)
        if email:
            pipe.sadd(self._sessions_of(email), digest)
            # The list lives as long as the newest session (members past it are long gone).
            pipe.expire(self._sessions_of(email), ttl_seconds)
        pipe.execute()

    def delete_staff_session(self, digest: str) -> None:
        self.redis.delete(self._session_key(digest))

    def end_staff_sessions(self, email: str) -> int:
        """End every session of the account at once; returns how many there were."""
        pipe = self.redis.pipeline()
        self._end_sessions(pipe, email)
        return int(pipe.execute()[-1])

    def _end_sessions(self, pipe: Any, email: str) -> None:
        digests = _strings(self.redis.smembers(self._sessions_of(email)))
        for digest in digests:
            pipe.delete(self._session_key(digest))
        pipe.delete(self._sessions_of(email))
        pipe.echo(len(digests))

    # --- staff dashboard -----------------------------------------------------

    @staticmethod
    def rate_limit_prefix() -> str:
        """Where Flask-Limiter keeps its counters (the limits library adds the rest)."""
        return f"{PREFIX}:ratelimit"


# Count one failed sign-in: the first `free` cost nothing, then 2, 4, 8... s up to the cap.
_LOGIN_FAILED = """
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
local delay = 0
if n > tonumber(ARGV[2]) then
  delay = math.min(2 ^ math.min(n - tonumber(ARGV[2]), 30), tonumber(ARGV[3]))
end
redis.call('HSET', KEYS[1], 'until', tonumber(ARGV[1]) + delay * 1000)
redis.call('EXPIRE', KEYS[1], ARGV[4])
return {n, delay}
"""
