"""The web app in a real browser (Debian's chromium), against `congress serve`, as officials
at the centre, a province and a commune: signing in, drilling down, live updates from
another session, a difficulty climbing to the province's open inbox, the exports, scope,
and GraphiQL with the session. No request may leave the app's origin (tests/browser.py);
every screen is written to tests/.screenshots/."""

from __future__ import annotations

import asyncio
import gzip
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from graphql import parse, validate
from playwright.async_api import Browser, ViewportSize, expect

from config import Settings
from graph.schema import build_schema
from models import Role
from tests.browser import PHONE, App, Person, chromium, person, served_demo, sign_in
from tests.conftest import demo_user

CENTRAL_ADMIN = demo_user(Role.ADMIN, "TW")
PROVINCE_VIEWER = demo_user(Role.VIEWER, "T01")
PROVINCE_ADMIN = demo_user(Role.ADMIN, "T01")
PROVINCE_REPORTER = demo_user(Role.REPORTER, "T01")
COMMUNE_REPORTER = demo_user(Role.REPORTER, "X00004")
COMMUNE = "X00004"
SIBLING_COMMUNE = "X00008"
CELL = "X00004-001"
WIDE: ViewportSize = {"width": 1280, "height": 800}
NAMED = ("TW", "T01", COMMUNE, SIBLING_COMMUNE, CELL)
# What the app's page asks for up front (web/static/app/index.html).
APP_PAGE_ASSETS = set(
    re.findall(
        r'(?:href|src)="(/app/[^"]+)"',
        (Path(__file__).parents[1] / "web/static/app/index.html").read_text(encoding="utf-8"),
    )
)


@pytest.fixture(scope="module")
async def app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[App]:
    async with served_demo(tmp_path_factory.mktemp("web-app"), NAMED) as served:
        yield served


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched.browser


async def shows_committee(someone: Person, name: str) -> None:
    await expect(someone.page.locator("main h1")).to_have_text(name)


def section(someone: Person, title: str) -> Any:
    return someone.page.locator("section", has=someone.page.locator("h2", has_text=title))


async def test_officials_at_three_levels_sign_in_and_drill_down(app: App, browser: Browser) -> None:
    base = app.server.base_url
    for subject, code, viewport in (
        (CENTRAL_ADMIN, "TW", WIDE),
        (PROVINCE_VIEWER, "T01", PHONE),
        (COMMUNE_REPORTER, COMMUNE, PHONE),
    ):
        async with person(browser, app.server.base_url, viewport=viewport) as someone:
            await sign_in(someone, subject)
            await shows_committee(someone, app.names[code])
            await expect(someone.page).to_have_url(re.compile(rf"#/c/{code}$"))
            await someone.screenshot(f"dashboard-{code}")
            assert someone.console_errors == []
            # The first screen: the page, its style and modules, two queries (who, then the
            # dashboard in one document) and the two live streams.
            asked = someone.guard.requests[someone.guard.requests.index(f"{base}/") :]
            assert sum(url == f"{base}/graphql" for url in asked) <= 4, asked
            # Its style and modules, each once and each listed in the page (preloaded
            # together: one round trip on a slow link, not one per level of imports).
            assets = [url.removeprefix(base) for url in asked if url.startswith(f"{base}/app/")]
            assert len(assets) == len(set(assets)), assets
            assert set(assets) <= APP_PAGE_ASSETS, set(assets) - APP_PAGE_ASSETS
    # Drilling down from the province to a ward, then to its cell; the breadcrumb stops at
    # the province (the scope root), never showing the centre.
    async with person(browser, app.server.base_url) as someone:
        await sign_in(someone, PROVINCE_VIEWER)
        await shows_committee(someone, app.names["T01"])
        children = section(someone, "Đơn vị trực thuộc")
        await children.get_by_role("link", name=app.names[COMMUNE], exact=True).click()
        await shows_committee(someone, app.names[COMMUNE])
        await someone.page.get_by_role("link", name=app.names[CELL], exact=True).first.click()
        await shows_committee(someone, app.names[CELL])
        breadcrumb = someone.page.locator("nav.breadcrumb, nav[aria-label*='Vị trí'], nav ol").first
        await expect(breadcrumb).to_contain_text(app.names["T01"])
        await expect(breadcrumb).not_to_contain_text(app.names["TW"])
        await someone.screenshot("drill-down-cell")


UNLABELLED_CONTROLS = """() => [...document.querySelectorAll('input, select, textarea, button')]
  .filter((control) => control.type !== 'hidden' && !control.closest('[hidden]'))
  .filter((control) => !(control.labels && control.labels.length)
    && !control.getAttribute('aria-label') && !control.textContent.trim())
  .map((control) => control.outerHTML)"""


async def test_every_control_is_labelled_and_the_keyboard_reaches_the_content(
    app: App, browser: Browser
) -> None:
    async with person(browser, app.server.base_url) as someone:
        await sign_in(someone, COMMUNE_REPORTER)
        await shows_committee(someone, app.names[COMMUNE])
        assert await someone.page.evaluate(UNLABELLED_CONTROLS) == []
        # The first Tab reaches the skip link, which leads past the header to the content.
        await someone.page.keyboard.press("Tab")
        skip = someone.page.locator("#skip-link")
        await expect(skip).to_be_focused()
        await someone.page.keyboard.press("Enter")
        await expect(someone.page.locator("main")).to_be_focused()
        # The reporter's forms.
        await someone.page.goto(f"/#/c/{CELL}/update")
        await expect(someone.page.locator("main form").first).to_be_visible()
        assert await someone.page.evaluate(UNLABELLED_CONTROLS) == []
        await someone.screenshot("update-forms")
        # A typed error from the API is shown at the field it names, and the field says so.
        milestone_form = someone.page.locator("main form").first
        date = milestone_form.get_by_label("Ngày thực hiện")
        await date.fill("2099-01-01")
        await milestone_form.get_by_role("button", name="Ghi nhận").click()
        await expect(date).to_have_attribute("aria-invalid", "true")
        described = await date.get_attribute("aria-describedby")
        assert described
        await expect(someone.page.locator(f"#{described.split()[0]}")).to_contain_text(
            "The date is in the future."
        )
        await someone.screenshot("update-typed-error")


async def test_a_sibling_commune_by_url_is_the_same_not_found_as_a_missing_one(
    app: App, browser: Browser
) -> None:
    async with person(browser, app.server.base_url) as someone:
        await sign_in(someone, COMMUNE_REPORTER)
        await shows_committee(someone, app.names[COMMUNE])
        texts = []
        for code in (SIBLING_COMMUNE, "NO-SUCH-UNIT"):
            await someone.page.goto(f"/#/c/{code}")
            await expect(someone.page.locator("main h1")).to_have_text("Không tìm thấy đơn vị này.")
            texts.append(await someone.page.locator("main").inner_text())
            assert app.names[SIBLING_COMMUNE] not in await someone.page.content()
        assert texts[0] == texts[1]
        await someone.screenshot("not-found")


async def test_a_milestone_recorded_elsewhere_appears_without_a_reload(
    app: App, browser: Browser
) -> None:
    async with person(browser, app.server.base_url) as someone:
        await sign_in(someone, PROVINCE_VIEWER, f"/#/c/{COMMUNE}")
        await shows_committee(someone, app.names[COMMUNE])
        await expect(someone.page.get_by_text("Trực tiếp", exact=True)).to_be_visible()
        feed = section(someone, "Cập nhật gần đây")
        await expect(feed).not_to_contain_text(app.names[CELL])
        congress = await app.graphql(
            COMMUNE_REPORTER,
            "query($c: String!) { committee(code: $c) { congress { version } } }",
            c=CELL,
        )
        recorded = await app.graphql(
            COMMUNE_REPORTER,
            """mutation($input: RecordMilestoneInput!) { recordMilestone(input: $input) {
                 __typename } }""",
            input={
                "committeeId": app.ids[CELL],
                "milestone": "plan_issued",
                "status": "DONE",
                "occurredOn": "2026-11-30",
                "expectedVersion": congress["committee"]["congress"]["version"],
                "idempotencyKey": str(uuid.uuid4()),
            },
        )
        assert recorded["recordMilestone"]["__typename"] == "CongressPayload"
        await expect(feed).to_contain_text(app.names[CELL])
        await someone.screenshot("live-feed")


async def test_a_difficulty_escalated_by_the_commune_arrives_in_the_province_inbox(
    app: App, browser: Browser
) -> None:
    title = f"Thiếu hội trường {uuid.uuid4().hex[:6]}"
    await app.graphql(
        COMMUNE_REPORTER,
        """mutation($input: RaiseDifficultyInput!) { raiseDifficulty(input: $input) {
             __typename } }""",
        input={
            "committeeId": app.ids[COMMUNE],
            "title": title,
            "description": "",
            "category": "FACILITIES",
            "idempotencyKey": str(uuid.uuid4()),
        },
    )
    async with (
        person(browser, app.server.base_url) as province,
        person(browser, app.server.base_url) as commune,
    ):
        await sign_in(province, PROVINCE_ADMIN)
        await shows_committee(province, app.names["T01"])
        province_inbox = section(province, "Khó khăn, vướng mắc cần xử lý")
        await expect(province_inbox).not_to_contain_text(title)
        await sign_in(commune, COMMUNE_REPORTER)
        await shows_committee(commune, app.names[COMMUNE])
        item = section(commune, "Khó khăn, vướng mắc cần xử lý").locator("li", has_text=title)
        await item.get_by_role("button", name="Chuyển lên cấp trên").click()
        await commune.screenshot("inbox-escalate")
        await item.get_by_role("button", name="Xác nhận chuyển lên cấp trên").click()
        await expect(item).to_have_count(0)
        # Arrived in the province's open page, without a reload.
        await expect(province_inbox).to_contain_text(title)
        await province.screenshot("inbox-arrived")


async def test_both_exports_download_with_the_session(
    app: App, browser: Browser, tmp_path: Path
) -> None:
    async with person(browser, app.server.base_url) as someone:
        await sign_in(someone, PROVINCE_VIEWER)
        await shows_committee(someone, app.names["T01"])
        exports = section(someone, "Xuất báo cáo")
        for label, start in (("Tải CSV", None), ("Tải Excel (.xlsx)", b"PK")):
            async with someone.page.expect_download() as download_info:
                await exports.get_by_role("link", name=label).click()
            download = await download_info.value
            assert await download.failure() is None
            saved = tmp_path / download.suggested_filename
            await download.save_as(saved)
            content = await asyncio.to_thread(saved.read_bytes)
            if start is None:
                assert app.names[COMMUNE].encode() in content
            else:
                assert content.startswith(start)


async def test_graphiql_uses_the_session_and_survives_a_reload(app: App, browser: Browser) -> None:
    # An official of its own: the province's viewer has spent much of a minute's quota on
    # the dashboards of the tests before (README, Known limits: the timeline's cost).
    async with person(browser, app.server.base_url, viewport=WIDE) as someone:
        await sign_in(someone, PROVINCE_REPORTER)
        await someone.page.goto("/graphql?query=%7B%20viewer%20%7B%20subject%20%7D%20%7D")
        await someone.page.reload()
        await someone.page.get_by_role("button", name=re.compile("Execute query")).click()
        await expect(someone.page.locator(".result-window")).to_contain_text(PROVINCE_REPORTER)
        # The schema's docs were loaded with the page, with no header pasted.
        await someone.page.get_by_role("button", name=re.compile("Documentation Explorer")).click()
        await expect(someone.page.get_by_text("Root Types")).to_be_visible()
        await someone.screenshot("graphiql")
        # A write in a link arrives commented out: one click on Run does nothing.
        await someone.page.goto(
            "/graphql?query="
            + quote('mutation { deactivateUser(input: {userId: "x"}) { __typename } }')
        )
        await expect(someone.page.locator(".graphiql-query-editor")).to_contain_text("# mutation")


async def test_every_document_the_app_sends_is_valid_against_the_schema(
    app: App, browser: Browser
) -> None:
    """Each query, mutation and subscription of web/static/app/queries.js, as the browser
    builds it, checked against the served schema: a renamed field fails here, not on a
    screen nobody opened."""
    async with person(browser, app.server.base_url) as someone:
        # Any page of the origin imports the module; signing in would spend a user's quota.
        await someone.page.goto("/sign-in")
        documents: dict[str, str] = await someone.page.evaluate(
            "import('/app/queries.js').then((module) => ({ ...module }))"
        )
    schema = build_schema(Settings())
    assert len(documents) >= 25
    for name, document in documents.items():
        assert validate(schema._schema, parse(document)) == [], name


# What the first screen may move over the link before the data: at 400 kbit/s, 64 KiB is
# 1.3 s of the 5 s a phone on a weak link has (bench/phone_first_screen.py measures it all).
FIRST_SCREEN_BUDGET_BYTES = 64 * 1024


def test_what_the_page_asks_for_up_front_fits_a_slow_link() -> None:
    """The page and everything it lists, compressed as the server sends them (gzip)."""
    static = Path(__file__).parents[1] / "web/static"
    files = [static / "app/index.html", *(static / asset.lstrip("/") for asset in APP_PAGE_ASSETS)]
    sent = sum(len(gzip.compress(path.read_bytes())) for path in files)
    assert sent <= FIRST_SCREEN_BUDGET_BYTES, sent
