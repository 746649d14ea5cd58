"""`intake keys rotate`: old keys keep working until rotation, then can go; clear data is sealed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis import Redis

from intake import cli
from intake.crypto import InvalidToken, generate_key, keyring
from intake.flow.engine import Session
from intake.spool import Spool
from intake.store import StaffAccount, Store
from tests.support.factories import make_session, make_task
from tests.support.stores import TEST_LOOKUP_KEY, make_store

K1, K2 = generate_key(), generate_key()
NUMBER = "+13125550166"
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def store(redis: Redis, *keys: str) -> Store:
    return Store(redis, keyring(keys), TEST_LOOKUP_KEY)


def session() -> Session:
    return make_session(NUMBER, NOW)


STAFF = StaffAccount(email="ann@center.org", password_hash="scrypt:x", phone="+13125550101")


def write_everything(s: Store) -> str:
    """A session, a task with two audit entries, a staged task, a staff account and its
    session, a WhatsApp window and a staged message; returns the task's id."""
    s.save_session(NUMBER, session())
    s.note_inbound("whatsapp", NUMBER, NOW)
    s.save_staff(STAFF)
    s.save_staff_session("a" * 64, b'{"_user_id": "ann@center.org"}', 600, STAFF.email, True)
    task = make_task(name="Sam Rivera", callback_number=NUMBER)
    s.create_task(task)
    s.change_task(task.id, "claim", "ann@center.org", NOW)
    with s.redis.pipeline() as pipe:
        s.stage_task(make_task("staged1"), pipe)
        s.stage_message(task.id, "We tried to call you", pipe)
        pipe.execute()
    return task.id


def read_everything(s: Store, task_id: str) -> None:
    assert s.load_session("sms", NUMBER) == session()
    assert s.last_inbound("whatsapp", NUMBER) == NOW
    assert s.get_task(task_id).name == "Sam Rivera"  # type: ignore[union-attr]
    # (`intake tasks list` adds "viewed" entries of its own)
    assert [e.action for e in s.audit(task_id) if e.action != "viewed"] == ["created", "claimed"]
    assert s.staged_task("staged1") is not None
    [message] = [k.decode().rpartition(":")[2] for k in s.redis.keys("intake:message:*")]
    assert s.staged_message(message) == (task_id, "We tried to call you")
    assert s.get_staff(STAFF.email) == STAFF and s.list_staff() == [STAFF]
    assert s.load_staff_session("a" * 64) == b'{"_user_id": "ann@center.org"}'


def test_data_under_k1_stays_readable_with_k2_first_before_and_after_rotation(
    redis_conn: Redis,
) -> None:
    task_id = write_everything(store(redis_conn, K1))
    both = store(redis_conn, K2, K1)
    read_everything(both, task_id)

    rotated = both.rotate_keys()

    assert rotated.counts() == {
        "sessions": 1,
        "tasks": 1,
        "audit_entries": 2,
        "staged_tasks": 1,
        "staff_accounts": 1,
        "staff_sessions": 1,
        "last_inbound": 1,
        "staged_messages": 1,
        "sealed_from_clear": 0,
        "renamed_keys": 0,
        "opt_outs": 0,
    }
    read_everything(both, task_id)
    read_everything(store(redis_conn, K2), task_id)  # K1 can be dropped now
    with pytest.raises(InvalidToken):
        store(redis_conn, K1).get_task(task_id)


def test_it_keeps_the_ttl_of_what_it_rotates(redis_conn: Redis) -> None:
    old = store(redis_conn, K1)
    old.save_session(NUMBER, session())
    key = old.session_key("sms", NUMBER)
    ttl = redis_conn.ttl(key)

    store(redis_conn, K2, K1).rotate_keys()

    assert 0 < ttl - 2 <= redis_conn.ttl(key) <= ttl


def test_it_seals_and_renames_what_an_older_version_kept_in_clear(redis_conn: Redis) -> None:
    """As the version before encryption wrote them: clear JSON, numbers in key names."""
    task = make_task(name="Sam Rivera", callback_number=NUMBER)
    redis_conn.set(f"intake:task:{task.id}", task.model_dump_json())
    redis_conn.zadd("intake:tasks", {task.id: 1})
    redis_conn.rpush(
        f"intake:task:{task.id}:audit",
        '{"at": "2026-03-02T15:00:00Z", "by": '
        '"system", "action": "created", "detail": "normal callback via sms"}',
    )
    redis_conn.set(f"intake:session:sms:{NUMBER}", session().model_dump_json(), ex=3600)
    redis_conn.set(f"intake:returning:sms:{NUMBER}", "1", ex=3600)
    redis_conn.hset(f"intake:outbox:2026-03-02:{NUMBER}", "count", 2)
    redis_conn.sadd("intake:optouts", NUMBER)
    redis_conn.set("intake:staff:ann@center.org", STAFF.model_dump_json())
    redis_conn.sadd("intake:staff", "ann@center.org")
    s = make_store(redis_conn)

    rotated = s.rotate_keys()

    assert rotated.sealed_from_clear == 4 and rotated.renamed_keys == 4 and rotated.opt_outs == 1
    everything = b" ".join(
        [*redis_conn.keys("*"), *redis_conn.smembers("intake:optouts")]
        + [
            redis_conn.get(k) or b""
            for k in redis_conn.keys("*")
            if redis_conn.type(k) == b"string"
        ]
    )
    assert NUMBER[2:].encode() not in everything and b"Sam" not in everything
    assert b"ann@center.org" not in everything and STAFF.phone[2:].encode() not in everything  # type: ignore[index]
    assert s.get_staff(STAFF.email) == STAFF and s.list_staff() == [STAFF]
    assert s.get_task(task.id) == task
    assert s.load_session("sms", NUMBER) == session()
    assert s.is_returning("sms", NUMBER) and s.is_opted_out(NUMBER)
    assert s.texts_sent(NUMBER, "2026-03-02") == 2
    assert s.rotate_keys().sealed_from_clear == 0  # and a second run finds nothing left


def test_the_spool_is_rotated_too(tmp_path: Path) -> None:
    Spool(tmp_path, keyring([K1])).append("opt_out", {"number": NUMBER})

    assert Spool(tmp_path, keyring([K2, K1])).rotate() == 1

    replayed: list[str] = []
    Spool(tmp_path, keyring([K2])).replay(lambda r: replayed.append(r.payload["number"]))
    assert replayed == [NUMBER]


def test_the_command_prints_counts_only(
    redis_conn: Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    task_id = write_everything(make_store(redis_conn))

    assert cli.main(["keys", "rotate", "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts["tasks"] == 1 and counts["spooled_records"] == 0

    assert cli.main(["keys", "rotate"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("re-encrypted under the newest key: 1 sessions, 1 tasks, 2 audit")
    assert NUMBER not in out and "Sam" not in out
    read_everything(make_store(redis_conn), task_id)


def test_rotating_through_the_settings_lets_k1_be_dropped(
    redis_conn: Redis, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    task_id = write_everything(store(redis_conn, K1))
    monkeypatch.setenv("ENCRYPTION_KEYS", f"{K2},{K1}")

    assert cli.main(["tasks", "list", "--json"]) == 0  # readable before rotation
    assert json.loads(capsys.readouterr().out)[0]["name"] == "Sam Rivera"
    assert cli.main(["keys", "rotate", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tasks"] == 1

    monkeypatch.setenv("ENCRYPTION_KEYS", K2)
    assert cli.main(["tasks", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["name"] == "Sam Rivera"
    read_everything(store(redis_conn, K2), task_id)
