"""Subtree summaries, overdue and recent lists, timelines: the numbers equal direct SQL
counts over the demo tree for users at every level, and nothing outside a user's subtrees
shows in any of them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from models import Role, rollups
from models.congress_progress import local_today
from models.demo import CENTRAL_CODE, DEMO_PROVINCE_CODE
from models.progress_summary import DUE_SOON_DAYS, CountersWanted
from permissions.scope import Scope
from permissions.visible_progress import subtree_counters
from tests.admin_api import committee_gid
from tests.conftest import (
    SIBLING_PROVINCE_CODE,
    SIBLING_VIEWER,
    TWO_SUBTREES_VIEWER,
    DemoWorld,
    demo_cell_code,
    demo_commune_code,
    demo_user,
    demo_world_on,
)
from tests.progress_api import GOOD_RESULTS, MILESTONES, RECORD_RESULTS, SET_DEADLINE, record

CENTRAL_ADMIN = demo_user(Role.ADMIN, CENTRAL_CODE)
CENTRAL_REPORTER = demo_user(Role.REPORTER, CENTRAL_CODE)
PROVINCE_ADMIN = demo_user(Role.ADMIN, DEMO_PROVINCE_CODE)
COMMUNE = demo_commune_code()
COMMUNE_REPORTER = demo_user(Role.REPORTER, COMMUNE)
CELL = demo_cell_code()
CELL_VIEWER = demo_user(Role.VIEWER, CELL)
MISSING_ID = "Q29tbWl0dGVlOjk5OTk5OTk5"  # Committee:99999999

FIGURES = """total congressesHeld congressesCompleted inProgress notStarted completionRate
  overdue dueSoon byMilestone { milestone done inProgress notStarted }
  results { congressesReporting membersElected women under40 ethnicMinority
            secretaryDirectlyElected }"""
PROGRESS = f"""query($code: String!) {{ committee(code: $code) {{ depth progress {{ term {FIGURES}
  byDepth {{ depth levelsBelow {FIGURES} }} }}
  children(first: 100) {{ nodes {{ code progress {{ {FIGURES} }} }} }} }} }}"""
OVERDUE = """query($under: ID!, $after: String) { overdueCongresses(under: $under, first: 50,
  after: $after) { totalCount pageInfo { hasNextPage endCursor }
  nodes { deadline daysLate overdue committee { code } } } }"""
RECENT = """query($under: ID!) { recentProgress(under: $under, first: 100) { totalCount
  nodes { kind recordedBy congress { committee { code } } } } }"""
TIMELINE = """query($code: String!, $from: Date, $to: Date, $interval: TimelineInterval!) {
  committee(code: $code) { progress { timeline(from: $from, to: $to, interval: $interval) {
  date congressesHeld } } } }"""


async def hold(world: DemoWorld, code: str, day: str) -> None:
    for milestone in MILESTONES[:5]:
        result = await record(world, CENTRAL_REPORTER, code, milestone, occurred_on=day)
        assert result["__typename"] == "CongressPayload", result


async def seed_progress(world: DemoWorld) -> None:
    """Progress spread over two provinces: held with results, started, due soon."""
    cells_here = [f"{COMMUNE}-001", f"{COMMUNE}-002"]
    async with world.engine.connect() as connection:
        sibling_cells = list(
            (
                await connection.execute(
                    text(
                        "SELECT code FROM committee WHERE path >= :p AND path < :q AND depth = 4 "
                        "ORDER BY path LIMIT 3"
                    ),
                    {
                        "p": await world.committee_path(SIBLING_PROVINCE_CODE),
                        "q": (await world.committee_path(SIBLING_PROVINCE_CODE))[:-1] + "0",
                    },
                )
            ).scalars()
        )
    for code, day in zip([*cells_here, *sibling_cells], ["2025-03-01", "2025-03-09", "2025-04-02", "2025-04-02", "2025-05-20"], strict=True):  # fmt: skip
        await hold(world, code, day)
    for code, women in ((cells_here[0], 3), (sibling_cells[0], 5)):
        result = await world.client.query(
            CENTRAL_REPORTER,
            RECORD_RESULTS,
            input={"committeeId": await committee_gid(world, code), **GOOD_RESULTS, "women": women},
        )
        assert result["recordResults"]["__typename"] == "CongressPayload", result
    await record(world, CENTRAL_REPORTER, COMMUNE, "plan_issued", "IN_PROGRESS", "2025-02-01")
    await record(world, CENTRAL_REPORTER, DEMO_PROVINCE_CODE, "plan_issued", "DONE", "2025-02-01")
    soon = (local_today() + timedelta(days=3)).isoformat()
    for code in (f"{COMMUNE}-002", sibling_cells[2], COMMUNE):
        result = await world.client.query(
            CENTRAL_ADMIN,
            SET_DEADLINE,
            input={"committeeId": await committee_gid(world, code), "deadline": soon},
        )
        assert result["setDeadline"]["__typename"] == "SetDeadlinePayload", result


@pytest.fixture(scope="module")
async def world(backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DemoWorld]:
    """The demo tree with progress recorded over the API, shared by this module's reads."""
    directory: Path = tmp_path_factory.mktemp(f"summary-{backend}")
    async with demo_world_on(backend, directory) as built:
        await seed_progress(built)
        yield built


async def direct_counts(world: DemoWorld, code: str) -> dict[str, Any]:
    """The figures of `code`'s subtree counted straight from the congress tables."""
    path = await world.committee_path(code)
    today = local_today()
    where = "k.path >= :p AND k.path < :q AND k.closed_at IS NULL"
    params = {"p": path, "q": path[:-1] + "0", "today": today,
              "soon": today + timedelta(days=DUE_SOON_DAYS)}  # fmt: skip
    async with world.engine.connect() as connection:
        row = (
            await connection.execute(
                text(
                    "SELECT count(*), "
                    "sum(CASE WHEN c.status IN ('held', 'completed') THEN 1 ELSE 0 END), "
                    "sum(CASE WHEN c.status = 'completed' THEN 1 ELSE 0 END), "
                    "sum(CASE WHEN c.status = 'in_progress' THEN 1 ELSE 0 END), "
                    "sum(CASE WHEN c.held_on IS NULL AND c.deadline < :today THEN 1 ELSE 0 END), "
                    "sum(CASE WHEN c.held_on IS NULL AND c.deadline >= :today "
                    "AND c.deadline <= :soon THEN 1 ELSE 0 END) "
                    f"FROM congress c JOIN committee k ON k.id = c.committee_id WHERE {where}"
                ),
                params,
            )
        ).one()
        done: dict[str, int] = dict(
            (
                await connection.execute(
                    text(
                        "SELECT m.milestone_code, count(*) FROM congress_milestone m "
                        "JOIN congress c ON c.id = m.congress_id "
                        f"JOIN committee k ON k.id = c.committee_id WHERE {where} "
                        "AND m.status = 'done' GROUP BY m.milestone_code"
                    ),
                    params,
                )
            ).all()
        )
        results = (
            await connection.execute(
                text(
                    "SELECT count(*), coalesce(sum(r.members_elected), 0), "
                    "coalesce(sum(r.women), 0) FROM congress_result r "
                    "JOIN congress c ON c.id = r.congress_id "
                    f"JOIN committee k ON k.id = c.committee_id WHERE {where}"
                ),
                params,
            )
        ).one()
    total, held, completed, in_progress, overdue, due_soon = (int(v or 0) for v in row)
    return {
        "total": total,
        "congressesHeld": held,
        "congressesCompleted": completed,
        "inProgress": in_progress,
        "notStarted": total - held - in_progress,
        "overdue": overdue,
        "dueSoon": due_soon,
        "done": {code: done.get(code, 0) for code in MILESTONES},
        "results": (int(results[0]), int(results[1]), int(results[2])),
    }


def figures_of(progress: dict[str, Any]) -> dict[str, Any]:
    return {
        **{k: progress[k] for k in ("total", "congressesHeld", "congressesCompleted",
                                    "inProgress", "notStarted", "overdue", "dueSoon")},
        "done": {m["milestone"]: m["done"] for m in progress["byMilestone"]},
        "results": (progress["results"]["congressesReporting"],
                    progress["results"]["membersElected"], progress["results"]["women"]),
    }  # fmt: skip


@pytest.mark.parametrize(
    ("subject", "code"),
    [
        (CENTRAL_ADMIN, CENTRAL_CODE),
        (PROVINCE_ADMIN, DEMO_PROVINCE_CODE),
        (SIBLING_VIEWER, SIBLING_PROVINCE_CODE),
        (COMMUNE_REPORTER, COMMUNE),
        (CELL_VIEWER, CELL),
    ],
)
async def test_summaries_equal_direct_counts_at_every_level(
    world: DemoWorld, subject: str, code: str
) -> None:
    data = await world.client.query(subject, PROGRESS, code=code)
    progress = data["committee"]["progress"]
    expected = await direct_counts(world, code)
    assert figures_of(progress) == expected
    assert progress["term"] == "2025-2030"
    assert progress["completionRate"] == pytest.approx(
        expected["congressesHeld"] / expected["total"]
    )
    # The levels add up to the whole, and each level is the committees at that depth.
    assert sum(level["total"] for level in progress["byDepth"]) == expected["total"]
    assert progress["byDepth"][0]["depth"] == data["committee"]["depth"]
    assert progress["byDepth"][0]["total"] == 1
    for child in data["committee"]["children"]["nodes"]:
        assert figures_of(child["progress"]) == await direct_counts(world, child["code"])


async def test_the_seeded_progress_is_not_all_zero(world: DemoWorld) -> None:
    """So the comparisons above compare something."""
    counts = await direct_counts(world, DEMO_PROVINCE_CODE)
    assert counts["congressesHeld"] == 2
    assert counts["inProgress"] == 2  # the commune and the province itself
    assert counts["dueSoon"] == 1  # the commune; its held cell is not due any more
    assert counts["results"][0] == 1
    assert counts["done"]["plan_issued"] == 3


async def test_a_viewer_at_two_communes_gets_each_and_nothing_above(world: DemoWorld) -> None:
    data = await world.client.query(TWO_SUBTREES_VIEWER, PROGRESS, code=COMMUNE)
    assert figures_of(data["committee"]["progress"]) == await direct_counts(world, COMMUNE)
    for code in (DEMO_PROVINCE_CODE, CENTRAL_CODE, SIBLING_PROVINCE_CODE):
        assert (await world.client.query(TWO_SUBTREES_VIEWER, PROGRESS, code=code)) == {
            "committee": None
        }


async def test_overdue_congresses_are_the_latest_first_and_page_through(
    world: DemoWorld,
) -> None:
    under = await committee_gid(world, DEMO_PROVINCE_CODE)
    seen: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await world.client.query(PROVINCE_ADMIN, OVERDUE, under=under, after=after))[
            "overdueCongresses"
        ]
        seen += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert (
        len(seen)
        == page["totalCount"]
        == (await direct_counts(world, DEMO_PROVINCE_CODE))["overdue"]
    )
    assert all(node["overdue"] for node in seen)
    days_late = [node["daysLate"] for node in seen]
    assert days_late == sorted(days_late, reverse=True)
    province_codes = await codes_below(world, DEMO_PROVINCE_CODE)
    assert {node["committee"]["code"] for node in seen} <= province_codes


async def codes_below(world: DemoWorld, code: str) -> set[str]:
    path = await world.committee_path(code)
    async with world.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT code FROM committee WHERE path >= :p AND path < :q"),
            {"p": path, "q": path[:-1] + "0"},
        )
        return set(rows.scalars())


async def test_recent_progress_is_the_subtree_newest_first(world: DemoWorld) -> None:
    province = (
        await world.client.query(
            PROVINCE_ADMIN, RECENT, under=await committee_gid(world, DEMO_PROVINCE_CODE)
        )
    )["recentProgress"]
    centre = (
        await world.client.query(
            CENTRAL_ADMIN, RECENT, under=await committee_gid(world, CENTRAL_CODE)
        )
    )["recentProgress"]
    province_codes = await codes_below(world, DEMO_PROVINCE_CODE)
    codes = [node["congress"]["committee"]["code"] for node in province["nodes"]]
    assert set(codes) <= province_codes
    # 2 held cells (5 steps each), 1 result, 2 started, 2 deadlines in the province.
    assert province["totalCount"] == 2 * 5 + 1 + 2 + 2
    # The centre sees the province's events and the sibling province's too.
    assert centre["totalCount"] == province["totalCount"] + 3 * 5 + 1 + 1
    centre_in_province = [
        node for node in centre["nodes"] if node["congress"]["committee"]["code"] in province_codes
    ]
    assert centre_in_province == province["nodes"]


@pytest.mark.parametrize("field", ["overdueCongresses", "recentProgress"])
async def test_lists_outside_scope_are_the_same_not_found_as_nothing(
    world: DemoWorld, field: str
) -> None:
    query = OVERDUE if field == "overdueCongresses" else RECENT
    outside = [await committee_gid(world, code) for code in (CENTRAL_CODE, SIBLING_PROVINCE_CODE)]
    errors = [
        await world.client.query_errors(PROVINCE_ADMIN, query, under=under)
        for under in [*outside, MISSING_ID]
    ]
    for error in errors:
        assert [(e["message"], e["extensions"]["code"]) for e in error] == [
            (errors[-1][0]["message"], "NOT_FOUND")
        ]


async def test_timeline_is_cumulative_and_matches_held_dates(world: DemoWorld) -> None:
    data = await world.client.query(
        CENTRAL_ADMIN, TIMELINE, code=CENTRAL_CODE, **{"from": "2025-02-24"},
        to="2025-05-31", interval="WEEK",
    )  # fmt: skip
    points = data["committee"]["progress"]["timeline"]
    assert points[0] == {"date": "2025-02-24", "congressesHeld": 0}
    assert points[-1] == {"date": "2025-05-31", "congressesHeld": 5}
    by_date = {date.fromisoformat(p["date"]): p["congressesHeld"] for p in points}
    held_on = [date(2025, 3, 1), date(2025, 3, 9), date(2025, 4, 2), date(2025, 4, 2),
               date(2025, 5, 20)]  # fmt: skip
    for day, held in by_date.items():
        assert held == sum(1 for h in held_on if h <= day)
    assert [p["date"] for p in points[:3]] == ["2025-02-24", "2025-03-03", "2025-03-10"]
    daily = await world.client.query(
        PROVINCE_ADMIN, TIMELINE, code=DEMO_PROVINCE_CODE, **{"from": "2025-03-01"},
        to="2025-03-10", interval="DAY",
    )  # fmt: skip
    assert [p["congressesHeld"] for p in daily["committee"]["progress"]["timeline"]] == [
        1, 1, 1, 1, 1, 1, 1, 1, 2, 2
    ]  # fmt: skip


async def test_timeline_arguments_are_checked(world: DemoWorld) -> None:
    errors = await world.client.query_errors(
        CENTRAL_ADMIN, TIMELINE, code=CENTRAL_CODE, **{"from": "2025-05-01"},
        to="2025-04-01", interval="DAY",
    )  # fmt: skip
    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": "to"}
    errors = await world.client.query_errors(
        CENTRAL_ADMIN, TIMELINE, code=CENTRAL_CODE, **{"from": "2025-01-01"},
        to="2030-12-31", interval="DAY",
    )  # fmt: skip
    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": "interval"}


async def test_an_unknown_term_has_no_progress(world: DemoWorld) -> None:
    data = await world.client.query(
        CENTRAL_ADMIN, '{ committee(code: "TW") { progress(term: "1990-1995") { total } } }'
    )
    assert data == {"committee": {"progress": None}}
    errors = await world.client.query_errors(
        CENTRAL_ADMIN,
        'query($u: ID!) { overdueCongresses(under: $u, term: "1990-1995") { totalCount } }',
        u=await committee_gid(world, CENTRAL_CODE),
    )
    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": "term"}


SUMMARY_BY_CODE = f"""query($code: String!) {{ committee(code: $code) {{ code
  progress {{ {FIGURES} }} }} }}"""
SUMMARY_BY_ID = f"""query($id: ID!) {{ committee(id: $id) {{ code progress {{ {FIGURES} }} }} }}"""
SUMMARY_IN_FRAGMENT = f"""query($code: String!) {{ committee(code: $code) {{ code ...Summary }} }}
  fragment Summary on Committee {{ progress {{ {FIGURES} }} }}"""
SUMMARY_BESIDE_ANOTHER_TERM = f"""query($code: String!) {{ committee(code: $code) {{ code
  progress {{ {FIGURES} }} earlier: progress(term: "1990-1995") {{ total }} }} }}"""


@pytest.mark.parametrize(
    ("subject", "code"),
    [
        (CENTRAL_ADMIN, CENTRAL_CODE),
        (SIBLING_VIEWER, SIBLING_PROVINCE_CODE),
        (COMMUNE_REPORTER, COMMUNE),
    ],
)
async def test_a_summary_read_with_its_committee_equals_one_read_after_it(
    world: DemoWorld, subject: str, code: str
) -> None:
    """`committee { progress }` reads both in one statement; through a fragment or beside a
    second term they are read one after the other. The numbers are the same."""
    together = await world.client.query(subject, SUMMARY_BY_CODE, code=code)
    by_id = await world.client.query(subject, SUMMARY_BY_ID, id=await committee_gid(world, code))
    apart = await world.client.query(subject, SUMMARY_IN_FRAGMENT, code=code)
    beside = await world.client.query(subject, SUMMARY_BESIDE_ANOTHER_TERM, code=code)
    assert together["committee"]["code"] == code
    assert figures_of(together["committee"]["progress"]) == await direct_counts(world, code)
    assert together == by_id == apart
    assert beside["committee"]["progress"] == together["committee"]["progress"]
    assert beside["committee"]["earlier"] is None


async def test_a_summary_out_of_scope_reads_as_a_missing_committee(world: DemoWorld) -> None:
    out_of_scope_id = await committee_gid(world, SIBLING_PROVINCE_CODE)
    answers = [
        await world.client.query(COMMUNE_REPORTER, SUMMARY_BY_CODE, code=SIBLING_PROVINCE_CODE),
        await world.client.query(COMMUNE_REPORTER, SUMMARY_BY_CODE, code="NO-SUCH-CODE"),
        await world.client.query(COMMUNE_REPORTER, SUMMARY_BY_ID, id=out_of_scope_id),
        await world.client.query(COMMUNE_REPORTER, SUMMARY_BY_ID, id=MISSING_ID),
        await world.client.query(COMMUNE_REPORTER, SUMMARY_BY_ID, id="not a global id"),
    ]
    assert answers == [{"committee": None}] * len(answers)


ONE_FIGURE_FIELDS = (
    "total", "congressesHeld", "congressesCompleted", "inProgress", "notStarted",
    "completionRate", "overdue", "dueSoon", "term", "byMilestone { milestone done inProgress }",
    "results { congressesReporting membersElected secretaryDirectlyElected }",
)  # fmt: skip


@pytest.mark.parametrize("field", ONE_FIGURE_FIELDS)
async def test_a_figure_asked_alone_equals_it_asked_with_every_other(
    world: DemoWorld, field: str
) -> None:
    """A planned read fetches only the counters the selection shows (CountersWanted): each
    figure asked alone must be the one asked beside byDepth, which reads every counter."""
    every = f"{field} byDepth {{ depth {FIGURES} }}"
    page = """query($code: String!) {{ committee(code: $code) {{ progress {{ {0} }}
      children(first: 20) {{ nodes {{ code progress {{ {0} }} }} }} }} }}"""
    name = field.split()[0]

    def only(committee: dict[str, Any]) -> list[Any]:
        return [committee["progress"][name]] + [
            child["progress"][name] for child in committee["children"]["nodes"]
        ]

    alone = await world.client.query(CENTRAL_ADMIN, page.format(field), code=DEMO_PROVINCE_CODE)
    with_all = await world.client.query(CENTRAL_ADMIN, page.format(every), code=DEMO_PROVINCE_CODE)
    assert only(alone["committee"]) == only(with_all["committee"])


async def test_the_counters_read_are_the_ones_asked_for(world: DemoWorld) -> None:
    """Two numbers of a dashboard row are two counters per committee, summed over the
    levels in SQL; every counter, level by level, is what byDepth needs."""
    province = await world.committee_id(DEMO_PROVINCE_CODE)
    path = await world.committee_path(DEMO_PROVINCE_CODE)
    async with world.engine.connect() as connection:
        term_id = await connection.scalar(text("SELECT id FROM term WHERE code = '2025-2030'"))
    scope = Scope.from_paths([path])
    async with AsyncSession(world.engine) as session:
        few = await subtree_counters(
            session, scope, {province: path}, term_id, today=local_today(),
            due_soon_days=DUE_SOON_DAYS,
            wanted=CountersWanted(frozenset({rollups.TOTAL, rollups.HELD})),
        )  # fmt: skip
        every = await subtree_counters(
            session, scope, {province: path}, term_id, today=local_today(),
            due_soon_days=DUE_SOON_DAYS,
        )  # fmt: skip
    assert {(levels, measure) for _, levels, measure, _ in few} == {
        (None, rollups.TOTAL),
        (None, rollups.HELD),
    }
    assert all(levels is not None for _, levels, _, _ in every)
    assert len(every) > 3 * len(few)
    totals = {measure: value for _, _, measure, value in few}
    assert totals[rollups.TOTAL] == sum(v for _, _, m, v in every if m == rollups.TOTAL)
    assert totals[rollups.HELD] == sum(v for _, _, m, v in every if m == rollups.HELD)
