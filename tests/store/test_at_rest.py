"""Data at rest: the store seals what is personal, and no phone number names a key."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from redis import Redis

from intake import cli
from intake.config import ConfigError, Settings
from intake.crypto import InvalidToken, generate_key, keyring
from intake.flow.engine import Session
from intake.store import Store
from tests.support.factories import make_session, make_task
from tests.support.stores import TEST_LOOKUP_KEY, make_store

NUMBER = "+13125550177"
NAME = "Sam Rivera"
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def session(contact: str = NUMBER) -> Session:
    return make_session(contact, NOW)


def everything(redis: Redis) -> bytes:
    """Every key name and value in Redis, as one blob to search."""
    out = []
    for key in redis.scan_iter("*"):
        out.append(key)
        out.append(redis.dump(key) or b"")
        kind = redis.type(key)
        if kind == b"string":
            out.append(redis.get(key) or b"")
        elif kind == b"list":
            out.extend(redis.lrange(key, 0, -1))
        elif kind == b"set":
            out.extend(redis.smembers(key))
        elif kind == b"hash":
            for field, value in redis.hgetall(key).items():
                out.extend([field, value])
        elif kind == b"zset":
            out.extend(redis.zrange(key, 0, -1))
    return b"\n".join(out)


def test_it_seals_sessions_tasks_and_audit_entries(redis_conn: Redis) -> None:
    store = make_store(redis_conn)
    store.save_session(NUMBER, session())
    task = make_task(callback_number=NUMBER, from_number=NUMBER, name=NAME)
    store.create_task(task)
    store.change_task(task.id, "claim", "ann@center.org", NOW)

    blob = everything(redis_conn)
    for secret in (NUMBER, NUMBER[2:], NAME, "ann@center.org", "evening"):
        assert secret.encode() not in blob
    assert store.load_session("sms", NUMBER) == session()
    assert store.get_task(task.id).name == NAME  # type: ignore[union-attr]
    assert [e.action for e in store.audit(task.id)] == ["created", "claimed"]
    assert store.audit(task.id)[1].by == "ann@center.org"


def test_no_phone_number_names_a_key(redis_conn: Redis) -> None:
    store = make_store(redis_conn)
    store.begin_step("sms", NUMBER, NUMBER, "SM1", sender=NUMBER)
    store.save_session(NUMBER, session())
    with store.lock("sms", NUMBER):
        keys = b" ".join(redis_conn.keys("*"))
    store.opt_out(NUMBER)
    store.count_text(NUMBER, "2026-03-02", 5, "k1")

    keys += (
        b" " + b" ".join(redis_conn.keys("*")) + b" ".join(redis_conn.smembers("intake:optouts"))
    )
    assert NUMBER[2:].encode() not in keys
    assert store.is_opted_out(NUMBER) and store.texts_sent(NUMBER, "2026-03-02") == 1
    assert store.is_returning("sms", NUMBER)


def test_the_reference_is_a_keyed_hmac(redis_conn: Redis) -> None:
    ours = make_store(redis_conn)
    other = Store(redis_conn, keyring([generate_key()]), "another-lookup-key-" + "x" * 20)

    assert ours.number_ref(NUMBER) == make_store(redis_conn).number_ref(NUMBER)
    assert ours.number_ref(NUMBER) != other.number_ref(NUMBER)
    assert len(ours.number_ref(NUMBER)) == 64


def test_a_value_written_in_clear_before_the_upgrade_is_still_read(redis_conn: Redis) -> None:
    store = make_store(redis_conn)
    task = make_task(name=NAME)
    redis_conn.set(f"intake:task:{task.id}", task.model_dump_json())

    assert store.get_task(task.id) == task


def test_a_store_with_other_keys_reads_nothing(redis_conn: Redis) -> None:
    make_store(redis_conn).save_session(NUMBER, session())
    other = Store(redis_conn, keyring([generate_key()]), TEST_LOOKUP_KEY)

    with pytest.raises(InvalidToken):
        other.load_session("sms", NUMBER)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"LOOKUP_KEY": ""}, "LOOKUP_KEY is required"),
        ({"LOOKUP_KEY": "short"}, "LOOKUP_KEY must be at least 32 characters, got 5"),
        ({"ENCRYPTION_KEYS": ""}, "ENCRYPTION_KEYS is required"),
        ({"ENCRYPTION_KEYS": "not-a-key"}, "ENCRYPTION_KEYS: key 1 is not a Fernet key"),
        ({"FAILED_JOB_TTL_DAYS": "0"}, "FAILED_JOB_TTL_DAYS must be at least 1"),
    ],
)
def test_production_refuses_missing_or_bad_keys(
    settings_env: dict[str, str], change: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected):
        Settings.from_env({**settings_env, **change})


def test_the_failed_job_ttl_defaults_to_a_week(settings: Settings) -> None:
    assert settings.failed_job_ttl_days == 7


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("LOOKUP_KEY", "", "LOOKUP_KEY is required"),
        ("ENCRYPTION_KEYS", "abc", "ENCRYPTION_KEYS: key 1 is not a Fernet key"),
    ],
)
def test_intake_check_names_a_missing_or_bad_key_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    value: str,
    expected: str,
) -> None:
    monkeypatch.setenv(name, value)

    assert cli.main(["check"]) == 2

    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"intake: configuration error: {expected}")
