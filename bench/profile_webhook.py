"""Where a webhook's time goes: pyinstrument over SMS and voice steps, in process.

    .venv/bin/python bench/profile_webhook.py [--html out.html]

Runs the real app (Flask's test client, a private Redis) through whole conversations from many
numbers, as bench/load.mjs does, and prints the share of time spent in each package or project
module (own time of the frames in it), then pyinstrument's call tree for the heaviest paths.
The test client skips gunicorn and HTTP parsing: those are the floor's share in `make bench-load`.
"""

from __future__ import annotations

import argparse
import re
import secrets
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pyinstrument import Profiler  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402
from webhook_latency import bench_settings  # noqa: E402 (a sibling in bench/)

from intake import create_app  # noqa: E402
from intake.redis_server import start_redis  # noqa: E402

SMS = ["hi", "OPIOIDS", "EFFECTS", "DEPRESSION", "ANXIETY", "MENU"]
KEYS = ["1", "2", "*", "0", "1", "4"]
GATHER = re.compile(rb'<Gather[^>]* action="([^"]+)"')


def where(path: str) -> str:
    """A frame's file as a package (site-packages) or a project module."""
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if str(ROOT) in path:
        rel = Path(path).relative_to(ROOT).with_suffix("")
        parts = rel.parts
        return "/".join(parts[:3] if parts[:2] == ("intake", "flow") else parts[:2])
    return "python stdlib" if "/lib/python" in path else "other"


def own_time(frame: Any, totals: Counter[str]) -> None:
    for child in frame.children:
        own_time(child, totals)
    if frame.function == "[self]" and frame.parent is not None and frame.parent.file_path:
        totals[where(frame.parent.file_path)] += frame.total_self_time  # its caller's own time
    elif frame.file_path and not frame.file_path.startswith("<"):
        totals[where(frame.file_path)] += frame.total_self_time
    elif frame.function and frame.total_self_time:
        # C functions (pyinstrument shows them under their caller): socket waits, hashing...
        totals[f"C: {frame.function}"[:32]] += frame.total_self_time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=150)
    parser.add_argument("--html", help="also write pyinstrument's HTML report here")
    args = parser.parse_args()
    with start_redis() as redis:
        settings = bench_settings(redis.url)
        app = create_app(settings)
        client = app.test_client()
        validator = RequestValidator(settings.twilio_auth_token)

        def post(url: str, params: dict[str, str]) -> bytes:
            signature = validator.compute_signature(url, params)
            path = url.removeprefix(settings.public_base_url)
            response = client.post(path, data=params, headers={"X-Twilio-Signature": signature})
            assert response.status_code == 200
            return response.data

        def conversations(first: int) -> int:
            requests = 0
            for i in range(first, first + args.conversations):
                sender = f"+1312555{i:04d}"
                for body in SMS:
                    sid = "SM" + secrets.token_hex(16)
                    post(
                        settings.public_base_url + "/sms",
                        {"MessageSid": sid, "From": sender, "To": "+17275550199", "Body": body},
                    )
                    requests += 1
                call = {"CallSid": "CA" + secrets.token_hex(16), "From": sender}
                answer = post(settings.public_base_url + "/voice", call)
                requests += 1
                for key in KEYS:
                    found = GATHER.search(answer)
                    if not found:
                        break
                    url = found.group(1).decode().replace("&amp;", "&")
                    answer = post(url, call | {"Digits": key})
                    requests += 1
            return requests

        conversations(9000)  # warm: connections, scripts, caches
        profiler = Profiler(interval=0.0005)
        profiler.start()
        requests = conversations(0)
        profiler.stop()

    session = profiler.last_session
    root = session.root_frame()
    assert root is not None
    totals: Counter[str] = Counter()
    own_time(root, totals)
    whole = sum(totals.values())
    print(f"{requests} webhook requests (SMS and voice), {whole / requests * 1000:.2f} ms each")
    print(f"{'where':32} {'share':>6} {'ms/request':>10}")
    for name, seconds in totals.most_common(24):
        print(f"{name:32} {seconds / whole:6.1%} {seconds / requests * 1000:10.3f}")
    print(profiler.output_text(show_all=False, color=False, unicode=False, time="percent_of_total"))
    if args.html:
        Path(args.html).write_text(profiler.output_html())
    return 0


if __name__ == "__main__":
    sys.exit(main())
