"""The README's phone screenshots (docs/phone/*.png): the demo built for today, served, and
seen on Debian's chromium as Playwright's "Galaxy S5" (360 × 640, touch).

    .venv/bin/python -m tools.phone_screenshots

Run it when the screens change, and commit the PNGs.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from playwright.async_api import Page
from sqlalchemy.ext.asyncio import AsyncEngine

from cli.demo import ensure_demo
from models import Role
from models.demo import DEFAULT_CELLS_PER_COMMUNE
from models.migrate import upgrade_database
from tests.browser import App, chromium, person, served_demo, sign_in
from tests.conftest import demo_user

DOCS = Path(__file__).resolve().parents[1] / "docs/phone"
COMMUNE = "X00004"
CELL = "X00004-001"
RETURNED_CELLS = """query { committee(code: "X00008") { children(first: 50) {
  nodes { code congress { report { state } } } } } }"""


async def demo_for_today(engine: AsyncEngine) -> None:
    await upgrade_database(engine)
    await ensure_demo(engine, DEFAULT_CELLS_PER_COMMUNE)


async def shot(page: Page, name: str) -> None:
    await page.screenshot(path=str(DOCS / f"{name}.png"), scale="css")
    print(f"docs/phone/{name}.png")


async def returned_cell(app: App) -> str:
    data = await app.graphql(demo_user(Role.VIEWER, "T01"), RETURNED_CELLS)
    code: str = next(
        node["code"]
        for node in data["committee"]["children"]["nodes"]
        if node["congress"]["report"]["state"] in ("RETURNED", "REOPENED")
    )
    return code


async def main() -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as directory:
        async with (
            served_demo(Path(directory), (), fill=demo_for_today) as app,
            chromium() as launched,
        ):
            device = launched.devices["Galaxy S5"]
            base = app.server.base_url
            async with person(launched.browser, base, device=device) as approver:
                page = approver.page
                await sign_in(approver, demo_user(Role.APPROVER, COMMUNE), f"/#/c/{COMMUNE}")
                await page.get_by_text("Trực tiếp", exact=True).wait_for()
                await shot(page, "dashboard")
                inbox = page.locator("section.approvals")
                await page.evaluate("document.querySelector('section.approvals').scrollIntoView()")
                await shot(page, "approvals")
                await inbox.get_by_role("button", name="Trả lại").first.tap()
                await inbox.get_by_label("Lý do (bắt buộc)").fill("Thiếu biên bản kiểm phiếu.")
                await shot(page, "return-with-reason")
            async with person(launched.browser, base, device=device) as viewer:
                page = viewer.page
                cell = await returned_cell(app)
                await sign_in(viewer, demo_user(Role.APPROVER, "T01"), f"/#/c/{cell}")
                await page.locator("section.congress .reason").wait_for()
                await page.evaluate("document.querySelector('section.congress').scrollIntoView()")
                await shot(page, "report-returned")
            async with person(launched.browser, base, device=device) as reporter:
                page = reporter.page
                await sign_in(reporter, demo_user(Role.REPORTER, CELL), f"/#/c/{CELL}/update")
                await page.locator("section.milestone-form").wait_for()
                await page.evaluate("navigator.serviceWorker.ready.then(() => true)")
                await reporter.context.set_offline(True)
                await page.reload()
                await page.locator(".offline-note").wait_for()
                form = page.locator("section.milestone-form")
                await form.get_by_role("button", name="Ghi nhận").tap()
                await page.locator("section.outbox").wait_for()
                await page.evaluate("window.scrollTo(0, 0)")
                await shot(page, "offline-queued")


if __name__ == "__main__":
    asyncio.run(main())
