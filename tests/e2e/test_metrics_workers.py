"""/metrics through gunicorn as the Procfile runs it: samples survive workers coming and going."""

from __future__ import annotations

import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from intake.redis_server import free_port, start_redis

from .support import (
    base_env,
    post_form,
    sms_params,
    start_process,
    stop_group,
    wait_for_health,
)


@pytest.fixture
def web(
    session_settings_env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[str, dict[str, str]]]:
    """The Procfile's web process alone; each gunicorn worker retires after 3 requests."""
    port = free_port()
    with start_redis() as redis:
        env = {
            **base_env(tmp_path),
            **session_settings_env,
            "REDIS_URL": redis.url,
            "PORT": str(port),
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "GUNICORN_CMD_ARGS": "--max-requests 3",
        }
        processes: dict[str, subprocess.Popen[Any]] = {}
        try:
            start_process("web", tmp_path, env, processes)
            logs = (tmp_path / "web.log").read_text
            wait_for_health(env["PUBLIC_BASE_URL"], processes, logs, 60)
            yield env["PUBLIC_BASE_URL"], env
        finally:
            for process in processes.values():
                stop_group(process)


def sms_webhooks_counted(base_url: str) -> float:
    # 15 s, as post_form allows: with --max-requests 3 both workers may be booting (each loads
    # the flows and the model) when this arrives, and a busy machine makes that slow
    with urllib.request.urlopen(base_url + "/metrics", timeout=15) as response:
        text = response.read().decode()
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "intake_webhook_seconds_count" and s.labels.get("channel") == "sms"
    )


def test_every_workers_samples_count_even_after_it_is_gone(
    web: tuple[str, dict[str, str]],
) -> None:
    base_url, env = web
    for n in range(10):
        params = sms_params(
            "hi", f"+1312555{n:04d}", env["TWILIO_PHONE_NUMBER"], env["TWILIO_ACCOUNT_SID"]
        )
        status, _ = post_form(base_url + "/sms", params, env["TWILIO_AUTH_TOKEN"])
        assert status == 200
    # Several workers have come and gone by now; whichever answers adds up all of them.
    assert sms_webhooks_counted(base_url) == 10
