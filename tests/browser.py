"""A real browser for the web app's tests: Debian's chromium driven by Playwright, against
`congress serve` on this machine, failing on any request that leaves the app's origin.

Never a downloaded browser: CHROMIUM is the system's (`apt-get install chromium`; `.ci/run`
installs it). The flags keep chromium from calling home, which a closed network refuses.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

import httpx
from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    Request,
    ViewportSize,
    async_playwright,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.progress_server import Server, start_server, stop_server, wait_until_ready
from config import Settings
from models import Role
from models.database import create_engine
from permissions.tokens import LocalIssuer
from tests.conftest import _fill_demo, demo_user
from tests.databases import throwaway_database

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


@dataclass(frozen=True)
class Chromium:
    browser: Browser
    # The device profiles Playwright ships ("Galaxy S5": 360 × 640, touch), by name.
    devices: dict[str, Any]


@asynccontextmanager
async def chromium() -> AsyncIterator[Chromium]:
    if not os.path.exists(CHROMIUM):  # noqa: ASYNC240 (once, before anything runs)
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install -y chromium")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield Chromium(browser, dict(playwright.devices))
        finally:
            await browser.close()


@dataclass(frozen=True)
class App:
    """The served demo, and a way to write to it as an app or a script would."""

    server: Server
    issuer: LocalIssuer
    names: dict[str, str]
    ids: dict[str, str]

    async def graphql(self, subject: str, query: str, **variables: Any) -> dict[str, Any]:
        token = self.issuer.issue(subject, 600)
        async with httpx.AsyncClient() as client:
            answer = await client.post(
                self.server.graphql_url,
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {token}"},
            )
        body: dict[str, Any] = answer.json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data


@asynccontextmanager
async def served_demo(
    directory: Path,
    named: Iterable[str],
    fill: Callable[[AsyncEngine], Awaitable[object]] = _fill_demo,
) -> AsyncIterator[App]:
    """`congress serve` over the tests' demo tree (SQLite in `directory`; `fill` builds
    another), with the names and ids of the committees `named` read as the centre's admin."""
    async with throwaway_database("sqlite", directory) as url:
        engine = create_engine(url)
        await fill(engine)
        await engine.dispose()
        issuer = LocalIssuer.load_or_create(Settings(data_dir=directory).signing_key_path)
        server = start_server(url, directory)
        try:
            await wait_until_ready(server)
            app = App(server, issuer, {}, {})
            for code in named:
                found = await app.graphql(
                    demo_user(Role.ADMIN, "TW"),
                    "query($c: String!) { committee(code: $c) { id name } }",
                    c=code,
                )
                app.names[code] = found["committee"]["name"]
                app.ids[code] = found["committee"]["id"]
            yield app
        finally:
            stop_server(server)


@dataclass
class OriginGuard:
    """Every request a page makes, and those that left `origin` (there must be none)."""

    origin: str
    # The pages' own requests; those the service worker makes (filling its cache) apart.
    requests: list[str] = field(default_factory=list)
    worker_requests: list[str] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)

    def watch(self, context: BrowserContext) -> None:
        context.on("request", self._seen)

    def _seen(self, request: Request) -> None:
        seen_by = self.worker_requests if request.service_worker else self.requests
        seen_by.append(request.url)
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
    browser: Browser,
    base_url: str,
    *,
    viewport: ViewportSize = PHONE,
    device: dict[str, Any] | None = None,
    service_workers: Literal["allow", "block"] = "allow",
) -> AsyncIterator[Person]:
    """A new browser profile (its own cookies) at `base_url`, phone-sized by default, or as
    one of Playwright's device profiles (its viewport, touch and user agent). With service
    workers blocked, every request of the page goes through the context's routes."""
    shape: dict[str, Any] = {"viewport": viewport} if device is None else dict(device)
    shape.pop("default_browser_type", None)
    context = await browser.new_context(
        base_url=base_url,
        accept_downloads=True,
        locale="vi-VN",
        service_workers=service_workers,
        **shape,
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
