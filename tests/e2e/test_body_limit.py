"""The Procfile's web process refuses 5 MB bodies with 413, unread, with flat memory."""

from __future__ import annotations

import subprocess
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from intake.redis_server import free_port, start_redis
from tests.support.raw_http import MB, chunked_body, plain_body, post, worker_rss

from .support import base_env, procfile_commands, stop_group

BIG = 5 * MB
FEW_MB = 8 * MB  # two workers; a parsed 5 MB form costs tens of MB
BOGUS = {
    "Content-Type": "application/x-www-form-urlencoded",
    "X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl",
}


class Web:
    def __init__(self, port: int, process: subprocess.Popen[bytes], log: Path) -> None:
        self.port = port
        self.process = process
        self.log = log

    def rss(self) -> int:
        return sum(worker_rss(self.process.pid).values())

    def logs(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture(scope="module")
def web(
    session_settings_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Web]:
    port = free_port()
    workdir = tmp_path_factory.mktemp("body-limit")
    with start_redis() as redis:
        env = {
            **base_env(workdir),
            **session_settings_env,
            "REDIS_URL": redis.url,
            "PORT": str(port),
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        }
        log = workdir / "web.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                ["bash", "-c", procfile_commands()["web"]],
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        running = Web(port, process, log)
        try:
            wait_for_health(running)
            # Every worker has served a form already, so what it holds now is its steady state.
            for _ in range(8):
                post(
                    "127.0.0.1", port, "/sms", plain_body(2000), {**BOGUS, "Content-Length": "2000"}
                )
            yield running
        finally:
            stop_group(process)


def wait_for_health(web: Web, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if web.process.poll() is not None:
            pytest.fail(f"web exited with {web.process.returncode}\n{web.logs()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{web.port}/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"/healthz did not answer in {timeout:.0f} s\n{web.logs()}")


@pytest.mark.parametrize("path", ["/sms", "/voice", "/voice/input", "/staff/login"])
@pytest.mark.parametrize("encoding", ["content-length", "chunked"])
def test_it_refuses_a_5_mb_body_with_413_and_flat_memory(
    web: Web, path: str, encoding: str
) -> None:
    if encoding == "chunked":
        body, framing = chunked_body(BIG), {"Transfer-Encoding": "chunked"}
    else:
        body, framing = plain_body(BIG), {"Content-Length": str(BIG)}
    before = web.rss()

    response = post("127.0.0.1", web.port, path, body, {**BOGUS, **framing})

    grew = web.rss() - before
    assert response.status == 413, f"{response}\n{web.logs()}"
    if path.startswith("/staff"):
        assert response.headers["content-type"].startswith("text/html")
        assert b"Request too large" in response.body
    else:
        assert response.headers["content-type"].startswith("application/xml")
        assert ET.fromstring(response.body).tag == "Response"
    assert grew < FEW_MB, f"workers grew by {grew / MB:.1f} MB"


def test_a_content_length_that_lies_low_reads_only_what_it_declares(web: Web) -> None:
    before = web.rss()

    response = post(
        "127.0.0.1", web.port, "/sms", plain_body(BIG), {**BOGUS, "Content-Length": "1000"}
    )

    # The first 1000 bytes are the whole request (bogus signature); the rest is never parsed.
    assert response.status == 403, response
    assert web.rss() - before < FEW_MB
