"""Reports up the tree, over HTTP on both databases: every transition, every refusal, the
lock on the congress's figures, and exactly-once (models/reports.py)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models import ChangeFeedEntry, Committee, ReportDeadline, Role, Term
from models.accounts import add_user
from models.congress_progress import local_today
from models.rollup_check import check_rollups
from tests.admin_api import ERRORS, committee_gid
from tests.conftest import (
    SIBLING_VIEWER,
    DemoWorld,
    demo_cell_code,
    demo_commune_code,
    demo_user,
)
from tests.live_api import listening, live_server, signed_in
from tests.progress_api import GOOD_RESULTS, MILESTONES, RECORD_RESULTS, SET_DEADLINE, record

CELL = demo_cell_code()
SIBLING_CELL = f"{demo_commune_code()}-002"
COMMUNE = demo_commune_code()
CELL_REPORTER = demo_user(Role.REPORTER, CELL)
CELL_VIEWER = demo_user(Role.VIEWER, CELL)
COMMUNE_ADMIN = demo_user(Role.ADMIN, COMMUNE)
# Added by the tests: an approver at the commune, one at the province.
COMMUNE_APPROVER = "079000000101"
PROVINCE_APPROVER = "079000000102"

REPORT_FIELDS = """state version submittedAt submittedBy { name } decidedAt decidedBy { name }
  reason missing { kind code label }"""
RESULT = f"""__typename
  ... on ReportPayload {{ recordedVersion replayed congress {{ version report {{ {REPORT_FIELDS} }} }} }}
  ... on ReportIncomplete {{ missing {{ kind code label }} }}
  ... on VersionConflict {{ currentVersion }}
  ...Errors"""
MUTATIONS = {
    name: f"""mutation($input: {kind}!) {{ {name}(input: $input) {{ {RESULT} }} }} {ERRORS}"""
    for name, kind in (
        ("submitReport", "ReportInput"),
        ("approveReport", "ReportInput"),
        ("returnReport", "ReportDecisionInput"),
        ("reopenReport", "ReportDecisionInput"),
    )
}
REPORT = f"""query($code: String!) {{ committee(code: $code) {{ congress {{ version
  report {{ {REPORT_FIELDS} }} }} }} }}"""
LOCKED = "... on ReportLocked { state }"


async def add_approvers(world: DemoWorld) -> None:
    async with AsyncSession(world.engine) as session, session.begin():
        ids = dict((await session.execute(select(Committee.code, Committee.id))).all())
        await add_user(
            session, COMMUNE_APPROVER, "Approver of the ward", [(ids[COMMUNE], Role.APPROVER)]
        )
        await add_user(
            session, PROVINCE_APPROVER, "Approver of Hà Nội", [(ids["T01"], Role.APPROVER)]
        )


async def move(
    world: DemoWorld, subject: str, mutation: str, code: str, **fields: Any
) -> dict[str, Any]:
    data = await world.client.query(
        subject,
        MUTATIONS[mutation],
        input={"committeeId": await committee_gid(world, code), **fields},
    )
    result: dict[str, Any] = data[mutation]
    return result


async def report_of(world: DemoWorld, subject: str, code: str) -> dict[str, Any]:
    data = await world.client.query(subject, REPORT, code=code)
    report: dict[str, Any] = data["committee"]["congress"]["report"]
    return report


async def complete(world: DemoWorld, code: str, subject: str = CELL_REPORTER) -> None:
    """Every milestone done and the results recorded, as `subject` (a reporter there)."""
    for milestone in MILESTONES[:5]:
        assert (await record(world, subject, code, milestone))["__typename"] == ("CongressPayload")
    results = await world.client.query(
        subject,
        RECORD_RESULTS,
        input={"committeeId": await committee_gid(world, code), **GOOD_RESULTS},
    )
    assert results["recordResults"]["__typename"] == "CongressPayload", results
    assert (await record(world, subject, code, MILESTONES[5]))["__typename"] == ("CongressPayload")


async def report_feed_kinds(world: DemoWorld) -> list[str]:
    async with world.engine.connect() as connection:
        rows = await connection.scalars(
            select(ChangeFeedEntry.kind)
            .where(ChangeFeedEntry.kind.like("REPORT_%"))
            .order_by(ChangeFeedEntry.position)
        )
        return list(rows)


async def test_a_report_goes_up_comes_back_and_is_approved(fresh_world: DemoWorld) -> None:
    await add_approvers(fresh_world)
    draft = await report_of(fresh_world, CELL_VIEWER, CELL)
    assert (draft["state"], draft["version"]) == ("DRAFT", 1)
    assert [item["code"] for item in draft["missing"]] == [*MILESTONES, "results"]

    # Incomplete: refused, naming each missing milestone and the results.
    refused = await move(fresh_world, CELL_REPORTER, "submitReport", CELL, expectedVersion=1)
    assert refused["__typename"] == "ReportIncomplete"
    assert [(item["kind"], item["code"]) for item in refused["missing"]] == [
        *(("MILESTONE", code) for code in MILESTONES),
        ("RESULTS", "results"),
    ]

    await complete(fresh_world, CELL)
    assert (await report_of(fresh_world, CELL_VIEWER, CELL))["missing"] == []
    submitted = await move(fresh_world, CELL_REPORTER, "submitReport", CELL, expectedVersion=1)
    assert submitted["__typename"] == "ReportPayload", submitted
    report = submitted["congress"]["report"]
    assert (report["state"], report["version"]) == ("SUBMITTED", 2)
    assert report["submittedBy"] == {"name": "Cán bộ reporter chi bộ"}
    # The export says it too, with when.
    exported = await fresh_world.client.http.get(
        "/reports/progress.csv",
        params={"under": COMMUNE, "depth": "4"},
        headers={"Authorization": f"Bearer {fresh_world.client.token_for(COMMUNE_APPROVER)}"},
    )
    header, *rows = list(csv.reader(io.StringIO(exported.text)))
    row = dict(zip(header, next(row for row in rows if row[0] == CELL), strict=True))
    assert row["Báo cáo của đơn vị (report state)"] == "SUBMITTED"
    assert row["Ngày gửi báo cáo (report submitted at)"].startswith(report["submittedAt"][:19])

    # The approver returns it with a reason; the reporter sees the reason.
    empty = await move(
        fresh_world, COMMUNE_APPROVER, "returnReport", CELL, expectedVersion=2, reason="  "
    )
    assert (empty["__typename"], empty["field"]) == ("ValidationError", "reason")
    returned = await move(
        fresh_world,
        COMMUNE_APPROVER,
        "returnReport",
        CELL,
        expectedVersion=2,
        reason="Thiếu biên bản kiểm phiếu",
    )
    assert returned["__typename"] == "ReportPayload", returned
    seen = await report_of(fresh_world, CELL_REPORTER, CELL)
    assert (seen["state"], seen["reason"]) == ("RETURNED", "Thiếu biên bản kiểm phiếu")
    assert seen["decidedBy"] == {"name": "Approver of the ward"}

    # Unlocked again: a correction goes through, then the report is sent again.
    corrected = await record(fresh_world, CELL_REPORTER, CELL, MILESTONES[5], note="Bổ sung")
    assert corrected["__typename"] == "CongressPayload"
    again = await move(fresh_world, CELL_REPORTER, "submitReport", CELL, expectedVersion=3)
    assert again["congress"]["report"]["state"] == "SUBMITTED"
    approved = await move(fresh_world, PROVINCE_APPROVER, "approveReport", CELL, expectedVersion=4)
    assert approved["congress"]["report"]["state"] == "APPROVED", approved
    assert approved["congress"]["report"]["reason"] is None

    # Reopened (with a reason) by a level above; then it can be submitted again.
    reopened = await move(
        fresh_world, COMMUNE_ADMIN, "reopenReport", CELL, expectedVersion=5, reason="Sai số"
    )
    assert reopened["congress"]["report"]["state"] == "REOPENED", reopened
    assert await report_feed_kinds(fresh_world) == [
        "REPORT_SUBMITTED",
        "REPORT_RETURNED",
        "REPORT_SUBMITTED",
        "REPORT_APPROVED",
        "REPORT_REOPENED",
    ]


async def test_a_submitted_report_locks_the_figures_it_counted(fresh_world: DemoWorld) -> None:
    await add_approvers(fresh_world)
    await complete(fresh_world, CELL)
    await move(fresh_world, CELL_REPORTER, "submitReport", CELL)
    for state in ("SUBMITTED", "APPROVED"):
        if state == "APPROVED":
            await move(fresh_world, COMMUNE_APPROVER, "approveReport", CELL)
        before = await fresh_world.client.query(CELL_VIEWER, REPORT, code=CELL)
        milestone = await record(fresh_world, CELL_REPORTER, CELL, MILESTONES[0], note="sửa")
        results = await fresh_world.client.query(
            CELL_REPORTER,
            RECORD_RESULTS.replace("...Errors", f"...Errors {LOCKED}"),
            input={
                "committeeId": await committee_gid(fresh_world, CELL),
                **{**GOOD_RESULTS, "women": 4},
            },
        )
        deadline = await fresh_world.client.query(
            COMMUNE_ADMIN,
            SET_DEADLINE.replace("...Errors", f"...Errors {LOCKED}"),
            input={"committeeId": await committee_gid(fresh_world, CELL), "deadline": "2026-06-30"},
        )
        for answer in (milestone, results["recordResults"], deadline["setDeadline"]):
            assert answer["__typename"] == "ReportLocked", answer
        assert results["recordResults"]["state"] == state
        assert deadline["setDeadline"]["state"] == state
        # Nothing changed, not even the version.
        assert await fresh_world.client.query(CELL_VIEWER, REPORT, code=CELL) == before


async def test_who_may_move_a_report(fresh_world: DemoWorld) -> None:
    await add_approvers(fresh_world)
    await complete(fresh_world, CELL)
    # A viewer may not submit; a sibling cell's report does not exist for this reporter.
    viewer = await move(fresh_world, CELL_VIEWER, "submitReport", CELL)
    assert viewer["__typename"] == "Forbidden"
    sibling = await move(fresh_world, CELL_REPORTER, "submitReport", SIBLING_CELL)
    assert (sibling["__typename"], sibling["field"]) == ("NotFound", "committeeId")
    assert (await move(fresh_world, CELL_REPORTER, "submitReport", CELL))["__typename"] == (
        "ReportPayload"
    )
    # The reporter cannot decide on their own report, nor a reporter above, nor an
    # approver of the committee itself (the cell's admin holds a role there).
    for subject in (CELL_REPORTER, demo_user(Role.REPORTER, COMMUNE), demo_user(Role.ADMIN, CELL)):
        refused = await move(fresh_world, subject, "approveReport", CELL)
        assert refused["__typename"] == "Forbidden", (subject, refused)
    # The commune's approver cannot decide on the commune's own report.
    own = await move(fresh_world, COMMUNE_APPROVER, "approveReport", COMMUNE)
    assert own["__typename"] == "Forbidden"
    # An approver of Hồ Chí Minh sees none of it.
    outsider = await move(fresh_world, "079000000001", "approveReport", CELL)
    assert outsider["__typename"] == "NotFound"
    assert (await report_of(fresh_world, CELL_VIEWER, CELL))["state"] == "SUBMITTED"


async def test_stale_versions_wrong_states_and_repeats(fresh_world: DemoWorld) -> None:
    await add_approvers(fresh_world)
    # Approving a draft is a conflict with the current state.
    draft = await move(fresh_world, COMMUNE_APPROVER, "approveReport", CELL)
    assert (draft["__typename"], draft["message"]) == (
        "Conflict",
        "The report is draft; it cannot be approved now.",
    )
    await complete(fresh_world, CELL)
    stale = await move(fresh_world, CELL_REPORTER, "submitReport", CELL, expectedVersion=7)
    assert (stale["__typename"], stale["currentVersion"]) == ("VersionConflict", 1)
    key = str(uuid.uuid4())
    first = await move(fresh_world, CELL_REPORTER, "submitReport", CELL, idempotencyKey=key)
    repeat = await move(fresh_world, CELL_REPORTER, "submitReport", CELL, idempotencyKey=key)
    assert (first["replayed"], repeat["replayed"]) == (False, True)
    assert repeat["recordedVersion"] == first["recordedVersion"] == 2
    assert await report_feed_kinds(fresh_world) == ["REPORT_SUBMITTED"]
    # The same key for another request is refused, not replayed.
    other = await move(fresh_world, CELL_REPORTER, "submitReport", SIBLING_CELL, idempotencyKey=key)
    assert other["__typename"] in {"ValidationError", "Conflict", "NotFound"}
    # Submitting twice without a key: the second meets a submitted report.
    twice = await move(fresh_world, CELL_REPORTER, "submitReport", CELL)
    assert twice["__typename"] == "Conflict"


@pytest.mark.parametrize("reason", ["", " ", "x" * 2001])
async def test_a_return_needs_a_reason_of_sane_length(fresh_world: DemoWorld, reason: str) -> None:
    await add_approvers(fresh_world)
    await complete(fresh_world, CELL)
    await move(fresh_world, CELL_REPORTER, "submitReport", CELL)
    refused = await move(fresh_world, COMMUNE_APPROVER, "returnReport", CELL, reason=reason)
    assert (refused["__typename"], refused["field"]) == ("ValidationError", "reason")
    async with fresh_world.engine.connect() as connection:
        assert (
            await connection.scalar(
                select(func.count())
                .select_from(ChangeFeedEntry)
                .where(ChangeFeedEntry.kind == "REPORT_RETURNED")
            )
            == 0
        )


REPORT_EVENTS = """subscription($kinds: [ProgressEventKind!]) { progressEvents(kinds: $kinds) {
  kind committee { code } congress { reportState reportVersion } } }"""


async def test_report_events_reach_the_levels_above_and_no_one_else(
    fresh_world: DemoWorld,
) -> None:
    await add_approvers(fresh_world)
    await complete(fresh_world, CELL)
    kinds = ["REPORT_SUBMITTED", "REPORT_RETURNED"]
    async with (
        live_server(fresh_world) as url,
        signed_in(url, fresh_world.client.token_for(PROVINCE_APPROVER)) as province,
        signed_in(url, fresh_world.client.token_for(SIBLING_VIEWER)) as sibling,
    ):
        await province.subscribe("1", REPORT_EVENTS, kinds=kinds)
        await sibling.subscribe("1", REPORT_EVENTS, kinds=kinds)
        await listening(url, 2)
        await move(fresh_world, CELL_REPORTER, "submitReport", CELL)
        await move(fresh_world, COMMUNE_APPROVER, "returnReport", CELL, reason="Thiếu")
        received = [(await province.next_data("1"))["progressEvents"] for _ in kinds]
        assert received == [
            {
                "kind": "REPORT_SUBMITTED",
                "committee": {"code": CELL},
                "congress": {"reportState": "SUBMITTED", "reportVersion": 2},
            },
            {
                "kind": "REPORT_RETURNED",
                "committee": {"code": CELL},
                "congress": {"reportState": "RETURNED", "reportVersion": 3},
            },
        ]
        await sibling.nothing_arrives()


PENDING = """query($code: String!, $first: Int, $after: String) { committee(code: $code) {
  pendingApprovals(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { committee { code } report { state submittedBy { name } } } } } }"""


async def test_the_approver_inbox_lists_what_waits_oldest_first(fresh_world: DemoWorld) -> None:
    await add_approvers(fresh_world)
    commune_reporter = demo_user(Role.REPORTER, COMMUNE)
    for code in (SIBLING_CELL, CELL):  # the sibling cell waits longest
        await complete(fresh_world, code, commune_reporter)
        submitted = await move(fresh_world, commune_reporter, "submitReport", code)
        assert submitted["__typename"] == "ReportPayload", submitted

    for approver in (COMMUNE_APPROVER, PROVINCE_APPROVER):
        where = COMMUNE if approver == COMMUNE_APPROVER else "T01"
        inbox = (await fresh_world.client.query(approver, PENDING, code=where))["committee"]
        assert inbox["pendingApprovals"]["totalCount"] == 2
        assert [node["committee"]["code"] for node in inbox["pendingApprovals"]["nodes"]] == [
            SIBLING_CELL,
            CELL,
        ]
    # Page by page, with the cursor.
    first = (await fresh_world.client.query(COMMUNE_APPROVER, PENDING, code=COMMUNE, first=1))[
        "committee"
    ]["pendingApprovals"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = (
        await fresh_world.client.query(
            COMMUNE_APPROVER, PENDING, code=COMMUNE, first=1, after=first["pageInfo"]["endCursor"]
        )
    )["committee"]["pendingApprovals"]
    assert [node["committee"]["code"] for node in rest["nodes"]] == [CELL]
    # A decided report leaves the inbox; a cell's own inbox never holds its own report.
    await move(fresh_world, COMMUNE_APPROVER, "approveReport", SIBLING_CELL)
    after = (await fresh_world.client.query(COMMUNE_APPROVER, PENDING, code=COMMUNE))["committee"][
        "pendingApprovals"
    ]
    assert [node["committee"]["code"] for node in after["nodes"]] == [CELL]
    own = (await fresh_world.client.query(CELL_VIEWER, PENDING, code=CELL))["committee"]
    assert own["pendingApprovals"]["totalCount"] == 0
    # Out of scope, the committee is not there at all.
    outside = await fresh_world.client.query(SIBLING_VIEWER, PENDING, code=COMMUNE)
    assert outside["committee"] is None


async def test_a_term_may_ask_for_the_childrens_reports_approved_first(
    fresh_world: DemoWorld,
) -> None:
    await add_approvers(fresh_world)
    async with fresh_world.engine.begin() as connection:
        await connection.execute(update(Term).values(require_children_approved=True))
    commune_reporter = demo_user(Role.REPORTER, COMMUNE)
    for code in (COMMUNE, CELL, SIBLING_CELL):
        await complete(fresh_world, code, commune_reporter)
    waiting = await move(fresh_world, commune_reporter, "submitReport", COMMUNE)
    assert waiting["__typename"] == "ReportIncomplete", waiting
    assert waiting["missing"] == [
        {
            "kind": "CHILDREN",
            "code": "children",
            "label": "The approved reports of 2 committee(s) below",
        }
    ]
    for code in (CELL, SIBLING_CELL):
        await move(fresh_world, commune_reporter, "submitReport", code)
    await move(fresh_world, COMMUNE_APPROVER, "approveReport", CELL)
    one_left = await report_of(fresh_world, commune_reporter, COMMUNE)
    assert [(item["kind"], item["label"]) for item in one_left["missing"]] == [
        ("CHILDREN", "The approved reports of 1 committee(s) below")
    ]
    await move(fresh_world, COMMUNE_APPROVER, "approveReport", SIBLING_CELL)
    submitted = await move(fresh_world, commune_reporter, "submitReport", COMMUNE)
    assert submitted["__typename"] == "ReportPayload", submitted


async def test_reports_read_on_a_page_of_children(fresh_world: DemoWorld) -> None:
    """Planned reads: every child's report and its term's rule, in one page."""
    await complete(fresh_world, CELL)
    await move(fresh_world, CELL_REPORTER, "submitReport", CELL)
    data = await fresh_world.client.query(
        demo_user(Role.VIEWER, COMMUNE),
        """query($code: String!) { committee(code: $code) { children(first: 5) { nodes {
             code congress { term { requireChildrenApproved } report { state version } } } } } }""",
        code=COMMUNE,
    )
    nodes = data["committee"]["children"]["nodes"]
    assert [(node["code"], node["congress"]["report"]) for node in nodes] == [
        (CELL, {"state": "SUBMITTED", "version": 2}),
        (SIBLING_CELL, {"state": "DRAFT", "version": 1}),
    ]
    assert {node["congress"]["term"]["requireChildrenApproved"] for node in nodes} == {False}


REPORT_COUNTS = """query($code: String!) { committee(code: $code) { progress {
  total reports { draft submitted approved returned reopened } } } }"""


async def report_counts(world: DemoWorld, subject: str, code: str) -> dict[str, int]:
    progress = (await world.client.query(subject, REPORT_COUNTS, code=code))["committee"][
        "progress"
    ]
    counts: dict[str, int] = progress["reports"]
    assert sum(counts.values()) == progress["total"]
    return counts


async def test_the_rollups_count_reports_in_scope_and_nowhere_else(
    fresh_world: DemoWorld,
) -> None:
    await add_approvers(fresh_world)
    province_viewer = demo_user(Role.VIEWER, "T01")
    before = {
        (subject, code): await report_counts(fresh_world, subject, code)
        for subject, code in ((province_viewer, "T01"), (SIBLING_VIEWER, "T79"))
    }
    assert before[province_viewer, "T01"]["submitted"] == 0
    await complete(fresh_world, CELL)
    await move(fresh_world, CELL_REPORTER, "submitReport", CELL)
    for code in (CELL, COMMUNE, "T01"):
        counts = await report_counts(fresh_world, province_viewer, code)
        assert counts["submitted"] == 1, (code, counts)
    await move(fresh_world, COMMUNE_APPROVER, "returnReport", CELL, reason="Thiếu")
    returned = await report_counts(fresh_world, province_viewer, "T01")
    assert (returned["submitted"], returned["returned"]) == (0, 1)
    await move(fresh_world, CELL_REPORTER, "submitReport", CELL)
    await move(fresh_world, COMMUNE_APPROVER, "approveReport", CELL)
    approved = await report_counts(fresh_world, province_viewer, "T01")
    assert approved == {
        **before[province_viewer, "T01"],
        "draft": before[province_viewer, "T01"]["draft"] - 1,
        "approved": 1,
    }
    # Another province counts nothing of it.
    assert await report_counts(fresh_world, SIBLING_VIEWER, "T79") == before[SIBLING_VIEWER, "T79"]
    # And the counters equal a recount.
    async with AsyncSession(fresh_world.engine) as session:
        drift = await check_rollups(session, repair=False)
    assert drift.counters_wrong == 0, drift


OVERDUE_REPORTS = """query($code: String!) { committee(code: $code) {
  congress { term { reportDeadlines { depth dueOn } } }
  progress { total reports { approved overdue }
             byDepth { depth total reports { approved overdue } } } } }"""


async def overdue_reports(world: DemoWorld, subject: str, code: str) -> dict[str, Any]:
    committee: dict[str, Any] = (await world.client.query(subject, OVERDUE_REPORTS, code=code))[
        "committee"
    ]
    return committee


async def test_reports_past_their_levels_deadline_count_as_overdue(
    fresh_world: DemoWorld,
) -> None:
    """The tests' demo has every level's report deadline months ago: every report
    not approved is overdue, level by level, until approved or its level's day moves."""
    await add_approvers(fresh_world)
    province_viewer = demo_user(Role.VIEWER, "T01")
    before = await overdue_reports(fresh_world, province_viewer, "T01")
    deadlines = before["congress"]["term"]["reportDeadlines"]
    assert [deadline["depth"] for deadline in deadlines] == [1, 2, 3, 4]
    assert all(deadline["dueOn"] < local_today().isoformat() for deadline in deadlines)
    progress = before["progress"]
    assert progress["reports"] == {"approved": 0, "overdue": progress["total"]}
    for level in progress["byDepth"]:
        assert level["reports"] == {"approved": 0, "overdue": level["total"]}, level
    sibling_before = await overdue_reports(fresh_world, SIBLING_VIEWER, "T79")

    await complete(fresh_world, CELL)
    await move(fresh_world, CELL_REPORTER, "submitReport", CELL)
    submitted = (await overdue_reports(fresh_world, province_viewer, "T01"))["progress"]
    assert submitted["reports"]["overdue"] == progress["total"], "submitted is not approved"
    await move(fresh_world, COMMUNE_APPROVER, "approveReport", CELL)
    approved = (await overdue_reports(fresh_world, province_viewer, "T01"))["progress"]
    assert approved["reports"] == {"approved": 1, "overdue": progress["total"] - 1}
    cells = next(level for level in approved["byDepth"] if level["depth"] == 4)
    assert cells["reports"] == {"approved": 1, "overdue": cells["total"] - 1}
    commune = (await overdue_reports(fresh_world, province_viewer, COMMUNE))["progress"]
    assert commune["reports"]["overdue"] == commune["total"] - 1
    # Another province counts nothing of it.
    assert await overdue_reports(fresh_world, SIBLING_VIEWER, "T79") == sibling_before

    # The cells' reports due next year: none of them is overdue, the levels above still are.
    async with AsyncSession(fresh_world.engine) as session, session.begin():
        await session.execute(
            update(ReportDeadline).where(ReportDeadline.depth == 4).values(due_on=date(2099, 1, 1))
        )
    later = (await overdue_reports(fresh_world, province_viewer, "T01"))["progress"]
    assert later["reports"]["overdue"] == later["total"] - cells["total"]
    assert next(level for level in later["byDepth"] if level["depth"] == 4)["reports"] == {
        "approved": 1,
        "overdue": 0,
    }


LIVE_REPORT_COUNTS = """subscription($committeeId: ID!) { progress(committeeId: $committeeId) {
  reports { submitted approved } } }"""


async def test_a_live_summary_moves_with_the_reports(fresh_world: DemoWorld) -> None:
    await add_approvers(fresh_world)
    await complete(fresh_world, CELL)
    async with (
        live_server(fresh_world) as url,
        signed_in(url, fresh_world.client.token_for(PROVINCE_APPROVER)) as province,
    ):
        await province.subscribe(
            "1", LIVE_REPORT_COUNTS, committeeId=await committee_gid(fresh_world, "T01")
        )
        first = (await province.next_data("1"))["progress"]["reports"]
        assert first == {"submitted": 0, "approved": 0}
        await move(fresh_world, CELL_REPORTER, "submitReport", CELL)
        moved = (await province.next_data("1"))["progress"]["reports"]
        assert moved == {"submitted": 1, "approved": 0}
