"""The daily count of texts each number gets from us, for the outbound limit."""

from __future__ import annotations

from .base import PREFIX, StoreBase

# Long enough to outlive the day it counts in any time zone, short enough to hold nothing old.
OUTBOX_TTL = 2 * 24 * 3600

# KEYS[1]: the number's count for the day; ARGV: limit, ttl, idempotency key ("" for none).
# A send retried under the same key counts once; a refused one leaves the count as it was.
_COUNT_TEXT = """
local key = KEYS[1]
local send = ARGV[3]
if send ~= '' and redis.call('HEXISTS', key, 'send:' .. send) == 1 then
  return 1
end
local sent = tonumber(redis.call('HGET', key, 'count') or '0')
if tonumber(ARGV[1]) > 0 and sent >= tonumber(ARGV[1]) then
  return 0
end
redis.call('HINCRBY', key, 'count', 1)
if send ~= '' then
  redis.call('HSET', key, 'send:' .. send, '1')
end
redis.call('EXPIRE', key, tonumber(ARGV[2]))
return 1
"""


class OutboxStore(StoreBase):
    """How many texts each number got from us each day; the number appears as its number_ref."""

    def _outbox_key(self, number: str, day: str) -> str:
        return f"{PREFIX}:outbox:{day}:{self.number_ref(number)}"

    def count_text(self, number: str, day: str, limit: int, key: str = "") -> bool:
        """Count one text to `number` on `day` (YYYY-MM-DD), atomically; False if over `limit`.

        `limit` 0 counts without refusing. A send retried under the same idempotency `key`
        counts once.
        """
        script = self.redis.register_script(_COUNT_TEXT)
        return bool(script(keys=[self._outbox_key(number, day)], args=[limit, OUTBOX_TTL, key]))

    def texts_sent(self, number: str, day: str) -> int:
        """Texts counted for `number` on `day`."""
        count = self.redis.hget(self._outbox_key(number, day), "count")
        return int(count or 0)
