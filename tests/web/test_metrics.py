"""GET /metrics: what operators see, who may see it, and that no label carries a person."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from intake import create_app
from intake.config import ConfigError, Settings
from tests.support.factories import make_task
from tests.support.stores import make_store

from .conftest import TEXTER

TOKEN = "metrics-token-0123456789"


def samples(client: FlaskClient, **kwargs: Any) -> dict[tuple[str, frozenset[Any]], float]:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for s in family.samples
    }


def value(found: dict[tuple[str, frozenset[Any]], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_it_counts_webhooks_by_channel_and_step_and_crises_by_category(
    app: Flask, client: FlaskClient, text: Callable[..., list[str]]
) -> None:
    before = samples(client)
    text("hi")
    text("i want to kill myself tonight", from_="+13125550142")
    after = samples(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    steps = {
        dict(labels)["step"]
        for (name, labels) in after
        if name == "intake_webhook_seconds_count" and dict(labels).get("channel") == "sms"
    }
    assert sum(grew("intake_webhook_seconds_count", channel="sms", step=s) for s in steps) == 2
    assert steps <= set(app.extensions["intake"].flow.spec.states) | {"none"}
    assert grew("intake_crisis_detected_total", category="suicide") == 1
    assert grew("intake_tasks_queued_total", channel="sms", priority="urgent") == 1
    assert value(after, "intake_queue_depth", queue="intake-urgent") == 1
    assert value(after, "intake_redis_up") == 1


def test_it_reports_tasks_by_status_and_failed_notifications(
    client: FlaskClient, redis_conn: Any, settings: Settings
) -> None:
    store = make_store(redis_conn)
    store.create_task(make_task(priority="urgent", kind="crisis", delivery_failed=True))
    store.create_task(make_task())
    found = samples(client)
    assert value(found, "intake_tasks", status="new", priority="urgent") == 1
    assert value(found, "intake_tasks", status="new", priority="normal") == 1
    assert value(found, "intake_notification_failed_tasks") == 1


def test_it_names_nobody_in_any_label_or_value(
    client: FlaskClient, text: Callable[..., list[str]], redis_conn: Any
) -> None:
    text("i took too many pills and cant breathe, my name is Jess")
    make_store(redis_conn).create_task(make_task(name="Jess", callback_number=TEXTER))
    body = client.get("/metrics").get_data(as_text=True)
    for secret in (TEXTER, "Jess", "pills"):
        assert secret not in body
    # the last four digits as a masked number would show them, not inside a timestamp or a float
    assert not re.search(rf"(?<![\d.]){TEXTER[-4:]}(?![\d.])", body)


def test_it_answers_404_to_others_and_to_a_wrong_token(client: FlaskClient) -> None:
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", environ_base=outside).status_code == 404
    wrong = {"Authorization": "Bearer not-the-token-at-all"}
    assert client.get("/metrics", environ_base=outside, headers=wrong).status_code == 404


def test_it_lets_a_token_in_from_anywhere(settings_env: dict[str, str], redis_conn: Any) -> None:
    app = create_app(Settings.from_env(settings_env | {"METRICS_TOKEN": TOKEN}))
    client = app.test_client()
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", environ_base=outside).status_code == 404
    allowed = client.get(
        "/metrics", environ_base=outside, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert allowed.status_code == 200
    assert b"intake_redis_up" in allowed.data


def test_it_lets_allowed_networks_in(settings_env: dict[str, str], redis_conn: Any) -> None:
    app = create_app(Settings.from_env(settings_env | {"METRICS_ALLOW": "10.0.0.0/8"}))
    client = app.test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
    assert client.get("/metrics").status_code == 404  # 127.0.0.1 is no longer on the list


def test_it_still_answers_when_redis_is_down(settings_env: dict[str, str]) -> None:
    down = settings_env | {"REDIS_URL": "redis://127.0.0.1:9/0", "REDIS_TIMEOUT_SECONDS": "0.2"}
    app: Flask = create_app(Settings.from_env(down))
    found = samples(app.test_client())
    assert value(found, "intake_redis_up") == 0
    assert ("intake_spooled", frozenset()) in found


@pytest.mark.parametrize(
    ("variable", "raw"),
    [("METRICS_ALLOW", "10.0.0.0/8, not-a-network"), ("METRICS_TOKEN", "short")],
)
def test_it_refuses_bad_metrics_settings(
    settings_env: dict[str, str], variable: str, raw: str
) -> None:
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env(settings_env | {variable: raw})
