"""A store keyed as the tests' settings are (conftest uses the same keys)."""

from __future__ import annotations

from typing import Any

from redis import Redis

from intake.crypto import keyring
from intake.store import Store

# Fixed, so a store made here reads what an app or worker under test wrote, and the reverse.
TEST_ENCRYPTION_KEY = "vW6o1N5m2bP0wB8qk3Yd8yZ0xVq3u0cQm8oK2fJ1r4s="
TEST_LOOKUP_KEY = "test-lookup-key-0123456789abcdefghijklmnop"


def make_store(redis: Redis, **kwargs: Any) -> Store:
    """Store(redis) with the tests' encryption and lookup keys."""
    return Store(redis, keyring([TEST_ENCRYPTION_KEY]), TEST_LOOKUP_KEY, **kwargs)
