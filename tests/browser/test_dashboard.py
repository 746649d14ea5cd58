"""The /staff dashboard in Debian's Chromium, driven by Playwright, against a real HTTP server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from redis import Redis
from werkzeug.security import generate_password_hash

from intake import create_app
from intake.config import Settings
from intake.store import StaffAccount, Store
from intake.tasks import Task
from tests.browser.conftest import CHROMIUM
from tests.support import factories
from tests.support.serving import serve_app
from tests.support.stores import make_store

ANA = "ana@center.org"
BO = "bo@center.org"
PASSWORD = "correct horse battery"
NUMBER = "+13125550142"
LIVE_WAIT_MS = 15_000  # the queue polls every 4 s

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get, as root)",
)


def make_task(task_id: str, **overrides: Any) -> Task:
    created = datetime.now(UTC) - timedelta(minutes=2)
    defaults = dict(
        created_at=created,
        due_at=created,
        from_number=NUMBER,
        callback_number=NUMBER,
        name="Sam Rivera",
        best_time="after 5pm",
        text_ok=None,
        topics=["opioids"],
    )
    return factories.make_task(task_id, **{**defaults, **overrides})


@pytest.fixture
def store(settings: Settings, redis_conn: Redis) -> Store:
    store = make_store(redis_conn)
    for email, role in ((ANA, "admissions"), (BO, "admin")):
        hashed = generate_password_hash(PASSWORD)
        store.save_staff(StaffAccount(email=email, password_hash=hashed, role=role))
    return store


@pytest.fixture
def base_url(settings: Settings, store: Store) -> Iterator[str]:
    """The app on a real HTTP server on 127.0.0.1, in a thread."""
    with serve_app(create_app(settings)) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context()
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page that fails the test on a Content-Security-Policy violation or a script error."""
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if "Content Security" in m.text else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    yield page
    assert problems == []


def sign_in(page: Page, base_url: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/staff/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_it_takes_a_new_task_from_arrival_to_done(
    page: Page, browser: Browser, base_url: str, store: Store
) -> None:
    sign_in(page, base_url, ANA)
    expect(page).to_have_url(f"{base_url}/staff/")
    expect(page.locator("#open-tasks")).to_contain_text("No open tasks.")

    # Chromium counts http://127.0.0.1 as a secure context, so it keeps and sends Secure cookies.
    [cookie] = [c for c in page.context.cookies() if c["name"] == "session"]
    assert (cookie["secure"], cookie["httpOnly"], cookie["sameSite"]) == (True, True, "Lax")

    page.evaluate("window.notReloaded = true")
    store.create_task(make_task("a1b2c3d4e5"))
    row = page.locator('#open-tasks tr[data-id="a1b2c3d4e5"]')
    expect(row).to_be_visible(timeout=LIVE_WAIT_MS)
    expect(row).to_contain_text("new")
    expect(page.locator('[data-count="new"]')).to_have_text("1")
    assert page.evaluate("window.notReloaded") is True

    row.get_by_role("link", name="a1b2c3d4e5").click()
    expect(page.locator("#consent-voicemail")).to_have_text("Do NOT leave a voicemail")
    expect(page.locator("#consent-text")).to_have_text("Texts: not asked — do not assume")
    expect(page.get_by_role("link", name="Call +1 312-555-0142")).to_have_attribute(
        "href", f"tel:{NUMBER}"
    )
    page.get_by_role("button", name="Claim this task").click()
    expect(page.get_by_role("status").first).to_have_text("Claimed: it is yours now.")

    other = browser.new_context()
    try:
        bo = other.new_page()
        sign_in(bo, base_url, BO)
        expect(bo.locator('#open-tasks tr[data-id="a1b2c3d4e5"]')).to_contain_text(ANA)
        bo.goto(f"{base_url}/staff/tasks/a1b2c3d4e5")
        expect(bo.locator("#owner")).to_contain_text(f"Claimed by {ANA}")
        expect(bo.get_by_role("button", name="Claim this task")).to_have_count(0)
    finally:
        other.close()

    expect(page.locator('option[value="left_voicemail"]')).to_be_disabled()
    page.get_by_label("Outcome").select_option("no_answer")
    page.locator("#attempt-note").fill("rang, no answer")
    page.get_by_role("button", name="Record attempt").click()
    expect(page.get_by_role("status").first).to_have_text("Attempt recorded.")
    page.get_by_role("button", name="Mark done").click()
    expect(page.get_by_role("status").first).to_have_text("Marked done.")
    expect(page.locator("#task-status")).to_have_text("done")

    audit = page.locator("#audit tbody tr")
    expect(audit).to_have_count(4)
    expect(audit.nth(0)).to_contain_text("created")
    expect(audit.nth(1)).to_contain_text(f"{ANA} claimed")
    expect(audit.nth(2)).to_contain_text("attempt no_answer: rang, no answer")
    expect(audit.nth(3)).to_contain_text(f"{ANA} done")

    page.get_by_role("link", name="← Queue").click()
    expect(page.locator("#open-tasks")).to_contain_text("No open tasks.")
    expect(page.locator('[data-count="done_total"]')).to_have_text("1")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status").first).to_have_text("You are signed out.")
    page.goto(f"{base_url}/staff/")
    expect(page).to_have_url(f"{base_url}/staff/login?next=/staff/")


def test_it_refuses_a_wrong_password(page: Page, base_url: str) -> None:
    sign_in(page, base_url, ANA, "not the password")
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    expect(page).to_have_url(f"{base_url}/staff/login")
    page.goto(f"{base_url}/staff/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_it_shows_a_hostile_name_as_text_and_runs_none_of_it(
    page: Page, base_url: str, store: Store
) -> None:
    name = "<script>window.pwned=1</script>"
    best_time = '<img src=x onerror="window.pwned=2">'
    store.create_task(make_task("f00dfeed00", name=name, best_time=best_time))
    sign_in(page, base_url, ANA)
    expect(page.locator('#open-tasks tr[data-id="f00dfeed00"]')).to_be_visible()
    page.goto(f"{base_url}/staff/tasks/f00dfeed00")
    expect(page.locator("#name")).to_have_text(name)
    expect(page.get_by_text(best_time, exact=False)).to_be_visible()
    expect(page.locator("img")).to_have_count(0)
    assert page.evaluate("window.pwned") is None


def test_it_flags_a_crisis_as_it_arrives_and_says_what_was_asked(
    page: Page, base_url: str, store: Store
) -> None:
    sign_in(page, base_url, ANA)
    expect(page.locator("#open-tasks")).to_contain_text("No open tasks.")
    ny = ZoneInfo("America/New_York")
    store.create_task(
        make_task("c0ffee0001", **factories.crisis_for_brother("self_harm", date(2026, 11, 24), ny))
    )
    row = page.locator('#open-tasks tr[data-id="c0ffee0001"]')  # drawn by queue.js
    expect(row.locator(".badge.crisis")).to_have_text("Self-harm", timeout=LIVE_WAIT_MS)
    row.get_by_role("link", name="c0ffee0001").click()
    expect(page.locator("#crisis-category")).to_have_text("Self-harm")
    expect(page.locator("#best-time")).to_have_text(
        "tonight after 6 (evening) — Tue 24 Nov, 18:00–21:00"
    )
    expect(page.locator("#for-whom")).to_have_text("Someone else (brother)")


def test_an_admin_sees_the_conversation_drawn_with_each_states_texts(
    page: Page, base_url: str
) -> None:
    sign_in(page, base_url, BO)
    page.get_by_role("link", name="Flow").click()
    expect(page).to_have_url(f"{base_url}/staff/admin/flow")
    diagram = page.locator("#flow-diagram svg")
    expect(diagram).to_be_visible(timeout=LIVE_WAIT_MS)
    expect(diagram).to_contain_text("crisis language")
    expect(diagram).to_contain_text("menu")
    texts = page.locator("table.flow-texts")
    expect(texts.locator('td[lang="en"]').first).not_to_be_empty()
    expect(texts.locator('td[lang="es"]').first).not_to_be_empty()


def test_admissions_staff_get_no_flow_page_or_link(page: Page, base_url: str) -> None:
    sign_in(page, base_url, ANA)
    expect(page.locator("#open-tasks")).to_be_visible()
    expect(page.get_by_role("link", name="Flow")).to_have_count(0)
    response = page.goto(f"{base_url}/staff/admin/flow")
    assert response is not None and response.status == 403
