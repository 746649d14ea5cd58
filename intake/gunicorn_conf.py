"""Gunicorn settings for the Procfile's web process (`-c python:intake.gunicorn_conf`)."""

from __future__ import annotations

import sys
import time
from typing import Any

from intake.app import load_flow
from intake.config import ConfigError, Settings
from intake.flow.loader import FlowError

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
