"""How fast, and with how much memory, the real web process refuses a 5 MB request body.

    .venv/bin/python bench/big_body.py [--root DIR]

Starts a private Redis and the Procfile's web process (gunicorn, 2 workers), then POSTs a
5 MB form to /sms with a bogus signature, first with a Content-Length, then chunked, a few
times each, and prints the status, the milliseconds to the whole response and the workers'
resident memory before and after. `--root` runs another checkout of the project (say, main
unpacked with `git archive main | tar -x -C /tmp/main`) for a before/after comparison.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from intake.redis_server import free_port, start_redis  # noqa: E402
from tests.e2e.support import base_env, procfile_commands, stop_group  # noqa: E402
from tests.support.raw_http import MB, chunked_body, plain_body, post, worker_rss  # noqa: E402

SIZE = 5 * MB
ROUNDS = 3
SETTINGS = {
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "bench-token",
    "TWILIO_PHONE_NUMBER": "+17275550199",
    "SECRET_KEY": "b" * 32,
    "LOG_LEVEL": "WARNING",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to run")
    root = parser.parse_args().root.resolve()
    port = free_port()
    with start_redis() as redis:
        env = {
            **base_env(root),
            **SETTINGS,
            "PYTHONPATH": str(root),
            "REDIS_URL": redis.url,
            "PORT": str(port),
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        }
        log = open(f"/tmp/big-body-web-{port}.log", "wb")  # noqa: SIM115
        web = subprocess.Popen(
            ["bash", "-c", procfile_commands()["web"]],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for(f"http://127.0.0.1:{port}/healthz")
            print(f"checkout: {root}")
            for name, body, headers in [
                ("Content-Length", lambda: plain_body(SIZE), {"Content-Length": str(SIZE)}),
                ("chunked", lambda: chunked_body(SIZE), {"Transfer-Encoding": "chunked"}),
            ]:
                before = sum(worker_rss(web.pid).values())
                times, statuses = [], set()
                for _ in range(ROUNDS):
                    response = post(
                        "127.0.0.1",
                        port,
                        "/sms",
                        body(),
                        {
                            **headers,
                            "Content-Type": "application/x-www-form-urlencoded",
                            "X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl",
                        },
                    )
                    times.append(response.seconds * 1000)
                    statuses.add(response.status)
                after = sum(worker_rss(web.pid).values())
                print(
                    f"5 MB body, {name}: status {sorted(statuses)}, "
                    f"median {statistics.median(times):.0f} ms (max {max(times):.0f} ms), "
                    f"workers' RSS {before / MB:.1f} MB -> {after / MB:.1f} MB"
                )
        finally:
            stop_group(web)
            log.close()
    return 0


def wait_for(url: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer in {timeout:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
