"""The page's Cancel buttons and its job lookup, in a real browser against the real-time stack.

Real time (generate takes 4 s) leaves time to click Cancel while the job runs. Every wait is on a
frame shown on the page, never a sleep: the absence of a cancelled job's result is proved after a
second generate job, queued after the cancel, has shown its own result.
"""

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Locator, Page, expect

from tests.e2e.conftest import Stack
from tests.support.browser import open_page, submit_job
from tests.support.processes import PROJECT_ROOT

pytestmark = pytest.mark.browser

SCREENSHOT = PROJECT_ROOT / "artifacts" / "e2e-page-cancel.png"
#: Milliseconds to wait for a 4 s generate job's result on a busy machine.
RESULT_WAIT_MS = 20_000
#: An id in the server's format that no job has.
UNKNOWN_ID = "generate_" + "0" * 32


@pytest_asyncio.fixture
async def page(chromium: str, real_time_stack: Stack) -> AsyncIterator[Page]:
    """The page at ``/`` on the real-time stack, its socket connected."""
    async with open_page(chromium, real_time_stack.http_url + "/") as page:
        yield page


async def expect_connected(page: Page) -> None:
    """Wait until the page's socket is open."""
    await expect(page.locator("#connection-status")).to_have_attribute("data-state", "connected")


async def submit_and_get_card(page: Page, job_type: str, content: str) -> tuple[str, Locator]:
    """Submit a job, wait for its ``queued`` line, and return its id and its card."""
    before = await page.locator("#jobs > .job").count()
    await submit_job(page, job_type, content)
    new_card = page.locator("#jobs > .job").nth(before)
    await expect(new_card.locator('.job-event[data-status="queued"]')).to_have_count(1)
    job_id = await new_card.get_attribute("data-job-id")
    assert job_id is not None
    assert job_id.startswith(f"{job_type}_")
    return job_id, card_of(page, job_id)


def card_of(page: Page, job_id: str) -> Locator:
    """The card of ``job_id``."""
    return page.locator(f'#jobs > .job[data-job-id="{job_id}"]')


async def look_up(page: Page, job_id: str) -> None:
    """Send a lookup for ``job_id`` through the page's form."""
    await page.fill("#lookup-id", job_id)
    await page.click("#lookup-submit")


async def statuses(card: Locator) -> list[str | None]:
    """The statuses of the card's lines, in order."""
    return [await line.get_attribute("data-status") for line in await card.locator(".job-event").all()]


async def test_cancelling_a_running_generate_job_shows_cancelled_and_never_its_result(page: Page) -> None:
    """On the page, ``cancel`` of a running job shows ``cancelled`` (and so does a lookup), never its ``result``."""
    job_id, card = await submit_and_get_card(page, "generate", "a long story")
    cancel = card.locator(".job-cancel")
    await expect(cancel).to_be_enabled()
    await expect(cancel).to_have_text("Cancel")

    await cancel.click()

    cancelled = card.locator('.job-event[data-status="cancelled"]')
    await expect(cancelled).to_have_count(1)
    await expect(cancelled.locator(".job-event-message")).to_have_text(f"🛑 Job {job_id} cancelled")
    await expect(card).to_have_attribute("data-status", "cancelled")
    await expect(cancel).to_be_disabled()

    # A generate job queued after the cancel takes as long as the cancelled one had left, and more:
    # once its result is on the page, the cancelled job's would have been too. The worker aborts the
    # cancelled job before it starts this one, so a lookup now finds the abort stored.
    later_id, later_card = await submit_and_get_card(page, "generate", "another story")
    await expect(later_card.locator('.job-event[data-status="result"]')).to_have_count(1, timeout=RESULT_WAIT_MS)
    await expect(later_card.locator(".job-cancel")).to_be_disabled()
    await look_up(page, job_id)
    await expect(cancelled).to_have_count(2)

    SCREENSHOT.parent.mkdir(exist_ok=True)
    await page.screenshot(path=SCREENSHOT, full_page=True)
    assert await statuses(card) == ["queuing", "queued", "cancelled", "cancelled"]
    assert await card.locator(".job-event-message").all_text_contents() == [
        "⏳ Queuing generate job: a long story",
        f"📋 Job {job_id} queued successfully!",
        f"🛑 Job {job_id} cancelled",
        f"🛑 Job {job_id} cancelled",
    ]
    assert await statuses(later_card) == ["queuing", "queued", "result"]
    assert [await c.get_attribute("data-job-id") for c in await page.locator("#jobs > .job").all()] == [
        job_id,
        later_id,
    ]
    await expect(page.locator("#errors > .error-entry")).to_have_count(0)


async def test_a_finished_job_looked_up_after_a_reload_shows_its_result_on_a_new_card(page: Page) -> None:
    """After a reload, the page's ``job_lookup`` of a finished job shows its ``result`` text on a new card."""
    job_id, card = await submit_and_get_card(page, "default", "hello")
    result = card.locator('.job-event[data-status="result"]')
    await expect(result).to_have_count(1, timeout=RESULT_WAIT_MS)
    await expect(result.locator(".job-event-message")).to_have_text("✅ Processed: HELLO")
    await expect(card.locator(".job-cancel")).to_be_disabled()

    # The page redraws the cards its tab kept (test_page_resumes.py): taken out, it reloads with none.
    await page.evaluate("sessionStorage.clear()")
    await page.reload()
    await expect_connected(page)
    await expect(page.locator("#jobs > .job")).to_have_count(0)
    await look_up(page, job_id)

    card = card_of(page, job_id)
    await expect(card.locator(".job-event")).to_have_count(1)
    assert await statuses(card) == ["result"]
    await expect(card.locator(".job-event-message")).to_have_text(["✅ Processed: HELLO"])
    await expect(card).to_have_attribute("data-job-type", "default")
    await expect(card.locator(".job-type")).to_have_text("default")
    await expect(card.locator(".job-cancel")).to_be_disabled()
    await expect(page.locator("#jobs > .job")).to_have_count(1)
    await expect(page.locator("#jobs-empty")).to_be_hidden()


async def test_an_unknown_id_looked_up_shows_not_found_and_its_cancel_is_refused(page: Page) -> None:
    """On the page, an unknown id looks up ``not_found``, and its ``cancel`` gets ``❌ No job <id> to cancel``."""
    await look_up(page, UNKNOWN_ID)

    card = card_of(page, UNKNOWN_ID)
    await expect(card.locator(".job-event")).to_have_count(1)
    assert await statuses(card) == ["not_found"]
    await expect(card.locator(".job-event-message")).to_have_text(
        [f"❓ No job {UNKNOWN_ID}: unknown, or its result has expired"]
    )
    await expect(card.locator(".job-type")).to_have_text("generate")

    cancel = card.locator(".job-cancel")
    await expect(cancel).to_be_enabled()  # only result, error and cancelled are final
    await cancel.click()

    await expect(card.locator(".job-event")).to_have_count(2)
    assert await statuses(card) == ["not_found", "error"]
    await expect(card.locator(".job-event-message").nth(1)).to_have_text(f"❌ No job {UNKNOWN_ID} to cancel")
    await expect(cancel).to_be_disabled()
    await expect(page.locator("#jobs > .job")).to_have_count(1)
