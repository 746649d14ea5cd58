"""CPU time per /sms request in process: the project beside the floor and the naive handler.

    .venv/bin/python bench/cpu_per_request.py      (part of `make bench`)

`make bench-load` compares the three under gunicorn and real load, where the load generator,
Redis and the RQ worker share the cores. This shows where that comparison comes from: each
app is called as gunicorn calls it (a WSGI call, no HTTP), with the same signed texts from
many numbers (hi -> OPIOIDS -> EFFECTS -> ...), against one private Redis, and the process's
own CPU time per request is printed with the ratios. Redis's own CPU time is not in it.
"""

from __future__ import annotations

import argparse
import io
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from twilio.request_validator import RequestValidator  # noqa: E402
from webhook_latency import bench_settings  # noqa: E402 (a sibling in bench/)

from intake import create_app  # noqa: E402
from intake.app import keep_for_life  # noqa: E402
from intake.redis_server import start_redis  # noqa: E402

TEXTS = ["hi", "OPIOIDS", "EFFECTS", "DEPRESSION", "ANXIETY", "MENU"]
WSGI = Callable[[dict[str, Any], Any], Iterable[bytes]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short round (the tests)")
    args = parser.parse_args()
    rounds, numbers = (1, 5) if args.quick else (3, 100)
    with start_redis() as redis:
        settings = bench_settings(redis.url)
        # the floor and the naive handler read their settings from the environment
        os.environ.update(
            PUBLIC_BASE_URL=settings.public_base_url,
            TWILIO_AUTH_TOKEN=settings.twilio_auth_token,
            REDIS_URL=redis.url,
        )
        from bench import floor, naive

        validator = RequestValidator(settings.twilio_auth_token)
        url = settings.public_base_url + "/sms"

        def call(app: WSGI, params: dict[str, str]) -> None:
            body = urlencode(params).encode()
            environ = {
                "REQUEST_METHOD": "POST",
                "PATH_INFO": "/sms",
                "QUERY_STRING": "",
                "SERVER_NAME": "127.0.0.1",
                "SERVER_PORT": "8000",
                "SERVER_PROTOCOL": "HTTP/1.1",
                "wsgi.url_scheme": "http",
                "wsgi.input": io.BytesIO(body),
                "wsgi.errors": sys.stderr,
                "CONTENT_TYPE": "application/x-www-form-urlencoded",
                "CONTENT_LENGTH": str(len(body)),
                "HTTP_X_TWILIO_SIGNATURE": validator.compute_signature(url, params),
            }
            status: list[str] = []
            answer = app(environ, lambda s, headers, *exc: status.append(s))
            b"".join(answer)
            getattr(answer, "close", lambda: None)()
            assert status[0].startswith("200"), status

        def cpu_per_request(app: WSGI, first: int, numbers: int) -> float:
            """Microseconds of this process's CPU per request, signing left out."""
            requests = []
            for i in range(first, first + numbers):
                for text in TEXTS:
                    sid = "SM" + secrets.token_hex(16)
                    requests.append(
                        {
                            "MessageSid": sid,
                            "From": f"+1312555{i:04d}",
                            "To": "+17275550199",
                            "Body": text,
                        }
                    )
            signing = time.process_time()
            for params in requests:
                validator.compute_signature(url, params)
            signing = time.process_time() - signing
            started = time.process_time()
            for params in requests:
                call(app, params)
            return (time.process_time() - started - signing) / len(requests) * 1e6

        apps: dict[str, WSGI] = {
            "floor": floor.app,
            "naive": naive.app,
            "project": create_app(settings),
        }
        # What the project's gunicorn workers do once the app is loaded (it spares the floor's
        # and the naive handler's objects here too, which only makes them faster)
        keep_for_life()
        best: dict[str, float] = {}
        for app in apps.values():
            cpu_per_request(app, 9000, 30 if numbers > 5 else 2)  # warm: connections, caches
        for round_ in range(rounds):  # the best of three: other processes only ever add time
            for name, app in apps.items():
                cpu = cpu_per_request(app, round_ * 300, numbers)
                best[name] = min(best.get(name, cpu), cpu)
    texts = numbers * len(TEXTS)
    print(f"CPU per /sms request, in process (best of {rounds} rounds of {texts} texts):")
    for name, cpu in best.items():
        print(f"  {name:8} {cpu:7.0f} us")
    print(
        f"  project / naive: {best['naive'] / best['project']:.2f}x the naive handler's speed, "
        f"{best['floor'] / best['project']:.2f}x the floor's "
        f"(naive / floor: {best['floor'] / best['naive']:.2f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
