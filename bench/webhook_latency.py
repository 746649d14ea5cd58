"""How long the webhooks take, as ratios against a baseline measured in the same run.

Run with `make bench`. It starts its own Redis and the real app (in process, through Flask's
test client, so no network noise) and times:

- baseline: GET /healthz, a request that also makes one Redis round trip;
- an SMS step (signature check, lock, session load/save, engine, TwiML);
- a voice step (the same for a keypad press);
- a whole SMS callback conversation (nine messages and one queued job).

The machines are shared and noisy, so the goal is a ratio, not a number of milliseconds:
an SMS step should stay within a small multiple of the baseline, far below Twilio's 15 s limit
and the one second we promise people.
"""

from __future__ import annotations

import secrets
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from twilio.request_validator import RequestValidator  # noqa: E402

from intake import create_app  # noqa: E402
from intake.app import keep_for_life  # noqa: E402
from intake.config import Settings  # noqa: E402
from intake.crypto import generate_key  # noqa: E402
from intake.redis_server import start_redis  # noqa: E402

ROUNDS = 300


def timed(fn: Callable[[], object], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def p(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100)[int(q) - 1]


def bench_settings(redis_url: str) -> Settings:
    """The app's settings for an in-process benchmark against a private Redis."""
    return Settings.from_env(
        {
            "REDIS_URL": redis_url,
            "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
            "TWILIO_AUTH_TOKEN": "bench-token",
            "TWILIO_PHONE_NUMBER": "+17275550199",
            "PUBLIC_BASE_URL": "https://intake.example.org",
            "SECRET_KEY": "b" * 32,
            "ENCRYPTION_KEYS": generate_key(),
            "LOOKUP_KEY": "bench-lookup-key-" + "0" * 32,
            "LOG_LEVEL": "WARNING",
        }
    )


def main() -> int:
    with start_redis() as redis:
        settings = bench_settings(redis.url)
        app = create_app(settings)
        keep_for_life()  # as a gunicorn worker does once its app is loaded
        client = app.test_client()
        validator = RequestValidator(settings.twilio_auth_token)

        def post(path: str, params: dict[str, str]) -> None:
            signature = validator.compute_signature(settings.public_base_url + path, params)
            response = client.post(path, data=params, headers={"X-Twilio-Signature": signature})
            assert response.status_code == 200

        def sms(body: str, sender: str) -> None:
            sid = "SM" + secrets.token_hex(16)
            post("/sms", {"MessageSid": sid, "From": sender, "To": "+17275550199", "Body": body})

        call_sid = "CA" + secrets.token_hex(16)

        def voice_press() -> None:
            post("/voice/input", {"CallSid": call_sid, "From": "+13125550199", "Digits": "1"})

        def conversation() -> None:
            sender = f"+1312555{secrets.randbelow(10000):04d}"
            for body in ["hi", "CALL", "Sam", "YES", "evening", "ME", "NO", "YES", "YES"]:
                sms(body, sender)

        def healthz() -> None:
            assert client.get("/healthz").status_code == 200

        sms("hi", "+13125550101")
        post("/voice", {"CallSid": call_sid, "From": "+13125550199"})
        for warm in (healthz, lambda: sms("MENU", "+13125550101"), voice_press):
            timed(warm, 20)

        baseline = timed(healthz, ROUNDS)
        results = {
            "sms step (MENU)": timed(lambda: sms("MENU", "+13125550101"), ROUNDS),
            "sms step (topic snippet)": timed(lambda: sms("OPIOIDS", "+13125550101"), ROUNDS),
            "voice step (key press)": timed(voice_press, ROUNDS),
            "sms conversation (9 messages)": timed(conversation, ROUNDS // 10),
        }

    base50, base95 = p(baseline, 50), p(baseline, 95)
    print(
        f"baseline GET /healthz: p50 {base50 * 1000:.2f} ms, p95 {base95 * 1000:.2f} ms "
        f"({ROUNDS} rounds)"
    )
    print(f"{'':32} {'p50 ms':>8} {'p95 ms':>8} {'p50/base':>9} {'p95/base':>9}")
    for name, samples in results.items():
        m50, m95 = p(samples, 50), p(samples, 95)
        print(
            f"{name:32} {m50 * 1000:8.2f} {m95 * 1000:8.2f} {m50 / base50:9.1f} {m95 / base95:9.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
