"""Redis restarted with its append-only file between a request and its processing: nothing lost."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from rq.registry import FailedJobRegistry

from intake import create_app
from intake.config import Settings
from intake.devserver import REDIS_CONF
from intake.queues import JobQueue
from intake.redis_server import RedisProcess, start_redis
from intake.store import DEFAULT_QUEUE, URGENT_QUEUE
from tests.e2e.support import base_env
from tests.support.stores import make_store
from tests.support.twilio_emulator import TwilioEmulator
from tests.web.conftest import replies, sign, twilio_sms_params

TEXTER = "+13125550142"
ON_CALL = "+13125550107"
CONVERSATION = ["ANXIETY", "CALL", "Sam", "YES", "evening", "ME", "NO", "YES", "YES"]
FSYNC_WINDOW = 1.0  # appendfsync everysec


def text_whole_callback(settings: Settings) -> list[str]:
    """A callback request by SMS through the app, signed as Twilio signs it; the last replies."""
    client = create_app(settings).test_client()
    last: list[str] = []
    for body in CONVERSATION:
        params = twilio_sms_params(body, TEXTER)
        response = client.post(
            "/sms", data=params, headers={"X-Twilio-Signature": sign(settings, "/sms", params)}
        )
        assert response.status_code == 200, response.data
        last = replies(response.data)
    return last


def stop(redis: RedisProcess, how: signal.Signals) -> None:
    """Stop our own redis-server, by its pid, with `how`."""
    redis.process.send_signal(how)
    redis.process.wait(timeout=10)
    with pytest.raises(RedisConnectionError):
        Redis.from_url(redis.url, socket_connect_timeout=0.5).ping()


def burst_worker(env: dict[str, str], redis_url: str, cwd: Path) -> None:
    """The Procfile's `rq worker` as a real process, in burst mode: run what is queued, exit."""
    rq = str(Path(sys.executable).parent / "rq")
    command = [rq, "worker", "--burst", "--serializer", "rq.serializers.JSONSerializer"]
    command += ["--url", redis_url, URGENT_QUEUE, DEFAULT_QUEUE]
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_it_loses_no_request_when_redis_restarts_before_a_worker_runs(
    how: signal.Signals, session_settings_env: dict[str, str], tmp_path: Path
) -> None:
    data_dir = tmp_path / "redis"
    twilio = TwilioEmulator(
        session_settings_env["TWILIO_ACCOUNT_SID"], session_settings_env["TWILIO_AUTH_TOKEN"]
    )
    redis = start_redis(data_dir=data_dir, config=REDIS_CONF)
    try:
        with twilio:
            env = {
                **session_settings_env,
                "REDIS_URL": redis.url,
                "TWILIO_API_BASE_URL": twilio.url,
                "STAFF_NOTIFY_NUMBERS": ON_CALL,
            }
            settings = Settings.from_env(env)
            done = text_whole_callback(settings)
            assert "(312) 555-0142" in done[0]  # the confirmation: the request was accepted

            conn = Redis.from_url(redis.url)
            [job] = JobQueue(DEFAULT_QUEUE, connection=conn).get_jobs()
            assert job.func_name == "workers.jobs.create_task"
            assert make_store(conn).list_tasks() == []  # queued, not yet processed
            conn.close()

            if how == signal.SIGKILL:
                time.sleep(FSYNC_WINDOW + 0.5)  # past the window appendfsync everysec leaves
            stop(redis, how)
            redis = start_redis(port=redis.port, data_dir=data_dir, config=REDIS_CONF)

            burst_worker({**base_env(tmp_path), **env}, redis.url, tmp_path)

            conn = Redis.from_url(redis.url)
            [task] = make_store(conn).list_tasks()
            assert task.as_json() | {"id": "-", "created_at": "-"} == {
                "id": "-",
                "kind": "callback",
                "priority": "normal",
                "status": "new",
                "created_at": "-",
                "channel": "sms",
                "language": "en",
                "from_number": TEXTER,
                "callback_number": TEXTER,
                "name": "Sam",
                "best_time": "evening",
                "best_time_window": "evening",
                "for_whom": "self",
                "voicemail_ok": False,
                "text_ok": True,
                "topics": ["anxiety"],
            }
            for name in (URGENT_QUEUE, DEFAULT_QUEUE):
                assert JobQueue(name, connection=conn).count == 0
                assert FailedJobRegistry(name, connection=conn).count == 0
            conn.close()
            # and staff heard of it once, from the worker that ran after the restart
            [staff_text] = twilio.sent_to(ON_CALL)
            assert task.id in staff_text.body
    finally:
        redis.stop()
