"""LOG_FORMAT=json through the Procfile: JSON lines, and one request id from webhook to job."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from twilio.request_validator import RequestValidator

from intake.redis_server import free_port, start_redis

from .support import base_env, sms_params, start_procfile, stop_group, wait_for_health

TEXTER = "+13125550142"


@pytest.fixture
def stack(
    session_settings_env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[str, dict[str, str], Path]]:
    port = free_port()
    processes: dict[str, subprocess.Popen[Any]] = {}
    with start_redis() as redis:
        env = {
            **base_env(tmp_path),
            **session_settings_env,
            "REDIS_URL": redis.url,
            "PORT": str(port),
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "LOG_FORMAT": "json",
        }

        def logs() -> str:
            return "\n".join((tmp_path / f"{n}.log").read_text() for n in processes)

        try:
            start_procfile(tmp_path, env, processes)
            wait_for_health(env["PUBLIC_BASE_URL"], processes, logs, 60)
            yield env["PUBLIC_BASE_URL"], env, tmp_path
        finally:
            for process in processes.values():
                stop_group(process)


def json_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a log (gunicorn's and RQ's start-up banners are their own)."""
    found = []
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            found.append(json.loads(line))
    return found


def test_a_crisis_text_is_followed_from_the_webhook_to_the_worker_by_one_request_id(
    stack: tuple[str, dict[str, str], Path],
) -> None:
    base_url, env, workdir = stack
    body = "i took all my pills and i cant feel my arms"
    params = sms_params(body, TEXTER, env["TWILIO_PHONE_NUMBER"], env["TWILIO_ACCOUNT_SID"])
    url = base_url + "/sms"
    signature = RequestValidator(env["TWILIO_AUTH_TOKEN"]).compute_signature(url, params)
    request = urllib.request.Request(
        url,
        data=urllib.parse.urlencode(params).encode(),
        headers={"X-Twilio-Signature": signature},
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        assert response.status == 200
        request_id = response.headers["X-Request-Id"]
    assert request_id and request_id != "-"

    deadline = time.monotonic() + 20
    # The task's own job, then the notification job it queues, both under the webhook's id.
    while not any(
        e["request_id"] == request_id and "deliveries" in e["message"]
        for e in json_lines(workdir / "worker.log")
    ):
        assert time.monotonic() < deadline, (workdir / "worker.log").read_text()[-3000:]
        time.sleep(0.2)

    web = [e for e in json_lines(workdir / "web.log") if e["request_id"] == request_id]
    assert web, (workdir / "web.log").read_text()[-3000:]
    for entry in web + json_lines(workdir / "worker.log"):
        assert set(entry) >= {"time", "level", "logger", "message", "request_id"}
    everything = (workdir / "web.log").read_text() + (workdir / "worker.log").read_text()
    assert TEXTER not in everything and "pills" not in everything
