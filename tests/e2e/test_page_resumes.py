"""The page resumes by itself (Playwright driving Chromium): after its server restarts, and after a reload, the card of
a running job comes back and goes on to its result with no click, its result line shown once.

The module runs its own stack, slow enough (generate works 8 s) for a restart mid-job: its server is stopped with
SIGTERM (uvicorn closes every socket with 1012, Service Restart) and started again on the same port, while its worker
runs on. Every wait is on what the page shows or sends, with a timeout.
"""

import asyncio
import json
import signal
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Locator, Page, WebSocket, expect

from tests.e2e.conftest import RUNNING, Stack, running_stack
from tests.support.browser import open_page, submit_job
from tests.support.processes import ServerProcess
from tests.support.protocol import SEED_RESULTS_FOR_HELLO
from tests.support.redis_provider import ProvidedRedis
from tests.support.ws_driver import JobSocket

pytestmark = pytest.mark.browser

#: generate works 4 s at scale 1: 8 s here, time enough to restart the server (or reload the page) mid-job.
TIME_SCALE = 2.0
RESULT_OF_GENERATE = SEED_RESULTS_FOR_HELLO["generate"]
#: Milliseconds to wait for a generate job's result (8 s of work, a restart, a busy machine).
RESULT_WAIT_MS = 30_000
#: Seconds a server may take to exit on SIGTERM, and a socket to hear its close.
EXIT_TIMEOUT = 15.0
#: Seconds to wait for a frame on a plain socket.
PROMPT = 5.0
#: Records every text the page's connection label shows from now on, in ``window.labelsShown``.
RECORD_LABELS = """() => {
  const label = document.getElementById("connection-label");
  window.labelsShown = [];
  new MutationObserver(() => window.labelsShown.push(label.textContent))
    .observe(label, {childList: true, characterData: true, subtree: true});
}"""
#: What the page's label says on a 1012 close (``Math.ceil`` of a delay under 450 ms: 1 s).
RESTARTING_LABEL = "the server is restarting — reconnecting in 1 s"


@pytest.fixture(scope="module")
def resuming_stack(redis_service: ProvidedRedis) -> Iterator[Stack]:
    """A stack of this module's own (DB 4), at ``JOB_TIME_SCALE=2``: its server is restarted by its tests."""
    with running_stack("resuming", redis_service.url, db=4, time_scale=TIME_SCALE) as stack:
        RUNNING["resuming_stack"] = stack
        try:
            yield stack
        finally:
            del RUNNING["resuming_stack"]


@pytest_asyncio.fixture
async def page(chromium: str, resuming_stack: Stack) -> AsyncIterator[Page]:
    """The page at ``/``, its socket connected."""
    async with open_page(chromium, resuming_stack.http_url + "/") as page:
        yield page


class SentFrames:
    """The JSON frames the page sends on every socket it opens from now on (reloads included), in order."""

    def __init__(self, page: Page) -> None:
        self.frames: list[dict[str, Any]] = []
        page.on("websocket", self._socket)

    def _socket(self, socket: WebSocket) -> None:
        socket.on("framesent", self._sent)

    def _sent(self, payload: str | bytes) -> None:
        self.frames.append(json.loads(payload))

    def watched(self) -> list[str]:
        """The job ids of the ``job_watch`` frames sent so far."""
        return [frame["payload"]["job_id"] for frame in self.frames if frame["action"] == "job_watch"]


async def restart(server: ServerProcess) -> int:
    """SIGTERM the server, wait for it to exit, start it again on its port and wait until it answers; its exit code."""
    server.signal(signal.SIGTERM)
    code = await asyncio.to_thread(server.wait_exit, EXIT_TIMEOUT)
    server.start()
    await asyncio.to_thread(server.wait_ready)
    return code


async def submit_generate(page: Page) -> tuple[str, Locator]:
    """Submit a generate job for "hello", wait until its bar has moved, and return its id and card."""
    await submit_job(page, "generate", "hello")
    card = page.locator("#jobs > .job")
    await expect(card).to_have_count(1)
    await expect(card).to_have_attribute("data-status", "progress")
    await page.wait_for_function("() => document.querySelector('#jobs > .job progress').value > 0")
    job_id = await card.get_attribute("data-job-id")
    assert job_id is not None
    assert job_id.startswith("generate_")
    return job_id, page.locator(f'#jobs > .job[data-job-id="{job_id}"]')


async def bar_value(card: Locator) -> float:
    """Where the card's progress bar stands (0 to 100)."""
    return float(await card.locator("progress.job-progress").evaluate("node => node.value"))


async def statuses(card: Locator) -> list[str | None]:
    """The statuses of the card's lines, in order."""
    return [await line.get_attribute("data-status") for line in await card.locator(".job-event").all()]


async def expect_the_seeds_result(card: Locator) -> None:
    """The card ends with the seed's result, shown once, and a full bar."""
    await expect(card).to_have_attribute("data-status", "result", timeout=RESULT_WAIT_MS)
    results = card.locator('.job-event[data-status="result"]')
    await expect(results).to_have_count(1)
    await expect(results.locator(".job-event-message")).to_have_text(RESULT_OF_GENERATE)
    assert await bar_value(card) == 100
    await expect(card.locator(".job-percent")).to_have_text("100%")
    await expect(card.locator(".job-partial")).to_be_hidden()
    await expect(card.locator(".job-cancel")).to_be_disabled()


async def test_a_running_jobs_card_goes_on_to_its_result_after_the_server_restarts(
    page: Page, resuming_stack: Stack, http: httpx.AsyncClient
) -> None:
    """The server restarts mid-job (closing sockets with 1012): the page reconnects by itself, watches the job, its
    bar moves on, and the card reaches its result with no click."""
    async with JobSocket(http, resuming_stack.ws_url) as bystander:
        await bystander.receive(timeout=PROMPT)  # connected
        job_id, card = await submit_generate(page)
        before = await bar_value(card)
        assert 0 < before < 100
        await page.evaluate(RECORD_LABELS)
        sent = SentFrames(page)

        # uvicorn, its shutdown done, raises again the signal it caught: a graceful exit on SIGTERM is -SIGTERM.
        assert await restart(resuming_stack.server) == -signal.SIGTERM
        assert "Application shutdown complete" in resuming_stack.server.log()
        assert await bystander.receive_close(timeout=EXIT_TIMEOUT) == 1012

    # The new socket watches the job; its answer lands on the card, and the bar goes on moving from there.
    await expect(card.locator('.job-event[data-status="in_progress"]')).to_have_count(1, timeout=RESULT_WAIT_MS)
    answered = await bar_value(card)
    assert answered >= before
    await page.wait_for_function(
        f"() => document.querySelector('#jobs > .job progress').value > {answered}", timeout=RESULT_WAIT_MS
    )
    await expect_the_seeds_result(card)
    assert await statuses(card) == ["queuing", "queued", "in_progress", "result"]
    assert sent.watched() == [job_id]
    assert RESTARTING_LABEL in await page.evaluate("window.labelsShown")
    await expect(page.locator("#connection-status")).to_have_attribute("data-state", "connected")


async def test_a_reload_mid_job_shows_the_card_again_and_it_reaches_its_result(page: Page) -> None:
    """A reload mid-job redraws the card from the tab's storage (its lines, its bar, its text so far); the page watches
    the job and the card reaches its result."""
    job_id, card = await submit_generate(page)
    lines = await card.locator(".job-event").all_text_contents()
    sent = SentFrames(page)

    await page.reload()

    await expect(card).to_have_count(1)
    assert (await card.locator(".job-event").all_text_contents())[:2] == lines
    await expect(card.locator(".job-type")).to_have_text("generate")
    await expect(card.locator(".job-partial")).to_be_visible()
    partial = await card.locator(".job-partial").text_content()
    assert partial is not None
    assert RESULT_OF_GENERATE.startswith(partial)
    await expect(page.locator("#connection-status")).to_have_attribute("data-state", "connected")
    await expect_the_seeds_result(card)
    assert await statuses(card) == ["queuing", "queued", "in_progress", "result"]
    assert sent.watched() == [job_id]
    await expect(page.locator("#jobs > .job")).to_have_count(1)


async def test_a_reload_as_the_job_ends_shows_its_result_line_once_and_a_finished_card_is_not_watched(
    page: Page,
) -> None:
    """Reloaded as the job nears its end, the page gets the result as the watch's answer or pushed after it: either
    way one result line, and no more of it while a later job runs. Reloaded again, the finished card comes back as it
    was, and the page sends no watch for it."""
    job_id, card = await submit_generate(page)
    sent = SentFrames(page)
    await page.wait_for_function(
        "() => document.querySelector('#jobs > .job progress').value >= 75", timeout=RESULT_WAIT_MS
    )

    await page.reload()

    await expect(card).to_have_attribute("data-status", "result", timeout=RESULT_WAIT_MS)
    # A later job on the same socket, run to its result: time for a second result line to show, had one been sent.
    await submit_job(page, "default", "hello")
    later = page.locator("#jobs > .job").nth(1)
    await expect(later.locator('.job-event[data-status="result"]')).to_have_count(1, timeout=RESULT_WAIT_MS)
    await expect_the_seeds_result(card)
    assert (await statuses(card)).count("result") == 1
    watched_before = sent.watched()
    assert watched_before in ([job_id], [])  # none when the result reached the page before it unloaded

    await page.reload()

    await expect(page.locator("#connection-status")).to_have_attribute("data-state", "connected")
    await submit_job(page, "default", "after")  # sent after any watch the socket's opening would have sent
    await expect(page.locator("#jobs > .job")).to_have_count(3)
    await expect(page.locator("#jobs > .job").nth(2).locator('.job-event[data-status="queued"]')).to_have_count(1)
    await expect_the_seeds_result(card)
    assert (await statuses(card)).count("result") == 1
    assert sent.watched() == watched_before
