"""Driving the page in a real browser: Playwright on Debian's Chromium (or CHROMIUM_PATH's)."""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright, expect

#: Debian's ``chromium`` by default; CI points this at the Chrome it installs.
CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # needed as root, and in containers
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Milliseconds Playwright waits for an element or a state.
WAIT_MS = 5_000


def chromium_or_skip() -> str:
    """Chromium's executable; without one, the test is skipped here and fails under CI=true."""
    if not Path(CHROMIUM_PATH).exists():
        reason = f"no Chromium at {CHROMIUM_PATH} (install Debian's chromium, or set CHROMIUM_PATH)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return CHROMIUM_PATH


@asynccontextmanager
async def open_page(chromium: str, url: str) -> AsyncIterator[Page]:
    """The page at ``url`` in a fresh headless browser, its socket connected; the browser closes after."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            page.set_default_timeout(WAIT_MS)
            await page.goto(url)
            await expect(page.locator("#connection-status")).to_have_attribute("data-state", "connected")
            yield page
        finally:
            await browser.close()


async def submit_job(page: Page, job_type: str, content: str) -> None:
    """Choose ``job_type``, type ``content`` and press Enter."""
    await page.select_option("#job-type", job_type)
    await page.fill("#job-content", content)
    await page.press("#job-content", "Enter")
