"""The Background Jobs page in a real browser (Playwright driving Chromium) against the scaled stack."""

import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Dialog, Page, expect

from tests.e2e.conftest import Stack
from tests.support.browser import WAIT_MS, open_page, submit_job
from tests.support.processes import PROJECT_ROOT
from tests.support.protocol import SEED_RESULTS_FOR_HELLO

pytestmark = pytest.mark.browser

SCREENSHOT = PROJECT_ROOT / "artifacts" / "e2e-page.png"
PROGRESS_SCREENSHOT = PROJECT_ROOT / "artifacts" / "e2e-page-progress.png"
XSS = "<img src=x onerror=alert(1)>"
RESULT_OF_GENERATE = SEED_RESULTS_FOR_HELLO["generate"]


@pytest_asyncio.fixture
async def page(chromium: str, scaled_stack: Stack) -> AsyncIterator[Page]:
    """The page at ``/``, its socket connected."""
    async with open_page(chromium, scaled_stack.http_url + "/") as page:
        yield page


async def test_translate_job_shows_queuing_queued_and_its_result_on_one_job_card(page: Page) -> None:
    """On the page, a ``translate`` job's ``queuing``, ``queued`` and ``result`` frames show on one card."""
    await submit_job(page, "translate", "hello")

    card = page.locator("#jobs > .job")
    await expect(card.locator(".job-event")).to_have_count(3, timeout=WAIT_MS)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    await page.screenshot(path=SCREENSHOT, full_page=True)

    await expect(card).to_have_count(1)
    job_id = await card.get_attribute("data-job-id")
    assert job_id is not None
    assert re.fullmatch(r"translate_[0-9a-f]{32}", job_id)
    events = card.locator(".job-event")
    assert [await event.get_attribute("data-status") for event in await events.all()] == [
        "queuing",
        "queued",
        "result",
    ]
    assert await events.locator(".job-event-message").all_text_contents() == [
        "⏳ Queuing translate job: hello",
        f"📋 Job {job_id} queued successfully!",
        "🌍 Translated: 'hello' → 'hola'",
    ]


async def test_markup_in_the_content_is_shown_as_text_and_never_run(page: Page) -> None:
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)

    page.on("dialog", record)
    await submit_job(page, "translate", XSS)

    card = page.locator("#jobs > .job")
    await expect(card.locator(".job-event")).to_have_count(3, timeout=WAIT_MS)
    assert await card.locator(".job-event-message").all_text_contents() == [
        f"⏳ Queuing translate job: {XSS}",
        f"📋 Job {await card.get_attribute('data-job-id')} queued successfully!",
        f"🌍 Translated: '{XSS}' → '[TRANSLATED: {XSS}]'",
    ]
    assert await page.locator("#jobs img").count() == 0
    assert dialogs == []


async def test_over_long_content_is_listed_under_errors(page: Page) -> None:
    await submit_job(page, "translate", "x" * 10_001)

    entry = page.locator("#errors > .error-entry")
    await expect(entry).to_have_count(1)
    # The error's documented type and place (its message is pydantic's wording, which the protocol does not promise).
    await expect(entry.locator(".error-type")).to_have_text(["(string_too_long)"])
    await expect(entry.locator(".error-loc")).to_have_text(["job.payload.content"])
    await expect(page.locator("#jobs > .job")).to_have_count(0)


async def test_a_running_generate_job_shows_a_moving_progress_bar_and_its_text_growing(
    chromium: str, real_time_stack: Stack
) -> None:
    """On the page, a running ``generate`` job's bar moves and its ``partial`` text shows; its result fills the bar."""
    async with open_page(chromium, real_time_stack.http_url + "/") as page:
        await submit_job(page, "generate", "hello")
        card = page.locator("#jobs > .job")
        bar = card.locator("progress.job-progress")
        partial = card.locator(".job-partial")

        # Mid-job (generate works 4 s): the bar has moved but is not full, and some of the text shows.
        await expect(card).to_have_attribute("data-status", "progress", timeout=WAIT_MS)
        await expect(partial).to_be_visible(timeout=WAIT_MS)
        await expect(partial).to_contain_text("🤖 AI Response to 'hello'", timeout=WAIT_MS)
        value = float(await bar.evaluate("node => node.value"))
        PROGRESS_SCREENSHOT.parent.mkdir(exist_ok=True)
        await page.screenshot(path=PROGRESS_SCREENSHOT, full_page=True)
        assert 0 < value < 100
        assert await card.get_attribute("data-status") == "progress"
        shown = await partial.text_content()
        assert shown is not None
        assert RESULT_OF_GENERATE.startswith(shown)
        assert len(shown) < len(RESULT_OF_GENERATE)

        # At the end: a full bar, the text gone from the bar's place, the seed's result in the card's last line.
        await expect(card).to_have_attribute("data-status", "result", timeout=WAIT_MS + 4_000)
        assert float(await bar.evaluate("node => node.value")) == 100
        await expect(partial).to_be_hidden()
        await expect(card.locator(".job-event").last).to_contain_text("That's an interesting point")
