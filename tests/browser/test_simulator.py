"""/simulator in Debian's Chromium, driven by Playwright, against the app on a real HTTP server:
whole conversations by text and by voice, each ending with its task on the page."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from redis import Redis

from intake import create_app
from intake.config import Settings
from tests.browser.conftest import CHROMIUM
from tests.support.serving import serve_app
from tests.support.worker import work

NUMBER = "+13125550142"
WAIT_MS = 15_000  # the task list refreshes every 2 s

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get, as root)",
)


def serve(settings: Settings, now: datetime | None = None) -> Iterator[str]:
    app = create_app(settings)
    if now is not None:
        app.extensions["intake"].conversations.clock = lambda: now
    with serve_app(app) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def base_url(settings: Settings, redis_conn: Redis) -> Iterator[str]:
    """The app, simulator on, on a real HTTP server on 127.0.0.1, in a thread."""
    yield from serve(replace(settings, simulator_enabled=True))


@pytest.fixture
def open_hours_url(settings: Settings, redis_conn: Redis) -> Iterator[str]:
    """The same, on a Wednesday at noon in New York: admissions is open, 0 dials it."""
    noon = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
    yield from serve(replace(settings, simulator_enabled=True), now=noon)


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    """The simulator, failing the test on a Content-Security-Policy violation or a script error."""
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if "Content Security" in m.text else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{base_url}/simulator")
    expect(page.locator("#sim")).to_have_attribute("data-state", "idle")
    yield page
    context.close()
    assert problems == []


def idle(page: Page) -> None:
    expect(page.locator("#sim")).to_have_attribute("data-state", "idle")


def text(page: Page, body: str) -> str:
    """Send a text; the bot's replies to it, as shown."""
    bot = page.locator("#thread .bubble.bot")
    before = bot.count()
    page.get_by_role("textbox", name="Message", exact=True).fill(body)
    page.get_by_role("button", name="Send").click()
    idle(page)
    return "\n".join(bot.nth(i).inner_text() for i in range(before, bot.count()))


def press(page: Page, keys: str) -> None:
    for key in keys:
        page.get_by_role("button", name=f"Key {key}").click()
    idle(page)


def speak(page: Page, words: str) -> None:
    page.get_by_role("textbox", name="Say", exact=True).fill(words)
    page.get_by_role("button", name="Say", exact=True).click()
    idle(page)


def heard(page: Page) -> str:
    return page.locator("#call-log").inner_text()


def task_row(page: Page) -> str:
    row = page.locator("#tasks tr[data-id]")
    expect(row).to_have_count(1, timeout=WAIT_MS)
    return row.inner_text()


def test_a_whole_callback_by_text_shows_segments_and_the_task(
    page: Page, redis_conn: Redis
) -> None:
    page.get_by_label("From number").fill(NUMBER)
    welcome = text(page, "hi")
    assert "Reply STOP to opt out" in welcome
    assert "GSM-7 · 1 segment" in page.locator("#thread .bubble.bot").first.inner_text()
    for body in ["ANXIETY", "CALL", "Sam", "YES", "evening", "ME", "NO", "YES"]:
        text(page, body)
    assert "(312) 555-0142" in text(page, "YES")
    expect(page.locator("#tasks-for")).to_have_text(NUMBER)
    work(redis_conn)
    row = task_row(page)
    assert "callback" in row and "new" in row and "evening" in row and "sms" in row


def test_a_text_can_be_sent_as_whatsapp_and_its_task_says_so(page: Page, redis_conn: Redis) -> None:
    """Issue 13: WhatsApp replies keep their *bold* and count no SMS segments."""
    page.get_by_label("From number").fill(NUMBER)
    page.get_by_label("Send as WhatsApp (texts)").check()
    welcome = text(page, "hi")
    assert "*OPIOIDS*" in welcome
    meta = page.locator("#thread .bubble.bot .meta").first.inner_text()
    assert meta == "WhatsApp"
    text(page, "I want to end my life")
    work(redis_conn)
    row = task_row(page)
    assert "crisis" in row and "whatsapp" in row


def test_a_whole_callback_by_voice_with_keys_and_typed_speech(
    page: Page, redis_conn: Redis
) -> None:
    page.get_by_label("From number").fill(NUMBER)
    page.get_by_role("tab", name="Call").click()
    page.get_by_role("button", name="Call", exact=True).click()
    idle(page)
    assert "9 1 1" in heard(page)
    expect(page.locator("#listening")).to_contain_text("1 key or speech (en-US)")
    speak(page, "how opioids work")
    assert "dopamine" in heard(page)
    press(page, "0")  # the main menu
    speak(page, "call me back")
    assert "calling from" in heard(page)
    press(page, "1")  # this number
    press(page, "3")  # evening
    press(page, "1")  # for me
    press(page, "2")  # no voicemail
    press(page, "1")  # texts are fine
    press(page, "1")  # that's right
    assert "Goodbye" in heard(page)
    expect(page.locator("#call-status")).to_have_text("Call ended")
    expect(page.get_by_role("button", name="Key 1")).to_be_disabled()
    work(redis_conn)
    row = task_row(page)
    assert "callback" in row and "voice" in row and "evening" in row


def test_a_hidden_caller_id_types_its_number_on_the_keypad(page: Page, redis_conn: Redis) -> None:
    page.get_by_label("Hide my caller ID (calls)").check()
    page.get_by_role("tab", name="Call").click()
    page.get_by_role("button", name="Call", exact=True).click()
    idle(page)
    expect(page.locator("#tasks-for")).to_have_text("a hidden caller ID")
    press(page, "2")
    assert "enter the phone number" in heard(page)
    expect(page.locator("#listening")).to_contain_text("keys, then #")
    press(page, "7275550100#")
    assert "best time" in heard(page)


def test_a_crisis_message_is_answered_at_once_and_its_urgent_task_shows(
    page: Page, redis_conn: Redis
) -> None:
    page.get_by_label("From number").fill(NUMBER)
    reply = text(page, "I want to end my life")
    assert "988" in reply and "911" in reply
    work(redis_conn)
    row = task_row(page)
    assert "crisis" in row and "urgent" in row


def test_the_page_is_a_404_when_the_setting_is_off(
    browser: Browser, settings: Settings, redis_conn: Redis
) -> None:
    assert settings.simulator_enabled is False
    for base in serve(settings):
        context = browser.new_context()
        response = context.new_page().goto(f"{base}/simulator")
        assert response is not None and response.status == 404
        context.close()


def test_spanish_is_asked_for_as_a_person_would_and_calls_can_be_read_aloud(
    page: Page,
) -> None:
    page.evaluate(
        "() => { window.spoken = [];"
        " speechSynthesis.speak = (u) => spoken.push([u.lang, u.text]); }"
    )
    page.get_by_label("Language").select_option("es")
    assert "ESPAÑOL" not in page.locator("#thread").inner_text()
    text(page, "hola")
    expect(page.locator("#thread .bubble.me").first).to_contain_text("ESPAÑOL")
    page.get_by_role("tab", name="Call").click()
    page.get_by_label("Read calls aloud").check()
    page.get_by_role("button", name="Call", exact=True).click()
    expect(page.locator("#call-log")).to_contain_text("You press 9")
    expect(page.locator("#call-log")).to_contain_text("oprima 1")
    idle(page)
    expect(page.locator("#listening")).to_contain_text("speech (es-US)")
    languages = {lang for lang, _ in page.evaluate("window.spoken")}
    assert languages == {"en-US", "es-US"}


def test_a_transfer_to_admissions_can_ring_out_into_a_callback_offer(
    browser: Browser, open_hours_url: str
) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{open_hours_url}/simulator")
    page.get_by_role("tab", name="Call").click()
    page.get_by_role("button", name="Call", exact=True).click()
    idle(page)
    expect(page.locator("#hints summary")).to_contain_text("speech hints")
    press(page, "0")
    assert "Connecting you" in heard(page)
    assert "Putting you through to +17273917001" in heard(page)
    expect(page.locator("#call-status")).to_have_text("Transferring")
    expect(page.get_by_role("button", name="Key 1")).to_be_disabled()
    page.get_by_role("button", name="Nobody answers").click()
    idle(page)
    assert "nobody from admissions could pick up" in heard(page)
    expect(page.get_by_role("button", name="Nobody answers")).to_be_hidden()
    context.close()
