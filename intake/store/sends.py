"""Records that make a send happen once across crashes and retries."""

from __future__ import annotations

from .base import PREFIX, StoreBase, _strings


class SendStore(StoreBase):
    """Idempotency records for outbound sends."""

    # --- side effects done once (workers/jobs.py; docs/reliability.md "Crashes and restarts") --
    # A job about to send records its intent, and the outcome once the send returned, under an
    # idempotency key (the RQ job's id). A re-run after a crash finds the outcome and skips the
    # send, or finds only the intent: the attempt was interrupted, and outbound.py decides.

    SEND_TTL = 30 * 24 * 3600  # longer than any job's retries

    def _send_key(self, key: str) -> str:
        return f"{PREFIX}:send:{key}"

    def send_record(self, key: str) -> tuple[float | None, str | None]:
        """(when a send was last attempted, its outcome) for the idempotency key, if any."""
        intent, outcome = self.redis.hmget(self._send_key(key), ["intent_at", "outcome"])
        return (
            None if intent is None else float(intent),
            None if outcome is None else _strings([outcome])[0],
        )

    def send_intended(self, key: str, at: float) -> None:
        """Record that a send is about to start (before any byte leaves)."""
        pipe = self.redis.pipeline()
        pipe.hset(self._send_key(key), "intent_at", repr(at))
        pipe.expire(self._send_key(key), self.SEND_TTL)
        pipe.execute()

    def send_done(self, key: str, outcome: str) -> None:
        """Record that the send was accepted (Twilio's SID, or another receipt)."""
        pipe = self.redis.pipeline()
        pipe.hset(self._send_key(key), "outcome", outcome)
        pipe.expire(self._send_key(key), self.SEND_TTL)
        pipe.execute()

    def send_refused(self, key: str) -> None:
        """Forget an intent whose send was answered with an error: nothing went out."""
        self.redis.hdel(self._send_key(key), "intent_at")
