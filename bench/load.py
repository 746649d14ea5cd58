"""The webhooks under load, side by side with a floor and a naive handler (`make bench-load`).

Starts, against a private redis-server and a local Twilio stand-in:

- the project exactly as the Procfile runs it (its `web` line: gunicorn, 2 workers x 4 threads,
  and its `worker` line: one RQ worker);
- bench/floor.py (bare Flask, fixed TwiML) and bench/naive.py (signature check and three
  unpipelined Redis calls) on the same gunicorn flags;

then drives each with the same signed traffic from bench/load.mjs: whole conversations in
order per number, unique MessageSids, a share of callbacks completed, /sms and /voice. Per app
and channel: a max-throughput phase (autocannon, 8 connections), then a constant 200 req/s for
p50/p99 (a request every 5 ms, over at most 8 connections, latency from when it was due).
After that, callbacks one at a time: confirmed -> staff text handed to the twilio client (p95);
and the web workers' memory, the stored sessions' size, the app's start-up time.

Figures are printed as ratios against the floor and the naive handler from the same run.
`--quick` runs every phase for about a second (tests/bench/test_load.py).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from twilio.request_validator import RequestValidator  # noqa: E402

from intake.crypto import generate_key  # noqa: E402
from intake.redis_server import free_port, start_redis  # noqa: E402
from tests.e2e.support import post_form, procfile_commands, stop_group  # noqa: E402
from tests.support.twilio_emulator import TwilioEmulator  # noqa: E402
from tests.support.worker import wait_registered  # noqa: E402

BENCH = ROOT / "bench"
ACCOUNT = "AC" + "0" * 32
TOKEN = "bench-auth-token"
OUR_NUMBER = "+17275550199"
# What Twilio signs: an https address in front of the app (a TLS proxy), as in production, so the
# SMS session cookie is set as it would be. Requests go to the local port.
PUBLIC_BASE_URL = "https://intake.example.org"
ON_CALL = "+17275550142"  # the staff number notified of each task
GUNICORN_FLAGS = "--workers 2 --threads 4"
APPS = ("project", "naive", "floor")
CHANNELS = ("sms", "voice")


def procfile_line(name: str) -> str:
    line = procfile_commands()[name]
    # The contrast apps take the web line's own flags, without the app's gunicorn settings.
    assert GUNICORN_FLAGS in line, "the Procfile's web line changed: update GUNICORN_FLAGS"
    return line


def start(command: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            ["bash", "-c", command],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> float:
    """Seconds until GET /healthz answers 200."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise SystemExit(f"{log.name} exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"{url} did not answer in {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def drive(url: str, channel: str, *, duration: float, rate: int, area: int, numbers: int) -> Any:
    """One autocannon phase through load.mjs; its results as a dict."""
    options = {
        "url": url,
        "base": PUBLIC_BASE_URL,
        "token": TOKEN,
        "account": ACCOUNT,
        "to": OUR_NUMBER,
        "channel": channel,
        "connections": 8,
        "duration": duration,
        "rate": rate,
        "numbers": numbers,
        "areaCode": area,
        "callbackShare": 20,
    }
    done = subprocess.run(
        ["node", str(BENCH / "load.mjs"), json.dumps(options)],
        cwd=BENCH,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"load.mjs failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(c) for c in text]
    return found


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and its descendants, live or already reaped (user + system)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        # utime, stime, cutime, cstime: fields 14-17 of proc(5), here 11-14 after the name
        own = sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
        return own + sum(cpu_seconds(child) for child in children(pid))
    except (FileNotFoundError, ProcessLookupError):
        return 0.0  # it ended between the listing and the read


def measured(groups: dict[str, int], workers: list[int], phase: Callable[[], Any]) -> Any:
    """`phase()`'s results, with the CPU seconds each group of processes and the load generator
    (this process's children) spent during it, and how the app's web workers shared it."""
    before = {k: cpu_seconds(pid) for k, pid in groups.items()}
    workers_before = [cpu_seconds(pid) for pid in workers]
    load_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    results = phase()
    load_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = {k: cpu_seconds(pid) - before[k] for k, pid in groups.items()}
    cpu["load generator"] = (load_after.ru_utime + load_after.ru_stime) - (
        load_before.ru_utime + load_before.ru_stime
    )
    results["cpu"] = cpu
    # the same pids throughout: no web worker restarts during a run
    results["workers"] = [
        cpu_seconds(pid) - was for pid, was in zip(workers, workers_before, strict=True)
    ]
    return results


def gunicorn_workers(process: subprocess.Popen[bytes]) -> list[int]:
    """The web line's workers: children of the gunicorn master (bash may exec into it)."""
    master = process.pid
    kids = children(master)
    if kids and "gunicorn" in Path(f"/proc/{kids[0]}/cmdline").read_text(errors="replace"):
        if len(kids) == 1 and children(kids[0]):  # bash, then the master
            return children(kids[0])
    return kids


def notification_latency(base_url: str, twilio: TwilioEmulator, count: int) -> list[float]:
    """Callbacks one at a time: confirmed (the webhook answered) -> staff text at Twilio."""
    script = ["hi", "CALL", "Sam", "YES", "evening", "ME", "NO", "YES", "YES"]
    samples = []
    for i in range(count):
        number = f"+1646555{i:04d}"
        for body in script:
            sid = "SM" + secrets.token_hex(16)
            form = {"MessageSid": sid, "From": number, "To": OUR_NUMBER, "Body": body}
            before = len(twilio.sent_to(ON_CALL))
            signature = RequestValidator(TOKEN).compute_signature(PUBLIC_BASE_URL + "/sms", form)
            status, _ = post_form(base_url + "/sms", form, TOKEN, signature)
            assert status == 200, status
        confirmed = time.time()
        deadline = time.monotonic() + 30
        while len(twilio.sent_to(ON_CALL)) <= before and time.monotonic() < deadline:
            time.sleep(0.002)
        sent = [r for r in twilio.sent_to(ON_CALL)]
        if len(sent) <= before:
            raise SystemExit("no staff notification within 30 s")
        samples.append(sent[-1].at - confirmed)
    return samples


def drain(redis_url: str, timeout: float = 600) -> float:
    """Seconds until the worker has emptied the queues the load filled (tasks, notifications)."""
    from redis import Redis

    conn = Redis.from_url(redis_url)
    started = time.perf_counter()
    keys = [f"rq:queue:{q}" for q in ("intake-urgent", "intake-default")]
    while sum(int(conn.llen(k)) for k in keys) and time.perf_counter() - started < timeout:
        time.sleep(0.1)
    return time.perf_counter() - started


def session_sizes(redis_url: str) -> list[int]:
    from redis import Redis

    conn = Redis.from_url(redis_url)
    return [int(conn.strlen(k)) for k in conn.scan_iter("intake:session:*", count=1000)]


def pct(samples: list[float], q: int) -> float:
    if len(samples) < 2:
        return samples[0] if samples else 0.0
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about a second per phase")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--rate", type=int, default=200, help="req/s of the constant phase")
    parser.add_argument("--callbacks", type=int, default=20, help="for the notification p95")
    args = parser.parse_args()
    duration = 1.0 if args.quick else args.duration
    rate = 50 if args.quick else args.rate
    callbacks = 2 if args.quick else args.callbacks
    numbers = 400 if args.quick else 6000
    if not (BENCH / "node_modules" / "autocannon").is_dir():
        raise SystemExit("autocannon is missing: run `make bench-load` (npm ci in bench/)")

    work = Path(tempfile.mkdtemp(prefix="intake-bench-"))
    twilio = TwilioEmulator(ACCOUNT, TOKEN)
    processes: dict[str, subprocess.Popen[bytes]] = {}
    with start_redis() as redis, twilio:
        ports = {name: free_port() for name in APPS}
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        base = {
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
            "HOME": os.environ.get("HOME", str(work)),
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(ROOT),
            "TWILIO_AUTH_TOKEN": TOKEN,
        }
        env = {
            **base,
            "REDIS_URL": redis.url,
            "PORT": str(ports["project"]),
            "HOST": "127.0.0.1",
            "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
            "TWILIO_ACCOUNT_SID": ACCOUNT,
            "TWILIO_PHONE_NUMBER": OUR_NUMBER,
            "TWILIO_API_BASE_URL": twilio.url,
            "STAFF_NOTIFY_NUMBERS": ON_CALL,
            "SECRET_KEY": secrets.token_hex(32),
            "ENCRYPTION_KEYS": generate_key(),
            "LOOKUP_KEY": secrets.token_hex(32),
            "MODEL_CACHE_DIR": str(work / "model-cache"),
            "SPOOL_DIR": str(work / "spool"),
            "LOG_LEVEL": "WARNING",
        }
        try:
            processes["web"] = start(procfile_line("web"), env, work / "web.log")
            startup = wait_healthy(urls["project"], processes["web"], work / "web.log", 120)
            processes["worker"] = start(procfile_commands()["worker"], env, work / "worker.log")
            for name, module in (("naive", "bench.naive:app"), ("floor", "bench.floor:app")):
                cmd = (
                    f"exec gunicorn {GUNICORN_FLAGS} --bind 127.0.0.1:{ports[name]} "
                    f"--access-logfile /dev/null {shlex.quote(module)}"
                )
                other = {**base, "REDIS_URL": redis.url[:-1] + "1"}
                other["PUBLIC_BASE_URL"] = PUBLIC_BASE_URL
                processes[name] = start(cmd, other, work / f"{name}.log")
                wait_healthy(urls[name], processes[name], work / f"{name}.log", 60)
            # Its start-up (the flows' check, the imports, the flows loaded for the jobs) must
            # not eat the cores during the first phase.
            wait_registered(redis.url, processes["worker"], work / "worker.log")
            results: dict[tuple[str, str, str], Any] = {}
            area = 200
            for channel in CHANNELS:
                for name in APPS:
                    for phase, r in (("max", 0), ("rate", rate)):
                        area += 1
                        app = processes["web" if name == "project" else name]
                        # Where a phase's CPU went: the app's processes (for the project
                        # also its RQ worker), Redis, and the load generator itself.
                        groups = {"app": app.pid, "redis": redis.process.pid}
                        if name == "project":
                            groups["rq worker"] = processes["worker"].pid
                        results[(name, channel, phase)] = measured(
                            groups,
                            gunicorn_workers(app),
                            partial(
                                drive,
                                urls[name],
                                channel,
                                duration=duration,
                                rate=r,
                                area=area,
                                numbers=numbers,
                            ),
                        )
            memory = [rss_mb(pid) for pid in gunicorn_workers(processes["web"])]
            drained = drain(redis.url)  # the notification delay is measured idle
            notify = notification_latency(urls["project"], twilio, callbacks)
            sizes = session_sizes(redis.url)
        finally:
            for process in processes.values():
                stop_group(process)

    report(results, memory, notify, sizes, startup, duration, rate, numbers)
    print(f"the worker emptied the queues the load filled {drained:.1f} s after it ended")
    if drained >= 600:
        print("(not empty after 600 s: the notification delay above waited behind that backlog)")
    bad = [k for k, v in results.items() if v["non2xx"] or v["errors"] or v["timeouts"]]
    if bad:
        kinds = {k: results[k].get("failures", {}) for k in bad}
        print(f"requests failed in: {bad} ({kinds}); logs in {work}")
        return 1
    return 0


def report(
    results: dict[tuple[str, str, str], Any],
    memory: list[float],
    notify: list[float],
    sizes: list[int],
    startup: float,
    duration: float,
    rate: int,
    numbers: int,
) -> None:
    print(
        f"{os.cpu_count()} cores; gunicorn {GUNICORN_FLAGS}; 8 connections (autocannon as fast as "
        f"it goes, then requests every {1000 / rate:g} ms), {duration:g} s per phase, "
        f"{numbers} numbers per phase"
    )
    print(
        f"{'app':8} {'channel':7} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7}   "
        f"{'@' + str(rate) + '/s p50':>11} {'p99':>6}  {'bad':>4}"
    )
    for channel in CHANNELS:
        for name in APPS:
            top, steady = results[(name, channel, "max")], results[(name, channel, "rate")]
            bad = sum(v["non2xx"] + v["errors"] + v["timeouts"] for v in (top, steady))
            print(
                f"{name:8} {channel:7} {top['rps']:8.0f} {top['p50']:7.1f} {top['p99']:7.1f}   "
                f"{steady['p50']:11.1f} {steady['p99']:6.1f}  {bad:4d}"
            )
    print("CPU per request in the max phase, microseconds (all processes, both cores):")
    for channel in CHANNELS:
        for name in APPS:
            top = results[(name, channel, "max")]
            spent = top["cpu"]
            parts = ", ".join(
                f"{k} {v / max(top['requests'], 1) * 1e6:.0f}" for k, v in spent.items()
            )
            total = sum(spent.values()) / max(top["requests"], 1) * 1e6
            spread = top["workers"]
            shares = " / ".join(f"{w / max(sum(spread), 1e-9):.0%}" for w in spread)
            print(f"  cpu {name:8} {channel:6} total {total:6.0f}: {parts}; web workers {shares}")
    top = {c: results[("project", c, "max")] for c in CHANNELS}
    print(
        f"project, max phase: {top['sms']['conversations']} texting and "
        f"{top['voice']['conversations']} calling conversations (1 in 20 a callback), 64 at "
        f"once; {top['sms']['cookieShare']:.0%} of texts carried the session cookie back"
    )
    for channel in CHANNELS:
        ours = results[("project", channel, "max")]["rps"]
        naive = results[("naive", channel, "max")]["rps"] or 1
        floor = results[("floor", channel, "max")]["rps"] or 1
        print(
            f"ratio {channel}: project/naive {ours / naive:.2f}x (goal 1.5x), "
            f"project/floor {ours / floor:.2f}x (goal 0.45x)"
        )
    print(
        f"callback confirmed -> staff text at the twilio client ({len(notify)} in turn, one "
        f"worker): p50 {pct(notify, 50) * 1000:.0f} ms, p95 {pct(notify, 95) * 1000:.0f} ms "
        f"(goal 1000 ms)"
    )
    print(
        "web worker RSS after the run: "
        + ", ".join(f"{m:.1f} MB" for m in memory)
        + " (goal 80 MB, 100 MB with the language model)"
    )
    if sizes:
        print(
            f"stored sessions: {len(sizes)}, median {statistics.median(sizes):.0f} B, "
            f"max {max(sizes)} B (goal 1024 B)"
        )
    print(f"start-up (Procfile web line to /healthz 200, classifier trained): {startup:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
