"""What every part of the store shares: the key prefix, queue names and small helpers.

The store's boundary: values that hold personal data are sealed (Fernet, ENCRYPTION_KEYS) here
on the way into Redis and unsealed here on the way out, so nothing above the store sees
ciphertext and nothing in Redis holds them in clear. Phone numbers in key names and sets are
keyed HMACs (LOOKUP_KEY), never the number.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self

from redis import Redis

from ..crypto import InvalidToken, MultiFernet, keyring

if TYPE_CHECKING:
    from ..config import Settings

PREFIX = "intake"
# RQ queue names; the Procfile's worker listens to them in this order.
URGENT_QUEUE = "intake-urgent"
DEFAULT_QUEUE = "intake-default"
TASK_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def is_task_id(text: str) -> bool:
    """Could be a task id: a key part never holds a ':', so "abc:audit" cannot reach a list."""
    return TASK_ID.fullmatch(text) is not None


def mask(number: str | None) -> str:
    """A phone number safe to log: '+1…01'."""
    if not number:
        return "-"
    return f"{number[:2]}…{number[-2:]}" if len(number) > 4 else "…"


# A Fernet token is url-safe base64 of a version byte 0x80: it always starts like this.
FERNET_PREFIX = b"gAAAAA"


class StoreBase:
    """The connection, the keys and settings each part of Store uses."""

    def __init__(
        self, redis: Redis, keys: MultiFernet, lookup_key: str, session_ttl: int = 24 * 3600
    ) -> None:
        self.redis = redis
        self.keys = keys
        self._lookup_key = lookup_key.encode()
        self.session_ttl = session_ttl

    @classmethod
    def from_settings(cls, redis: Redis, settings: Settings) -> Self:
        """The store as the app and the workers use it: keys and lookup key from settings."""
        return cls(
            redis,
            keyring(settings.encryption_keys),
            settings.lookup_key,
            session_ttl=settings.session_ttl_seconds,
        )

    def number_ref(self, number: str) -> str:
        """How a phone number appears in key names and sets: every such use goes through here.

        A keyed HMAC (LOOKUP_KEY): the same number always gives the same reference, and without
        the key nobody can tell whose it is, even by trying every number.
        """
        return hmac.new(self._lookup_key, number.encode(), hashlib.sha256).hexdigest()

    def seal(self, clear: str) -> bytes:
        """Encrypt a value for Redis under the newest key."""
        return self.keys.encrypt(clear.encode())

    def unseal(self, raw: bytes | str) -> str:
        """Decrypt a value read from Redis (any configured key). A value still in clear from
        before encryption was turned on (JSON) is read as it is, until `intake keys rotate`
        seals it."""
        data = raw.encode() if isinstance(raw, str) else raw
        if not data.startswith(FERNET_PREFIX):
            if data[:1] in (b"{", b"["):
                return data.decode()
            raise InvalidToken
        return self.keys.decrypt(data).decode()


def utcnow() -> datetime:
    return datetime.now(UTC)


def _strings(items: Any) -> list[str]:
    return [i.decode() if isinstance(i, bytes) else str(i) for i in items]
