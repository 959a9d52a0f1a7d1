"""Reports up the tree and the app on a phone, in a real browser (Debian's chromium), against
`congress serve`.

A cell's reporter sends the report up, the commune's approver sees it arrive in an open
inbox and returns it with a reason, the reporter reads the reason, fixes a figure and sends
it again, the approver approves; once on a desktop, once as a phone with touch
(Playwright's "Galaxy S5" profile, 360 × 640). With no connection, the last screens show
from what the phone kept, and a milestone recorded is kept and sent when the connection
returns, exactly once even when the answer to its first send is lost; a conflict met on the
way is shown, not lost. A screenshot of each screen goes to tests/.screenshots/."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Locator, Route, ViewportSize, expect

from models import Role
from tests.browser import App, Chromium, Person, chromium, person, served_demo, sign_in
from tests.conftest import demo_user
from tests.progress_api import GOOD_RESULTS, MILESTONES

COMMUNE = "X00004"
DESKTOP_CELL = "X00004-002"
PHONE_CELL = "X00004-001"
COMMUNE_REPORTER = demo_user(Role.REPORTER, COMMUNE)
COMMUNE_APPROVER = demo_user(Role.APPROVER, COMMUNE)
# The offline tests' cell, in Hà Nội's other ward, recorded by the province's reporter.
OFFLINE_CELL = "X00008-001"
PROVINCE_REPORTER = demo_user(Role.REPORTER, "T01")
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
    named = (COMMUNE, DESKTOP_CELL, PHONE_CELL, OFFLINE_CELL)
    async with served_demo(tmp_path_factory.mktemp("web-reports"), named) as served:
        yield served


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Chromium]:
    async with chromium() as launched:
        yield launched


async def congress_of(app: App, code: str) -> dict[str, Any]:
    answer = await app.graphql(PROVINCE_REPORTER, CONGRESS, c=code)
    congress: dict[str, Any] = answer["committee"]["congress"]
    return congress


async def record_milestone(
    app: App, subject: str, code: str, milestone: str, status: str = "DONE"
) -> int:
    """Recorded through the API on the congress as it is now; the version it made."""
    done = await app.graphql(
        subject,
        RECORD_MILESTONE,
        input={
            "committeeId": app.ids[code],
            "milestone": milestone,
            "status": status,
            "occurredOn": "2026-11-20",
            "expectedVersion": (await congress_of(app, code))["version"],
            "idempotencyKey": str(uuid.uuid4()),
        },
    )
    assert done["recordMilestone"]["__typename"] == "CongressPayload", done
    version: int = done["recordMilestone"]["congress"]["version"]
    return version


async def complete(app: App, code: str) -> None:
    """Every milestone done and the results recorded, through the API."""
    for milestone in MILESTONES:
        if milestone == "results_reported":
            version = (await congress_of(app, code))["version"]
            results = await app.graphql(
                COMMUNE_REPORTER,
                RECORD_RESULTS,
                input={"committeeId": app.ids[code], **GOOD_RESULTS, "expectedVersion": version},
            )
            assert results["recordResults"]["__typename"] == "CongressPayload", results
        await record_milestone(app, COMMUNE_REPORTER, code, milestone)


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


HISTORY = """query($c: String!) { committee(code: $c) { congress { version
  milestones { milestone status }
  history(first: 50) { nodes { kind change } } } } }"""


async def milestone_writes(app: App, code: str, milestone: str) -> tuple[int, dict[str, str]]:
    """How many times `milestone` was recorded, and every milestone's status now."""
    congress = (await app.graphql(PROVINCE_REPORTER, HISTORY, c=code))["committee"]["congress"]
    writes = [
        node
        for node in congress["history"]["nodes"]
        if node["kind"] == "MILESTONE" and node["change"]["milestone"] == milestone
    ]
    return len(writes), {m["milestone"]: m["status"] for m in congress["milestones"]}


async def record_offline(someone: Person, milestone: str) -> None:
    form = section(someone, "Ghi nhận một bước")
    await form.get_by_label("Bước").select_option(milestone)
    await form.get_by_role("radio", name="Đã xong").check()
    await form.get_by_role("button", name="Ghi nhận").tap()
    await expect(form).to_contain_text("Chưa có kết nối: đã lưu trên điện thoại")


async def test_with_no_connection_the_phone_shows_what_it_kept_and_sends_writes_once(
    app: App, browser: Chromium
) -> None:
    name = app.names[OFFLINE_CELL]
    device = browser.devices[PHONE_DEVICE]
    async with person(browser.browser, app.server.base_url, device=device) as phone:
        page = phone.page
        await sign_in(phone, PROVINCE_REPORTER, f"/#/c/{OFFLINE_CELL}")
        await expect(page.locator("main h1")).to_have_text(name)
        await page.goto(f"/#/c/{OFFLINE_CELL}/update")
        await expect(section(phone, "Ghi nhận một bước")).to_be_visible()
        assert await page.evaluate("navigator.serviceWorker.ready.then(() => true)")

        # No connection: the page, its assets and the last screens come from the phone.
        await phone.context.set_offline(True)
        await page.reload()
        await expect(page.locator("main h1")).to_contain_text(name)
        await expect(page.locator(".offline-note")).to_contain_text("Ngoại tuyến — dữ liệu lúc")
        await expect(page.locator("#net")).to_have_text("Ngoại tuyến")
        await phone.screenshot("phone-offline-update")
        await page.goto(f"/#/c/{OFFLINE_CELL}")
        await expect(page.locator("main h1")).to_have_text(name)
        await expect(page.locator(".offline-note")).to_be_visible()
        await phone.screenshot("phone-offline-dashboard")

        # A milestone recorded with no connection is kept, with the key made on the phone.
        await page.goto(f"/#/c/{OFFLINE_CELL}/update")
        version_before = (await congress_of(app, OFFLINE_CELL))["version"]
        await record_offline(phone, "plan_issued")
        queue = section(phone, "Chờ gửi từ điện thoại này")
        await expect(queue.locator("li")).to_have_count(1)
        await expect(page.locator("#outbox")).to_have_text("1 chờ gửi")
        await phone.screenshot("phone-offline-queued")

        # Back online, it is sent by itself.
        await phone.context.set_offline(False)
        await expect(queue).to_have_count(0, timeout=20_000)
        await expect(page.locator("#outbox")).to_be_hidden()
        writes, now = await milestone_writes(app, OFFLINE_CELL, "plan_issued")
        assert (writes, now["plan_issued"]) == (1, "DONE")
        assert (await congress_of(app, OFFLINE_CELL))["version"] == version_before + 1

        # Offline again; meanwhile someone else records the same congress. The phone's
        # write is refused as stale when it is sent: shown with what was entered, kept.
        await phone.context.set_offline(True)
        await record_offline(phone, "documents_drafted")
        await record_milestone(
            app, PROVINCE_REPORTER, OFFLINE_CELL, "documents_drafted", "IN_PROGRESS"
        )
        await phone.context.set_offline(False)
        refused = queue.locator("li.refused")
        await expect(refused).to_contain_text("Bạn đã nhập: Dự thảo văn kiện: Đã xong")
        await expect(refused).to_contain_text("Đã có người cập nhật đại hội này")
        await expect(page.locator("#outbox")).to_have_text("1 cần xem lại")
        await phone.screenshot("phone-offline-conflict")
        # The header leads to every write the phone keeps, whatever its committee.
        await page.locator("#outbox").tap()
        await expect(page.locator("main h1")).to_have_text("Chờ gửi từ điện thoại này")
        kept = page.locator("main li.refused")
        await expect(kept).to_contain_text(name)
        await expect(kept).to_contain_text("Bạn đã nhập: Dự thảo văn kiện: Đã xong")
        await kept.get_by_role("link", name=name).tap()
        await expect(section(phone, "Ghi nhận một bước")).to_be_visible()
        await page.reload()
        await expect(refused).to_contain_text("Bạn đã nhập: Dự thảo văn kiện: Đã xong")
        assert (await milestone_writes(app, OFFLINE_CELL, "documents_drafted"))[1][
            "documents_drafted"
        ] == "IN_PROGRESS"
        # The official sends it again on the current data: recorded, and the queue is empty.
        await refused.get_by_role("button", name="Gửi lại trên dữ liệu mới").tap()
        await expect(queue).to_have_count(0)
        writes, now = await milestone_writes(app, OFFLINE_CELL, "documents_drafted")
        assert (writes, now["documents_drafted"]) == (2, "DONE")
        assert phone.console_errors == []


async def test_a_write_whose_answer_was_lost_is_sent_again_and_recorded_once(
    app: App, browser: Chromium
) -> None:
    """The first send of a queued write reaches the server, which records it, and its answer
    is lost on the way back: the phone keeps the write and sends it again with the same key,
    and the server answers with the first answer. (Service workers blocked, so that the
    context's route sees the page's requests.)"""
    cell = "X00008-002"
    device = browser.devices[PHONE_DEVICE]
    async with person(
        browser.browser, app.server.base_url, device=device, service_workers="block"
    ) as phone:
        await sign_in(phone, PROVINCE_REPORTER, f"/#/c/{cell}/update")
        await expect(section(phone, "Ghi nhận một bước")).to_be_visible()
        version_before = (await congress_of(app, cell))["version"]
        await phone.context.set_offline(True)
        await record_offline(phone, "plan_issued")
        lost: list[str] = []

        async def lose_the_first_answer(route: Route) -> None:
            if not lost and "recordMilestone" in (route.request.post_data or ""):
                await route.fetch()  # the server records it
                lost.append(route.request.url)
                await route.abort("connectionreset")
            else:
                await route.continue_()

        await phone.context.route("**/graphql", lose_the_first_answer)
        await phone.context.set_offline(False)
        queue = section(phone, "Chờ gửi từ điện thoại này")
        await expect(queue).to_have_count(0, timeout=20_000)
        assert lost, "the first send went through the route"
        writes, now = await milestone_writes(app, cell, "plan_issued")
        assert (writes, now["plan_issued"]) == (1, "DONE")
        assert (await congress_of(app, cell))["version"] == version_before + 1
        # The browser logs the reset connection, and nothing else.
        assert [
            error for error in phone.console_errors if "ERR_CONNECTION_RESET" not in error
        ] == []


# Every screen at 360 × 640: the page never scrolls sideways, every control can be hit
# with a finger (44 × 44 px; a radio or checkbox by its label), no text is smaller than
# 12 px. Controls hidden for screen readers only (the skip link until focused) are not
# targets on screen.
PHONE_LAYOUT_PROBLEMS = """() => {
  const problems = [];
  const page = document.scrollingElement;
  if (page.scrollWidth > window.innerWidth) problems.push(`page ${page.scrollWidth}px wide`);
  for (const wrap of document.querySelectorAll('.table-wrap')) {
    if (wrap.scrollWidth > wrap.clientWidth) problems.push(`table ${wrap.scrollWidth}px wide`);
  }
  const shown = (el) => {
    const box = el.getBoundingClientRect();
    return box.width > 1 && box.height > 1 && box.left >= 0 && getComputedStyle(el).visibility !== 'hidden';
  };
  for (const control of document.querySelectorAll('a[href], button, input, select, textarea, summary')) {
    if (!shown(control) || control.closest('.visually-hidden')) continue;
    const label = ['radio', 'checkbox'].includes(control.type) ? control.closest('label') : null;
    const box = (label || control).getBoundingClientRect();
    if (box.width < 44 || box.height < 44) {
      problems.push(`${Math.round(box.width)}×${Math.round(box.height)} ${(label || control).outerHTML.slice(0, 120)}`);
    }
  }
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const parent = walker.currentNode.parentElement;
    if (!walker.currentNode.textContent.trim() || !parent || !shown(parent)) continue;
    if (parent.closest('.visually-hidden, svg')) continue;
    const size = parseFloat(getComputedStyle(parent).fontSize);
    if (size < 12) problems.push(`${size}px text: ${walker.currentNode.textContent.trim().slice(0, 40)}`);
  }
  return problems;
}"""


async def test_every_screen_fits_a_phone_and_a_finger(app: App, browser: Chromium) -> None:
    device = browser.devices[PHONE_DEVICE]
    async with person(browser.browser, app.server.base_url, device=device) as phone:
        page = phone.page
        # The sign-in page first, as a phone meets it.
        await page.goto("/sign-in")
        problems = await page.evaluate(PHONE_LAYOUT_PROBLEMS)
        assert problems == [], "\n".join(["sign-in", *problems])
        await phone.screenshot("phone-layout-sign-in")
        await sign_in(phone, COMMUNE_APPROVER, f"/#/c/{COMMUNE}")
        screens = {
            "commune": f"/#/c/{COMMUNE}",
            "cell": f"/#/c/{DESKTOP_CELL}",
            "update": f"/#/c/{COMMUNE}/update",
            "not-found": "/#/c/NO-SUCH-UNIT",
        }
        for name, path in screens.items():
            await page.goto(path)
            await expect(page.locator("main h1")).to_be_visible()
            # What loads once seen (the timeline) is brought into view and waited for.
            for loading in await page.locator("main .loading").all():
                await loading.scroll_into_view_if_needed()
            await expect(page.locator("main .loading")).to_have_count(0)
            # Every disclosure opened, so what it shows is measured too.
            for closed in await page.locator("main details:not([open]) summary").all():
                await closed.tap()
            problems = await page.evaluate(PHONE_LAYOUT_PROBLEMS)
            assert problems == [], "\n".join([name, *problems])
            await phone.screenshot(f"phone-layout-{name}")
