"""Task lifecycle: new -> claimed -> attempts -> done; rescheduled, reopened; audit; ordering."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from intake.tasks import (
    CONTRACT_FIELDS,
    Task,
    TransitionError,
    change,
    due_time,
    task_from_request,
)
from tests.support import factories
from tests.support.stores import make_store

NY = ZoneInfo("America/New_York")
T0 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # 09:00 in New York


def make_task(task_id: str = "t1", **overrides: Any) -> Task:
    return factories.make_task(task_id, **{"created_at": T0, **overrides})


def test_it_walks_the_happy_path_with_an_audit_entry_each_step() -> None:
    task = make_task()
    task, a1 = change(task, "claim", "ana@center.org", T0)
    task, a2 = change(task, "attempt", "ana@center.org", T0, outcome="no_answer")
    task, a3 = change(task, "attempt", "ana@center.org", T0, outcome="reached", note="booked")
    task, a4 = change(task, "done", "ana@center.org", T0)
    assert task.status == "done"
    assert [a.outcome for a in task.attempts] == ["no_answer", "reached"]
    assert [(a.by, a.action) for a in (a1, a2, a3, a4)] == [
        ("ana@center.org", "claimed"),
        ("ana@center.org", "attempt"),
        ("ana@center.org", "attempt"),
        ("ana@center.org", "done"),
    ]
    assert a3.detail == "reached: booked"


@pytest.mark.parametrize(
    ("setup", "action", "kwargs", "message"),
    [
        ([], "done", {}, "claim it before you done"),
        ([], "attempt", {"outcome": "reached"}, "claim it before you attempt"),
        ([("claim", "bo@center.org")], "claim", {}, "already claimed by bo@center.org"),
        ([("claim", "bo@center.org")], "done", {}, "claimed by bo@center.org, not you"),
        ([("claim", "ana@center.org")], "attempt", {"outcome": "sang"}, "outcome must be one of"),
        (
            [("claim", "ana@center.org")],
            "attempt",
            {"outcome": "left_voicemail"},
            "did not allow a voicemail",
        ),
        ([("claim", "ana@center.org")], "reschedule", {}, "needs a new time"),
        ([], "reopen", {}, "nothing to reopen"),
        ([("claim", "ana@center.org"), ("done", "ana@center.org")], "claim", {}, "reopen it first"),
        ([], "explode", {}, "unknown action"),
    ],
)
def test_it_refuses_invalid_transitions_with_a_clear_message(
    setup: list[tuple[str, str]], action: str, kwargs: dict[str, Any], message: str
) -> None:
    task = make_task()
    for step, by in setup:
        task, _ = change(task, step, by, T0)
    with pytest.raises(TransitionError, match=message):
        change(task, action, "ana@center.org", T0, **kwargs)


def test_it_reschedules_and_reopens() -> None:
    task, _ = change(make_task(), "claim", "ana@center.org", T0)
    later = T0 + timedelta(days=1)
    task, entry = change(task, "reschedule", "ana@center.org", T0, when=later)
    assert (task.status, task.due_at) == ("rescheduled", later)
    assert entry.detail == "to 2026-11-26T14:00:00Z"
    task, _ = change(task, "claim", "bo@center.org", T0)
    task, _ = change(task, "done", "bo@center.org", T0)
    task, _ = change(task, "reopen", "ana@center.org", T0)
    assert (task.status, task.claimed_by) == ("reopened", None)


def test_it_allows_a_voicemail_only_with_consent() -> None:
    task, _ = change(make_task(voicemail_ok=True), "claim", "ana@center.org", T0)
    task, _ = change(task, "attempt", "ana@center.org", T0, outcome="left_voicemail")
    assert task.attempts[-1].outcome == "left_voicemail"


def test_due_time_is_the_start_of_the_preferred_window() -> None:
    three_am = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # 03:00 New York
    assert due_time(three_am, "morning", NY) == datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    assert due_time(three_am, "evening", NY) == datetime(2026, 11, 25, 22, 0, tzinfo=UTC)
    ten_pm = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)  # 22:00 New York
    assert due_time(ten_pm, "evening", NY) == datetime(2026, 11, 26, 22, 0, tzinfo=UTC)
    in_window = datetime(2026, 11, 25, 23, 0, tzinfo=UTC)  # 18:00 New York
    assert due_time(in_window, "evening", NY) == in_window
    assert due_time(three_am, "now", NY) == three_am
    assert due_time(three_am, None, NY) == three_am


def test_it_is_due_at_the_time_asked_for_not_when_the_window_opens() -> None:
    six_pm = datetime(2026, 11, 25, 18, 0, tzinfo=NY)
    request = factories.make_request(
        best_time="tonight after 6",
        best_time_window="evening",
        best_time_start=six_pm,
        best_time_end=datetime(2026, 11, 25, 21, 0, tzinfo=NY),
    )
    assert due_time(T0, "evening", NY) == datetime(2026, 11, 25, 22, 0, tzinfo=UTC)  # 17:00
    task = task_from_request(request, "t1", T0, NY)
    assert task.due_at == datetime(2026, 11, 25, 23, 0, tzinfo=UTC)  # 18:00 New York


def test_it_is_due_now_when_the_time_asked_for_has_begun_or_passed() -> None:
    eight_am = datetime(2026, 11, 25, 8, 0, tzinfo=NY)  # T0 is 09:00 New York
    request = factories.make_request(best_time="this morning", best_time_start=eight_am)
    assert task_from_request(request, "t1", T0, NY).due_at == T0
    assert due_time(T0, "morning", NY, asked=eight_am - timedelta(days=1)) == T0


def test_it_copies_the_time_asked_for_whom_and_the_crisis_category() -> None:
    start = datetime(2026, 11, 25, 18, 0, tzinfo=NY)
    end = datetime(2026, 11, 25, 21, 0, tzinfo=NY)
    request = factories.make_request(
        kind="crisis",
        priority="urgent",
        best_time_start=start,
        best_time_end=end,
        for_whom="other",
        for_whom_detail="brother",
        crisis_category="overdose",
    )
    task = task_from_request(request, "t1", T0, NY)
    assert (task.best_time_start, task.best_time_end) == (start, end)
    assert (task.for_whom_detail, task.crisis_category) == ("brother", "overdose")
    detail = task.as_detail()
    assert detail["best_time_start"] == "2026-11-25T23:00:00Z"
    assert detail["best_time_end"] == "2026-11-26T02:00:00Z"
    assert (detail["for_whom_detail"], detail["crisis_category"]) == ("brother", "overdose")
    assert list(task.as_json()) == list(CONTRACT_FIELDS)


def test_it_keeps_a_crisis_task_whose_category_it_does_not_know() -> None:
    request = factories.make_request(kind="crisis", priority="urgent", crisis_category="volcano")
    task = task_from_request(request, "t1", T0, NY)
    assert (task.kind, task.priority, task.crisis_category) == ("crisis", "urgent", None)


def test_it_loads_tasks_stored_before_the_time_asked_for_and_crisis_category(
    redis_conn: Any,
) -> None:
    store = make_store(redis_conn)
    store.create_task(make_task(due_at=T0))
    new_fields = {"best_time_start", "best_time_end", "for_whom_detail", "crisis_category"}
    old = make_task(due_at=T0).model_dump(mode="json", exclude=new_fields)
    assert new_fields.isdisjoint(old)
    redis_conn.set(store._task_key("t1"), json.dumps(old))  # as the previous release wrote it
    task = store.get_task("t1")
    assert task is not None and task.best_time_window == "evening"
    assert (task.best_time_start, task.for_whom_detail, task.crisis_category) == (None, None, None)
    assert [t.id for t in store.list_tasks()] == ["t1"]
    assert store.change_task("t1", "claim", "ana@center.org", T0).status == "claimed"


def test_the_store_orders_urgent_then_due_then_oldest(redis_conn: Any) -> None:
    store = make_store(redis_conn)
    store.create_task(make_task("late", due_at=T0 + timedelta(hours=8)))
    store.create_task(make_task("soon", due_at=T0 + timedelta(hours=1)))
    store.create_task(
        make_task("older", created_at=T0 - timedelta(hours=1), due_at=T0 + timedelta(hours=1))
    )
    store.create_task(
        make_task(
            "crisis",
            kind="crisis",
            priority="urgent",
            created_at=T0 + timedelta(hours=2),
            due_at=T0 + timedelta(hours=2),
        )
    )
    assert [t.id for t in store.list_tasks()] == ["crisis", "older", "soon", "late"]


def test_the_store_keeps_an_append_only_audit_trail(redis_conn: Any) -> None:
    store = make_store(redis_conn)
    assert store.create_task(make_task())
    assert not store.create_task(make_task())  # a retried job: no second task, no second entry
    store.change_task("t1", "claim", "ana@center.org", T0)
    with pytest.raises(TransitionError):
        store.change_task("t1", "claim", "bo@center.org", T0)
    store.change_task("t1", "attempt", "ana@center.org", T0, outcome="no_answer")
    actions = [(e.by, e.action) for e in store.audit("t1")]
    assert actions == [
        ("system", "created"),
        ("ana@center.org", "claimed"),
        ("ana@center.org", "attempt"),
    ]
    with pytest.raises(KeyError):
        store.change_task("nope", "claim", "ana@center.org", T0)


def test_two_staff_claiming_at_once_get_one_owner(redis_conn: Any) -> None:
    import threading

    store = make_store(redis_conn)
    store.create_task(make_task())
    winners: list[str] = []
    barrier = threading.Barrier(8)

    def claim(who: str) -> None:
        barrier.wait()
        try:
            store.change_task("t1", "claim", who, T0)
            winners.append(who)
        except TransitionError:
            pass

    threads = [threading.Thread(target=claim, args=(f"s{i}@center.org",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert store.get_task("t1").claimed_by == winners[0]  # type: ignore[union-attr]
    assert len(store.audit("t1")) == 2


def run_cli(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "intake.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_cli_lists_shows_claims_attempts_and_completes(
    redis_conn: Any, settings_env: dict[str, str]
) -> None:
    make_store(redis_conn).create_task(make_task(voicemail_ok=True))
    assert (
        run_cli(
            settings_env,
            "staff",
            "add",
            "Ana@Center.org",
            "--password-stdin",
            stdin="correct horse battery\n",
        ).returncode
        == 0
    )
    claim = run_cli(settings_env, "tasks", "claim", "t1", "--by", "ana@center.org", "--json")
    assert claim.returncode == 0, claim.stderr
    assert json.loads(claim.stdout)["claimed_by"] == "ana@center.org"
    stranger = run_cli(settings_env, "tasks", "claim", "t1", "--by", "eve@center.org")
    assert stranger.returncode == 2 and "not a staff account" in stranger.stderr
    attempt = run_cli(
        settings_env, "tasks", "attempt", "t1", "left_voicemail", "--by", "ana@center.org", "--json"
    )
    assert json.loads(attempt.stdout)["attempts"][0]["outcome"] == "left_voicemail"
    done = run_cli(settings_env, "tasks", "done", "t1", "--by", "ana@center.org", "--json")
    assert json.loads(done.stdout)["status"] == "done"
    again = run_cli(settings_env, "tasks", "done", "t1", "--by", "ana@center.org")
    assert again.returncode == 1 and "claim it before you done" in again.stderr
    show = json.loads(run_cli(settings_env, "tasks", "show", "t1", "--json").stdout)
    actions = [e["action"] for e in show["audit"]]
    assert actions == ["created", "claimed", "attempt", "done", "viewed"]  # this show, too
    assert show["audit"][-1]["by"] == "cli"
    listed = json.loads(run_cli(settings_env, "tasks", "list", "--json").stdout)
    assert [t["status"] for t in listed] == ["done"]
    assert json.loads(run_cli(settings_env, "tasks", "list", "--open", "--json").stdout) == []


def test_it_shows_the_new_fields_in_tasks_show_but_keeps_tasks_list_to_the_contract(
    redis_conn: Any, settings_env: dict[str, str]
) -> None:
    make_store(redis_conn).create_task(
        make_task(**factories.crisis_for_brother("suicide", date(2026, 11, 25), NY))
    )
    listed = json.loads(run_cli(settings_env, "tasks", "list", "--json").stdout)
    assert [list(t) for t in listed] == [list(CONTRACT_FIELDS)]
    assert len(CONTRACT_FIELDS) == 16
    show = run_cli(settings_env, "tasks", "show", "t1", "--json")
    assert show.returncode == 0, show.stderr
    detail = json.loads(show.stdout)
    assert detail["best_time_start"] == "2026-11-25T23:00:00Z"
    assert detail["best_time_end"] == "2026-11-26T02:00:00Z"
    assert detail["for_whom_detail"] == "brother"
    assert detail["crisis_category"] == "suicide"
