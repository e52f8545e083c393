"""The page against a server with token authentication on (Playwright driving Chromium)."""

import time

import jwt
import pytest
from playwright.async_api import TimeoutError as PlaywrightTimeoutError
from playwright.async_api import async_playwright, expect

from tests.e2e.conftest import AUTH_SECRET, Stack
from tests.support.browser import CHROMIUM_ARGS, WAIT_MS, open_page, submit_job

pytestmark = pytest.mark.browser

#: Seconds the token of the page whose token expires lives (long enough for the page to load and connect).
TOKEN_LIFETIME = 3.0


def token(user: str) -> str:
    return jwt.encode({"sub": user, "exp": int(time.time()) + 3600}, AUTH_SECRET, algorithm="HS256")


async def test_the_page_given_a_token_in_its_address_connects_runs_a_job_and_drops_the_token_from_the_address(
    chromium: str, authenticated_stack: Stack
) -> None:
    """The page opened as ``/#token=<JWT>`` connects, runs a job to its result, and drops the token from its address."""
    async with open_page(chromium, f"{authenticated_stack.http_url}/#token={token('alice')}") as page:
        await submit_job(page, "translate", "hello")

        card = page.locator("#jobs > .job")
        await expect(card.locator(".job-event")).to_have_count(3, timeout=WAIT_MS)
        await expect(card.locator(".job-event-message").last).to_have_text("🌍 Translated: 'hello' → 'hola'")
        assert await page.evaluate("location.hash") == ""


async def test_the_page_with_an_access_token_cookie_connects_with_it(chromium: str, authenticated_stack: Stack) -> None:
    """The page with an ``access_token`` cookie connects with it."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context()
            url = authenticated_stack.http_url + "/"
            await context.add_cookies([{"name": "access_token", "value": token("bob"), "url": url}])
            page = await context.new_page()
            await page.goto(url)

            await expect(page.locator("#connection-status")).to_have_attribute("data-state", "connected")
        finally:
            await browser.close()


async def test_the_page_without_a_token_says_it_needs_one_and_connects_once_given_one(
    chromium: str, authenticated_stack: Stack
) -> None:
    """The page without a token says the server needs one, and connects once given one in its address."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            page.set_default_timeout(WAIT_MS)
            await page.goto(authenticated_stack.http_url + "/")

            status = page.locator("#connection-status")
            await expect(status).to_have_attribute("data-auth", "needed")
            await expect(page.locator("#connection-label")).to_have_text(
                "this server needs a token: open this page as /#token=<your JWT>"
            )
            await page.evaluate(f"location.hash = 'token={token('carol')}'")
            await expect(status).to_have_attribute("data-state", "connected")
        finally:
            await browser.close()


async def test_the_page_whose_token_expires_asks_for_a_fresh_one_instead_of_reconnecting_and_connects_once_given_one(
    chromium: str, authenticated_stack: Stack
) -> None:
    """The server closes the page's socket as its token expires (4401): the page asks for a fresh token, opens no
    socket with the expired one, and connects once given a fresh one in its address."""
    expiring = jwt.encode({"sub": "dave", "exp": time.time() + TOKEN_LIFETIME}, AUTH_SECRET, algorithm="HS256")
    async with open_page(chromium, f"{authenticated_stack.http_url}/#token={expiring}") as page:
        status = page.locator("#connection-status")
        await expect(page.locator("#connection-label")).to_have_text(
            "your token has expired: open /#token=<a new JWT>", timeout=TOKEN_LIFETIME * 1000 + WAIT_MS
        )
        await expect(status).to_have_attribute("data-auth", "needed")
        # Proving that no socket is opened needs time to pass: the page's first reconnect would come 0.5 s after the
        # close (its backoff's start), so no socket within three times that says it is not reconnecting.
        with pytest.raises(PlaywrightTimeoutError):
            await page.wait_for_event("websocket", timeout=1_500)

        await page.evaluate(f"location.hash = 'token={token('dave')}'")
        await expect(status).to_have_attribute("data-state", "connected")
