"""A real browser for the web app's tests: Debian's chromium driven by Playwright, against
`congress serve` on this machine, failing on any request that leaves the app's origin.

Never a downloaded browser: CHROMIUM is the system's (`apt-get install chromium`; `.ci/run`
installs it). The flags keep chromium from calling home, which a closed network refuses.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    Request,
    ViewportSize,
    async_playwright,
)

CHROMIUM = os.environ.get("CONGRESS_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
]
# Written by every run, one PNG per screen (kept out of git).
SCREENSHOTS = Path(__file__).resolve().parent / ".screenshots"
PHONE: ViewportSize = {"width": 390, "height": 844}
# How long the page may take to show what a test waits for.
WAIT_MS = 10_000


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    if not os.path.exists(CHROMIUM):  # noqa: ASYNC240 (once, before anything runs)
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install -y chromium")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class OriginGuard:
    """Every request a page makes, and those that left `origin` (there must be none)."""

    origin: str
    requests: list[str] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)

    def watch(self, context: BrowserContext) -> None:
        context.on("request", self._seen)

    def _seen(self, request: Request) -> None:
        self.requests.append(request.url)
        if not (request.url.startswith(self.origin + "/") or request.url.startswith("data:")):
            self.elsewhere.append(request.url)


@dataclass
class Person:
    """One person at one browser: their page, and what it asked for."""

    context: BrowserContext
    page: Page
    guard: OriginGuard
    console_errors: list[str]

    async def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path


@asynccontextmanager
async def person(
    browser: Browser, base_url: str, *, viewport: ViewportSize = PHONE
) -> AsyncIterator[Person]:
    """A new browser profile (its own cookies) at `base_url`, phone-sized by default."""
    context = await browser.new_context(
        base_url=base_url, viewport=viewport, accept_downloads=True, locale="vi-VN"
    )
    context.set_default_timeout(WAIT_MS)
    guard = OriginGuard(base_url)
    guard.watch(context)
    page = await context.new_page()
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield Person(context, page, guard, errors)
    finally:
        await context.close()
        assert guard.elsewhere == [], f"requests left the app's origin: {guard.elsewhere}"


async def sign_in(someone: Person, subject: str, next_path: str = "/") -> None:
    """Through the development sign-in page, as a person would: press their name."""
    page = someone.page
    await page.goto("/sign-in?" + urlencode({"next": next_path}))
    await page.locator(f'form:has(input[name="subject"][value="{subject}"]) button').click()
    await page.wait_for_url(re.compile(r".*/(#.*)?$"))
