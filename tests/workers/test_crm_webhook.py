"""The CRM webhook: https outside development, one event id per delivery, the minimum by default."""

from __future__ import annotations

import pytest
from redis import Redis

from intake.cli import main
from intake.config import ConfigError, Settings
from intake.outbound import event_id_for
from tests.support.crm import CrmServer
from tests.support.worker import enqueue_task, new_task, work

from .conftest import CRM_SECRET, WorkerEnv


@pytest.mark.parametrize(
    "url",
    [
        "https://crm.example.org/hooks/intake",
        "http://127.0.0.1:8080/hooks/intake",  # development: a CRM stand-in on this machine
        "http://localhost/hooks",
        "http://[::1]:9000/hooks",
    ],
)
def test_it_accepts_https_or_a_crm_on_this_machine(settings_env: dict[str, str], url: str) -> None:
    env = {**settings_env, "CRM_WEBHOOK_URL": url, "CRM_WEBHOOK_SECRET": CRM_SECRET}
    assert Settings.from_env(env).crm_webhook_url == url


@pytest.mark.parametrize(
    "url",
    [
        "http://crm.example.org/hooks/intake?token=s3cret",
        "http://10.0.0.5/hooks",
        "http://127.0.0.1.example.org/hooks",
    ],
)
def test_it_refuses_a_plain_http_crm_elsewhere(settings_env: dict[str, str], url: str) -> None:
    env = {**settings_env, "CRM_WEBHOOK_URL": url, "CRM_WEBHOOK_SECRET": CRM_SECRET}
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(env)
    message = str(refused.value)
    assert message.startswith("CRM_WEBHOOK_URL must be an https URL")
    assert "s3cret" not in message and "/hooks" not in message  # a path may hold a token


def test_intake_check_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CRM_WEBHOOK_URL", "http://crm.example.org/hooks/intake")
    monkeypatch.setenv("CRM_WEBHOOK_SECRET", CRM_SECRET)

    assert main(["check"]) == 2

    err = capsys.readouterr().err
    assert err.splitlines() == [
        "intake: configuration error: CRM_WEBHOOK_URL must be an https URL "
        "(http only to localhost), got http://crm.example.org"
    ]


def test_it_refuses_an_unknown_payload_setting(settings_env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="CRM_PAYLOAD must be minimal or full, got 'all'"):
        Settings.from_env({**settings_env, "CRM_PAYLOAD": "all"})


def test_a_retried_delivery_carries_the_same_event_id(
    crm: CrmServer, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    crm.script(503, 204)  # the first attempt fails; RQ's retry delivers
    task = new_task()
    enqueue_task(redis_conn, task)

    work(redis_conn)

    first, second = crm.received
    assert (first.status, second.status) == (503, 204)
    assert first.refused is None and second.refused is None  # both signed
    expected = event_id_for(f"notify-crm-{task.id}")
    for delivery in (first, second):
        assert delivery.headers["X-Intake-Event-Id"] == expected
        assert delivery.headers["Idempotency-Key"] == expected
        assert delivery.payload["event_id"] == expected


def test_each_task_is_its_own_event(
    crm: CrmServer, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    for task in (new_task(), new_task()):
        enqueue_task(redis_conn, task)

    work(redis_conn)

    ids = [d.payload["event_id"] for d in crm.received]
    assert len(ids) == 2 and len(set(ids)) == 2
    assert [d.headers["X-Intake-Event-Id"] for d in crm.received] == ids


def test_the_minimal_payload_is_the_default_and_says_nothing_personal(
    crm: CrmServer, worker_env: WorkerEnv, redis_conn: Redis
) -> None:
    task = new_task(kind="crisis", crisis_category="overdose")
    enqueue_task(redis_conn, task)

    work(redis_conn)

    [delivery] = crm.accepted
    assert set(delivery.payload) == {"event", "event_id", "task", "url"}
    assert delivery.payload["task"] == {"id": task.id, "priority": "urgent"}
    body = delivery.body.decode()
    for secret in ("Sam", "Rivera", "5550188", "5550199", "overdose", "crisis", "opioids"):
        assert secret not in body, secret
