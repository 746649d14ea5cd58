"""RETENTION_DAYS: done tasks and what was kept for them go; open, recent and opt-outs stay."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from redis import Redis
from rq.job import Job
from rq.registry import FailedJobRegistry

from intake import retention
from intake.config import Settings
from intake.queues import JobQueue
from intake.store import DEFAULT_QUEUE, Store
from intake.store.sessions import RETURNING_TTL
from tests.support import factories
from tests.support.factories import make_session
from tests.support.stores import make_store

from .test_lifecycle import run_cli

NOW = datetime.now(UTC)
ANA = "ana@center.org"
NUMBER = factories.NUMBER
OPTED_OUT = "+13125550123"


def done_task(store: Store, task_id: str, closed_days_ago: float, **overrides: Any) -> None:
    """A task created before it was closed, claimed and done `closed_days_ago` days ago."""
    closed = NOW - timedelta(days=closed_days_ago)
    store.create_task(
        factories.make_task(task_id, created_at=closed - timedelta(days=1), **overrides)
    )
    store.change_task(task_id, "claim", ANA, closed - timedelta(hours=1))
    store.change_task(task_id, "done", ANA, closed)


def kept_for(store: Store, task_id: str) -> None:
    """What the worker keeps while telling staff about a task: markers and send records."""
    store.queue_notifications_once(task_id, ["sms:1", "crm"], lambda pipe: None)
    store.send_intended(f"confirm-{task_id}", NOW.timestamp())
    store.send_done(f"notify-sms-{task_id}-0a1b2c3d", "SM" + "0" * 32)


def populate(redis: Redis) -> Store:
    store = make_store(redis)
    done_task(store, "old1", 31)
    done_task(store, "old2", 45, name="Jess Doe", kind="crisis", priority="urgent")
    kept_for(store, "old1")
    done_task(store, "recent", 29)
    kept_for(store, "recent")
    store.create_task(factories.make_task("open", created_at=NOW - timedelta(days=90)))
    done_task(store, "reopened", 60)
    store.change_task("reopened", "reopen", ANA, NOW - timedelta(days=40))
    store.opt_out(OPTED_OUT)
    return store


def snapshot(redis: Redis) -> dict[bytes, bytes | None]:
    return {key: redis.dump(key) for key in redis.keys("intake:*")}


def test_done_tasks_past_retention_vanish_with_their_audit_and_records(
    redis_conn: Redis, settings: Settings
) -> None:
    store = populate(redis_conn)
    queue = JobQueue(DEFAULT_QUEUE, connection=redis_conn)
    failed = queue.enqueue("workers.jobs.confirm_to_caller", "old1", job_id="confirm-old1")
    FailedJobRegistry(queue=queue).add(failed, ttl=3600)  # a failed job keeps its arguments

    purged = retention.purge(redis_conn, settings, NOW)

    assert purged.counts() == {
        "tasks": 2,
        "audit_entries": 6,  # created, claimed, done: each
        "notify_markers": 2,
        "send_records": 2,
        "returning_markers": 0,
    }
    assert {t.id for t in store.list_tasks()} == {"recent", "open", "reopened"}
    for gone in ("old1", "old2"):
        assert store.get_task(gone) is None
        assert store.audit(gone) == []
        assert not store.notifications_queued(gone)
        assert gone not in store.notifications_due()
    assert store.send_record("confirm-old1") == (None, None)
    assert store.send_record("confirm-recent")[0] is not None
    assert store.notifications_queued("recent")
    assert [e.action for e in store.audit("recent")] == ["created", "claimed", "done"]
    assert store.is_opted_out(OPTED_OUT)
    assert not Job.exists("confirm-old1", connection=redis_conn)
    left = b" ".join(k + b" " + (redis_conn.dump(k) or b"") for k in redis_conn.keys("intake:*"))
    assert b"old1" not in left and b"old2" not in left

    assert retention.purge(redis_conn, settings, NOW).counts()["tasks"] == 0  # idempotent


def test_a_dry_run_counts_the_same_and_changes_nothing(
    redis_conn: Redis, settings: Settings
) -> None:
    populate(redis_conn)
    before = snapshot(redis_conn)
    counted = retention.purge(redis_conn, settings, NOW, dry_run=True).counts()
    assert snapshot(redis_conn) == before
    assert counted == retention.purge(redis_conn, settings, NOW).counts()
    assert counted["tasks"] == 2


def test_retention_zero_keeps_everything(redis_conn: Redis, settings: Settings) -> None:
    populate(redis_conn)
    before = snapshot(redis_conn)
    kept = replace(settings, retention_days=0)
    assert retention.purge(redis_conn, kept, NOW).counts()["tasks"] == 0
    assert snapshot(redis_conn) == before
    assert retention.schedule_purge(redis_conn, kept, NOW + timedelta(hours=1)) is None


def test_returning_markers_go_when_retention_is_shorter_than_their_ttl(
    redis_conn: Redis, settings: Settings
) -> None:
    store = make_store(redis_conn)
    for number, age_days in (("+13125550111", 10), ("+13125550112", 1)):
        store.save_session(number, make_session(number, NOW))
        # As if saved `age_days` ago: what is left of its TTL.
        for key in redis_conn.keys(f"intake:returning:sms:{store.number_ref(number)}"):
            redis_conn.expire(key, RETURNING_TTL - age_days * 86400)
    week = replace(settings, retention_days=7)
    assert retention.purge(redis_conn, week, NOW).counts()["returning_markers"] == 1
    assert not store.is_returning("sms", "+13125550111")
    assert store.is_returning("sms", "+13125550112")


def test_intake_purge_prints_counts_only_and_tasks_list_still_works(
    redis_conn: Redis, settings_env: dict[str, str]
) -> None:
    populate(redis_conn)
    before = snapshot(redis_conn)
    dry = run_cli(settings_env, "purge", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would remove 2 tasks, 6 audit entries" in dry.stdout
    assert snapshot(redis_conn) == before

    real = run_cli(settings_env, "purge", "--json")
    assert real.returncode == 0, real.stderr
    assert json.loads(real.stdout) == {
        "dry_run": False,
        "retention_days": 30,
        "tasks": 2,
        "audit_entries": 6,
        "notify_markers": 2,
        "send_records": 2,
        "returning_markers": 0,
    }
    for output in (dry.stdout + dry.stderr, real.stdout + real.stderr):
        assert NUMBER not in output and "Jess" not in output and "old1" not in output

    listed = run_cli(settings_env, "tasks", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert sorted(t["id"] for t in json.loads(listed.stdout)) == ["open", "recent", "reopened"]
