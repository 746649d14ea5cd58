"""Speed to lead in Chromium: the queue (live waiting times, flags, links, three lines a task on a
phone) and the reports' charts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect
from redis import Redis
from werkzeug.security import generate_password_hash

from intake import create_app
from intake.config import Settings
from intake.store import StaffAccount, Store
from tests.browser.test_dashboard import (  # noqa: F401 (pytestmark skips without Chromium)
    ANA,
    LIVE_WAIT_MS,
    PASSWORD,
    make_task,
    pytestmark,
    sign_in,
)
from tests.desk.test_reports import MONDAY, timeline
from tests.support.serving import serve_app
from tests.support.stores import make_store

PHONE_WIDTH = 390


@pytest.fixture
def staff_store(settings: Settings, redis_conn: Redis) -> Store:
    store = make_store(redis_conn)
    store.save_staff(
        StaffAccount(email=ANA, password_hash=generate_password_hash(PASSWORD), role="admissions")
    )
    return store


@pytest.fixture
def app_url(settings: Settings, staff_store: Store) -> Iterator[str]:
    """The app on a real HTTP server on 127.0.0.1, in a thread."""
    with serve_app(create_app(settings)) as port:
        yield f"http://127.0.0.1:{port}"


def watched(page: Page) -> Iterator[Page]:
    """Fail on a Content-Security-Policy violation or a script error, as test_dashboard does."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if "Content Security" in m.text else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    yield page
    assert problems == []


def busy_day(store: Store) -> None:
    """Rows with everything at once: urgent crisis, overdue, escalated, failed, linked, long."""
    now = datetime.now(UTC)
    store.create_task(
        make_task(
            "c0ffee0001",
            kind="crisis",
            priority="urgent",
            crisis_category="overdose",
            created_at=now - timedelta(minutes=75),
            due_at=now - timedelta(minutes=75),
            best_time_window="now",
            name="Maximiliana-Josefina Ortega de la Cruz",
            delivery_failed=True,
        )
    )
    store.note_escalation("c0ffee0001", "unclaimed: on-call staff texted again (2)")
    store.create_task(make_task("a1b2c3d4e5", best_time_window="evening", language="es"))
    store.create_task(
        make_task("b1b2c3d4e5", callback_number="+13125550999", from_number="+13125550999")
    )


def test_on_a_390px_phone_each_task_takes_three_lines_at_most(
    browser: Browser, app_url: str, staff_store: Store
) -> None:
    busy_day(staff_store)
    context = browser.new_context(viewport={"width": PHONE_WIDTH, "height": 844})
    try:
        for page in watched(context.new_page()):
            sign_in(page, app_url, ANA)
            rows = page.locator("#open-tasks tbody tr[data-id]")
            expect(rows).to_have_count(3)
            for i in range(3):
                row = rows.nth(i)
                measured = row.evaluate(
                    """tr => {
                      const style = getComputedStyle(tr);
                      const inner = tr.getBoundingClientRect().height
                        - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom)
                        - parseFloat(style.borderTopWidth) - parseFloat(style.borderBottomWidth);
                      const line = Math.max(...Array.from(tr.querySelectorAll("*")).map(
                        node => parseFloat(getComputedStyle(node).lineHeight)));
                      // The middles of every piece of text's line boxes, grouped into lines.
                      const middles = [];
                      const walker = document.createTreeWalker(tr, NodeFilter.SHOW_TEXT);
                      while (walker.nextNode()) {
                        const range = document.createRange();
                        range.selectNodeContents(walker.currentNode);
                        for (const rect of range.getClientRects()) {
                          if (rect.width > 0) middles.push((rect.top + rect.bottom) / 2);
                        }
                      }
                      middles.sort((a, b) => a - b);
                      const lines = middles.filter((m, i) => i === 0 || m - middles[i - 1] > 10);
                      return {inner, line, lines: lines.length,
                              width: tr.getBoundingClientRect().width};
                    }"""
                )
                assert measured["width"] <= PHONE_WIDTH
                # No taller than three of its tallest lines, and its text on three lines.
                assert measured["inner"] <= 3 * measured["line"], measured
                assert measured["inner"] > 2 * measured["line"], measured
                assert measured["lines"] <= 3, measured
            # The page itself does not scroll sideways.
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
            crisis = page.locator('tr[data-id="c0ffee0001"]')
            expect(crisis.locator(".wait")).to_be_visible()
            expect(crisis.locator(".badge.crisis")).to_have_text("Overdose / medical emergency")
    finally:
        context.close()


def test_waiting_times_count_on_and_turn_red_without_a_poll(
    browser: Browser, app_url: str, staff_store: Store
) -> None:
    now = datetime.now(UTC)
    staff_store.create_task(
        make_task("a1b2c3d4e5", created_at=now, due_at=now + timedelta(hours=3))
    )
    staff_store.create_task(
        make_task(
            "c0ffee0001",
            kind="crisis",
            priority="urgent",
            created_at=now,
            due_at=now,
            best_time_window="now",
        )
    )
    context = browser.new_context()
    try:
        for page in watched(context.new_page()):
            page.clock.install()
            sign_in(page, app_url, ANA)
            crisis = page.locator('tr[data-id="c0ffee0001"] time.wait')
            expect(crisis).to_have_class("wait ok")
            expect(crisis).to_have_text("just now")
            expect(page.locator('tr[data-id="c0ffee0001"] .badge.overdue')).to_have_count(0)
            # No poll answers from here on: what changes is the page's own clock.
            page.route("**/staff/queue.json", lambda route: route.abort())
            page.clock.fast_forward("04:00")
            expect(crisis).to_have_class("wait soon")
            expect(crisis).to_have_text("4 min")
            page.clock.fast_forward("02:00")
            expect(crisis).to_have_class("wait late")
            expect(crisis).to_have_text("6 min")
            expect(page.locator('tr[data-id="c0ffee0001"] .badge.overdue')).to_have_text("Overdue")
            normal = page.locator('tr[data-id="a1b2c3d4e5"]')
            expect(normal.locator(".badge.overdue")).to_have_count(0)  # its evening is 3 h off
            page.clock.fast_forward("03:00:00")
            expect(normal.locator(".badge.overdue")).to_have_text("Overdue")
            expect(page.locator("#live")).to_have_text("Cannot reach the server; still trying.")
    finally:
        context.close()


def test_the_queue_shows_flags_and_links_the_same_persons_tasks_both_ways(
    browser: Browser, app_url: str, staff_store: Store
) -> None:
    context = browser.new_context()
    try:
        for page in watched(context.new_page()):
            sign_in(page, app_url, ANA)
            expect(page.locator("#open-tasks")).to_contain_text("No open tasks.")
            busy_day(staff_store)  # arrives while the page is open: drawn by queue.js
            crisis = page.locator('#open-tasks tr[data-id="c0ffee0001"]')
            expect(crisis).to_be_visible(timeout=LIVE_WAIT_MS)
            for flag in ("Overdue", "Escalated", "Notification failed"):
                expect(crisis.locator(".flags-cell")).to_contain_text(flag)
            expect(crisis.locator(".wait")).to_have_class("wait late")
            expect(crisis.locator(".who-cell")).to_have_text("M.O. •••0142")
            expect(crisis.locator(".best-cell")).to_have_text("as soon as possible")
            callback = page.locator('#open-tasks tr[data-id="a1b2c3d4e5"]')
            expect(callback.locator(".who-cell")).to_have_text("Sam •••0142")
            expect(callback.locator(".channel-cell")).to_have_text("Text message · Spanish")
            expect(page.locator('tr[data-id="b1b2c3d4e5"] a.related')).to_have_count(0)
            crisis.locator("a.related").click()
            expect(page).to_have_url(f"{app_url}/staff/tasks/a1b2c3d4e5")
            page.locator("#related a").click()
            expect(page).to_have_url(f"{app_url}/staff/tasks/c0ffee0001")
            expect(page.locator("#escalated")).to_be_visible()
    finally:
        context.close()


def test_the_reports_page_draws_its_charts_for_the_range_chosen(
    browser: Browser, app_url: str, staff_store: Store, settings: Settings, redis_conn: Redis
) -> None:
    timeline(staff_store, redis_conn, settings, MONDAY)
    context = browser.new_context()
    try:
        for page in watched(context.new_page()):
            sign_in(page, app_url, ANA)
            page.get_by_role("link", name="Reports").click()
            expect(page.get_by_role("heading", name="Speed to lead")).to_be_visible()
            page.locator("#since").fill("2026-10-01")
            page.locator("#until").fill("2026-10-07")
            page.get_by_role("button", name="Show").click()
            expect(page.locator("#contact-rate")).to_contain_text("—")  # nothing that week
            expect(page.locator("#chart-funnel rect.bar")).to_have_count(4)
            page.locator("#since").fill(MONDAY.isoformat())
            page.locator("#until").fill((MONDAY + timedelta(days=1)).isoformat())
            page.get_by_role("button", name="Show").click()
            expect(page.locator("#claim-median")).to_contain_text("8 min")
            expect(page.locator("#contact-rate")).to_contain_text("50%")
            funnel = page.locator("#chart-funnel svg")
            expect(funnel).to_be_visible()
            expect(funnel.get_by_role("img")).to_have_count(0)
            bars = funnel.locator("rect.bar")
            expect(bars).to_have_count(4)
            widths = [float(bars.nth(i).get_attribute("width") or 0) for i in range(4)]
            boxes = [bars.nth(i).bounding_box() for i in range(4)]
            # Drawn to scale: 0 first messages, 0 callbacks requested, 3 completed, 2 reached.
            assert widths[0] == widths[1] == 0 and widths[2] > widths[3] > 0
            assert boxes[2] and boxes[3] and boxes[2]["width"] > boxes[3]["width"] > 0
            assert boxes[3]["width"] / boxes[2]["width"] == pytest.approx(2 / 3, rel=0.02)
            hours = page.locator("#chart-claim-by-hour rect.bar")
            expect(hours).to_have_count(24)
            tall = [i for i in range(24) if float(hours.nth(i).get_attribute("height") or 0) > 0]
            assert tall == [9, 14, 15]  # the hours whose tasks were claimed
            outcomes = page.locator("#chart-outcomes")
            expect(outcomes).to_contain_text("Declined")
            expect(page.locator("#by-weekday")).to_contain_text("Tue")
    finally:
        context.close()
