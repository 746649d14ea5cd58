"""REDIS_URL with a password, and with TLS (rediss://): the Procfile's web and worker work.

One redis-server, started here with `requirepass`, a plain port and a TLS port (certificates
made in the test), serves both cases.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from redis.exceptions import AuthenticationError, RedisError, ResponseError

from intake.redis_server import find_redis_server, free_port
from tests.support.tls import write_certificates
from tests.support.twilio_emulator import TwilioEmulator

from .support import base_env, post_form, sms_params, start_procfile, stop_group, wait_for_health

PASSWORD = "s3cret-" + secrets.token_hex(8)
TEXTER = "+13125550144"
CRISIS = "i want to kill myself"


@dataclass
class SecureRedis:
    plain_port: int
    tls_port: int
    ca: Path

    def url(self, tls: bool) -> str:
        if tls:
            return f"rediss://:{PASSWORD}@127.0.0.1:{self.tls_port}/0?ssl_ca_certs={self.ca}"
        return f"redis://:{PASSWORD}@127.0.0.1:{self.plain_port}/0"


@pytest.fixture(scope="module")
def secure_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureRedis]:
    directory = tmp_path_factory.mktemp("redis-tls")
    ca, cert, key = write_certificates(directory)
    plain, tls = free_port(), free_port()
    log = directory / "redis.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                find_redis_server(),
                "--port", str(plain),
                "--tls-port", str(tls),
                "--tls-cert-file", str(cert),
                "--tls-key-file", str(key),
                "--tls-ca-cert-file", str(ca),
                "--tls-auth-clients", "no",
                "--requirepass", PASSWORD,
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(directory),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        server = SecureRedis(plain, tls, ca)
        deadline = time.monotonic() + 10
        while True:
            if process.poll() is not None:
                said = log.read_text(errors="replace")
                if "tls" in said.lower():
                    pytest.skip(f"this redis-server has no TLS support: {said.strip()[-200:]}")
                pytest.fail(f"redis-server exited: {said}")
            try:
                if Redis.from_url(server.url(tls=True)).ping():
                    break
            except RedisError:
                if time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not answer over TLS\n{log.read_text()}")
                time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_redis_refuses_clients_without_the_password(secure_redis: SecureRedis) -> None:
    with pytest.raises((AuthenticationError, ResponseError)):
        Redis(host="127.0.0.1", port=secure_redis.plain_port).set("x", "1")
    with pytest.raises(RedisError):  # and the TLS port speaks nothing but TLS
        Redis(host="127.0.0.1", port=secure_redis.tls_port, password=PASSWORD).ping()


@pytest.mark.parametrize("tls", [False, True], ids=["password", "rediss"])
def test_the_procfile_runs_against_a_redis_with_a_password(
    secure_redis: SecureRedis,
    session_settings_env: dict[str, str],
    tmp_path: Path,
    tls: bool,
) -> None:
    url = secure_redis.url(tls)
    Redis.from_url(url).flushall()
    port = free_port()
    twilio = TwilioEmulator(
        session_settings_env["TWILIO_ACCOUNT_SID"], session_settings_env["TWILIO_AUTH_TOKEN"]
    )
    processes: dict[str, subprocess.Popen[Any]] = {}

    def logs() -> str:
        return "\n".join(
            f"--- {n} ---\n{(tmp_path / f'{n}.log').read_text(errors='replace')[-3000:]}"
            for n in processes
        )

    with twilio:
        env = {
            **base_env(tmp_path),
            **session_settings_env,
            "REDIS_URL": url,
            "PORT": str(port),
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "TWILIO_API_BASE_URL": twilio.url,
            "STAFF_NOTIFY_NUMBERS": "+13125550101",
        }
        try:
            start_procfile(tmp_path, env, processes)
            wait_for_health(f"http://127.0.0.1:{port}", processes, logs, 60)
            params = sms_params(
                CRISIS, TEXTER, env["TWILIO_PHONE_NUMBER"], env["TWILIO_ACCOUNT_SID"]
            )
            status, xml = post_form(
                f"http://127.0.0.1:{port}/sms", params, env["TWILIO_AUTH_TOKEN"]
            )
            assert status == 200 and "988" in xml, f"{xml}\n{logs()}"

            # The worker stored the task and texted staff, both through the same URL.
            twilio.wait_for(1, timeout=20)
            tasks = intake_tasks(env, tmp_path)
            assert [t["kind"] for t in tasks] == ["crisis"], logs()
        finally:
            for process in processes.values():
                stop_group(process)


def intake_tasks(env: dict[str, str], workdir: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, "-m", "intake.cli", "tasks", "list", "--json"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    tasks: list[dict[str, Any]] = json.loads(result.stdout)
    return tasks
