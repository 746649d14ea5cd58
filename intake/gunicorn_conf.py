"""Gunicorn settings for the Procfile's web process (`-c python:intake.gunicorn_conf`)."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# prometheus-client chooses where samples live when it is first imported, so this comes before
# the app: each worker writes its samples to files here and /metrics adds them up. A directory
# of our own unless PROMETHEUS_MULTIPROC_DIR names one; emptied at start, or samples from an
# earlier run would count again.
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
_own_metrics_dir = not _metrics_dir
if _own_metrics_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="intake-metrics-")
else:
    for old in Path(str(_metrics_dir)).glob("*.db"):
        old.unlink()

from prometheus_client import multiprocess  # noqa: E402

from intake.app import keep_for_life, load_flow  # noqa: E402
from intake.config import ConfigError, Settings  # noqa: E402
from intake.flow.loader import FlowError  # noqa: E402

# --threads 4 (the Procfile) gives gthread workers: a slow staff browser or a dashboard poll
# cannot hold up Twilio's webhooks, which must answer within seconds.

# No runtime control socket: several servers (dev, tests) may run side by side.
control_socket_disable = True
# No access log: a request line is all it would add, and the webhooks log what matters.
accesslog = None


def on_starting(server: Any) -> None:
    """Check settings and flows before any worker boots: one clear line, not a traceback."""
    try:
        # Train the classifier once, here: workers are forked from this process and find the
        # model in the loader's cache, so each boots in a fraction of a second, and the port
        # opens only once the bot can answer.
        started = time.perf_counter()
        load_flow(Settings.from_env())
        took = time.perf_counter() - started
        print(f"intake: flows ok, intent classifier trained in {took:.1f} s", file=sys.stderr)
    except ConfigError as e:
        print(f"intake: configuration error: {e}", file=sys.stderr, flush=True)
        sys.exit(2)
    except FlowError as e:
        print(f"intake: invalid flows: {'; '.join(e.problems)}", file=sys.stderr, flush=True)
        sys.exit(1)


def post_worker_init(worker: Any) -> None:
    """The app is loaded: take it out of the garbage collector's way (intake.app)."""
    keep_for_life()


def child_exit(server: Any, worker: Any) -> None:
    """A worker's samples stay counted; its live gauges (none yet) would go."""
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    if _own_metrics_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
