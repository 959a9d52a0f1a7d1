"""Reports up the tree in a real browser (Debian's chromium), against `congress serve`: a
cell's reporter sends the report up, the commune's approver sees it arrive in an open inbox
and returns it with a reason, the reporter reads the reason, fixes a figure and sends it
again, the approver approves; once on a desktop, once as a phone with touch (Playwright's
"Galaxy S5" profile, 360 × 640), with a screenshot of each screen in tests/.screenshots/."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Locator, ViewportSize, expect

from models import Role
from tests.browser import App, Chromium, Person, chromium, person, served_demo, sign_in
from tests.conftest import demo_user
from tests.progress_api import GOOD_RESULTS, MILESTONES

COMMUNE = "X00004"
DESKTOP_CELL = "X00004-002"
PHONE_CELL = "X00004-001"
COMMUNE_REPORTER = demo_user(Role.REPORTER, COMMUNE)
COMMUNE_APPROVER = demo_user(Role.APPROVER, COMMUNE)
WIDE: ViewportSize = {"width": 1280, "height": 800}
PHONE_DEVICE = "Galaxy S5"

CONGRESS = """query($c: String!) { committee(code: $c) { congress { version
  report { state version reason } } } }"""
RECORD_MILESTONE = """mutation($input: RecordMilestoneInput!) { recordMilestone(input: $input) {
  __typename ... on CongressPayload { congress { version } } } }"""
RECORD_RESULTS = """mutation($input: RecordResultsInput!) { recordResults(input: $input) {
  __typename ... on CongressPayload { congress { version } } } }"""


@pytest.fixture(scope="module")
async def app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[App]:
    named = (COMMUNE, DESKTOP_CELL, PHONE_CELL)
    async with served_demo(tmp_path_factory.mktemp("web-reports"), named) as served:
        yield served


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Chromium]:
    async with chromium() as launched:
        yield launched


async def congress_of(app: App, code: str) -> dict[str, Any]:
    congress: dict[str, Any] = (await app.graphql(COMMUNE_REPORTER, CONGRESS, c=code))["committee"][
        "congress"
    ]
    return congress


async def complete(app: App, code: str) -> None:
    """Every milestone done and the results recorded, through the API."""
    version = (await congress_of(app, code))["version"]
    for milestone in MILESTONES:
        if milestone == "results_reported":
            results = await app.graphql(
                COMMUNE_REPORTER,
                RECORD_RESULTS,
                input={"committeeId": app.ids[code], **GOOD_RESULTS, "expectedVersion": version},
            )
            version = results["recordResults"]["congress"]["version"]
        done = await app.graphql(
            COMMUNE_REPORTER,
            RECORD_MILESTONE,
            input={
                "committeeId": app.ids[code],
                "milestone": milestone,
                "status": "DONE",
                "occurredOn": "2026-11-20",
                "expectedVersion": version,
                "idempotencyKey": str(uuid.uuid4()),
            },
        )
        assert done["recordMilestone"]["__typename"] == "CongressPayload", done
        version = done["recordMilestone"]["congress"]["version"]


def section(someone: Person, title: str) -> Locator:
    return someone.page.locator("section", has=someone.page.locator("h2", has_text=title))


async def press(control: Locator, touch: bool) -> None:
    """A tap on a phone, a click elsewhere."""
    if touch:
        await control.tap()
    else:
        await control.click()


@pytest.mark.parametrize("on_phone", [False, True], ids=["desktop", "phone"])
async def test_a_report_goes_up_is_returned_fixed_and_approved(
    app: App, browser: Chromium, on_phone: bool
) -> None:
    cell = PHONE_CELL if on_phone else DESKTOP_CELL
    shape: dict[str, Any] = (
        {"device": browser.devices[PHONE_DEVICE]} if on_phone else {"viewport": WIDE}
    )
    prefix = "phone" if on_phone else "desktop"
    name = app.names[cell]
    await complete(app, cell)
    base = app.server.base_url
    async with (
        person(browser.browser, base, **shape) as approver,
        person(browser.browser, base, **shape) as reporter,
    ):
        await sign_in(approver, COMMUNE_APPROVER, f"/#/c/{COMMUNE}")
        await expect(approver.page.locator("main h1")).to_have_text(app.names[COMMUNE])
        await expect(approver.page.get_by_text("Trực tiếp", exact=True)).to_be_visible()
        waiting = section(approver, "Báo cáo chờ duyệt")
        await expect(waiting).not_to_contain_text(name)

        # The reporter sees the report complete, and sends it up.
        await sign_in(reporter, COMMUNE_REPORTER, f"/#/c/{cell}")
        await expect(reporter.page.locator("main h1")).to_have_text(name)
        congress = section(reporter, "Đại hội của đơn vị")
        await expect(congress).to_contain_text("Đã đủ điều kiện để gửi.")
        await reporter.screenshot(f"{prefix}-report-draft")
        await press(congress.get_by_role("button", name="Gửi báo cáo lên cấp trên"), on_phone)
        await expect(congress.locator(".badge.report-SUBMITTED")).to_have_text("Chờ duyệt")

        # It arrives in the approver's open inbox, who sends it back with a reason.
        item = waiting.locator("li", has_text=name)
        await expect(item).to_be_visible()
        await approver.screenshot(f"{prefix}-report-inbox")
        await press(item.get_by_role("button", name=f"Trả lại: {name}"), on_phone)
        confirm = item.get_by_role("button", name="Xác nhận trả lại")
        await press(confirm, on_phone)  # no reason yet: refused at the field
        reason_box = item.get_by_label("Lý do (bắt buộc)")
        await expect(reason_box).to_have_attribute("aria-invalid", "true")
        reason = f"Số đại biểu có mặt chưa khớp biên bản ({prefix})"
        await reason_box.fill(reason)
        await approver.screenshot(f"{prefix}-report-return")
        await press(confirm, on_phone)
        await expect(item).to_have_count(0)
        await expect(waiting).to_contain_text("Đã trả lại báo cáo")

        # The reporter's open page shows the reason; they fix a figure and send it again.
        await expect(congress.locator(".reason")).to_contain_text(reason)
        await expect(congress.locator(".badge.report-RETURNED")).to_have_text("Bị trả lại")
        await reporter.screenshot(f"{prefix}-report-returned")
        await press(congress.get_by_role("link", name="Cập nhật tiến độ"), on_phone)
        results = section(reporter, "Kết quả đại hội")
        await results.get_by_label("Số đại biểu có mặt").fill("29")
        await press(results.get_by_role("button", name="Ghi nhận"), on_phone)
        await expect(results.locator(".msg-ok")).to_be_visible()
        report = section(reporter, "Báo cáo lên cấp trên")
        await press(report.get_by_role("button", name="Gửi báo cáo lên cấp trên"), on_phone)
        await expect(report.locator(".badge.report-SUBMITTED")).to_have_text("Chờ duyệt")
        await reporter.screenshot(f"{prefix}-report-resubmitted")

        # Back in the approver's inbox, live; approved.
        await expect(item).to_be_visible()
        await press(item.get_by_role("button", name=f"Duyệt: {name}"), on_phone)
        await expect(item).to_have_count(0)
        await expect(waiting).to_contain_text("Đã duyệt báo cáo")
        await approver.screenshot(f"{prefix}-report-approved")
        assert approver.console_errors == []
        assert reporter.console_errors == []

    final = await congress_of(app, cell)
    # Submitted, returned, submitted, approved: four moves, each once.
    assert (final["report"]["state"], final["report"]["version"]) == ("APPROVED", 5)
