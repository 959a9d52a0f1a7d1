"""No N+1: the number of SQL statements depends on the query's depth, not on the data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from config import Settings
from graph.global_ids import GlobalId
from graph.resolvers.committees import COMMITTEE_TYPE
from graph.term_catalog import STATEMENTS_PER_READ
from models import Committee, CommitteeKind, Congress, Role, Term
from models.accounts import add_user
from models.congress import default_milestone_templates
from models.database import create_engine
from models.rollup_check import rebuild_statements
from models.text import search_key
from models.tree import child_path
from permissions.tokens import LocalIssuer
from tests.api import app_client

ADMIN = "001000000001"
# A dashboard: one bar per child and grandchild, each with its subtree's summary.
NESTED_PROGRESS = """{ committee(code: "R") { progress { total overdue byMilestone { done } }
  children(first: 20) { nodes { progress { total congressesHeld overdue dueSoon byDepth { total } }
    children(first: 10) { nodes { progress { total overdue results { women } } } } } } } }"""
NESTED = """{ committee(code: "R") { name children(first: 40) { totalCount edges { node { name
    children(first: 40) { totalCount edges { node { name
        children(first: 3) { totalCount nodes { name code depth parent { code } congress { deadline } } } } } } } } } } }"""


def uniform_tree(widths: tuple[int, ...]) -> list[dict[str, Any]]:
    """A root "R" whose nodes at level n each have widths[n] children."""
    rows: list[dict[str, Any]] = []
    level: list[dict[str, Any]] = [
        {"id": 1, "parent_id": None, "code": "R", "path": child_path(None, 1), "depth": 1}
    ]
    rows += level
    for width in widths:
        next_level: list[dict[str, Any]] = []
        for parent in level:
            for number in range(width):
                committee_id = len(rows) + len(next_level) + 1
                next_level.append(
                    {
                        "id": committee_id,
                        "parent_id": parent["id"],
                        "code": f"{parent['code']}.{number}",
                        "path": child_path(parent["path"], committee_id),
                        "depth": parent["depth"] + 1,
                    }
                )
        rows += next_level
        level = next_level
    for row in rows:
        row.update(
            name=f"Chi bộ {row['code']}",
            search_name=search_key(f"Chi bộ {row['code']}"),
            kind=CommitteeKind.CELL,
        )
    return rows


async def statements_for_nested_query(
    url: str, data_dir: Path, widths: tuple[int, ...]
) -> tuple[int, int]:
    """(SQL statements, leaf nodes returned) for the three-level query on a uniform tree."""
    statements, data = await statements_for(url, data_dir, widths, NESTED)
    leaves = sum(
        len(grandchild["node"]["children"]["nodes"])
        for child in data["committee"]["children"]["edges"]
        for grandchild in child["node"]["children"]["edges"]
    )
    return statements, leaves


@dataclass
class CountingServer:
    """The app over a uniform tree, and the SQL statements it has run so far."""

    http: httpx.AsyncClient
    token: str
    statements: int = 0

    async def ask(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The response's data; the request must succeed."""
        response = await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.token}"},
        )
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    async def statements_of(
        self, query: str, variables: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        before = self.statements
        data = await self.ask(query, variables)
        return self.statements - before, data


@asynccontextmanager
async def serving_uniform_tree(
    url: str, data_dir: Path, widths: tuple[int, ...]
) -> AsyncIterator[CountingServer]:
    """A uniform tree with a congress per committee (deadline 2025-06-30), its root's admin,
    and the app serving it, counting statements."""
    engine = create_engine(url)
    tree = uniform_tree(widths)
    async with engine.begin() as connection:
        await connection.execute(insert(Committee), tree)
        term_id = await connection.scalar(
            insert(Term)
            .values(
                code="2025-2030",
                name="2025-2030",
                starts_on=date(2025, 1, 1),
                ends_on=date(2030, 12, 31),
                is_current=True,
            )
            .returning(Term.id)
        )
        assert term_id is not None
        congresses = [
            {"committee_id": row["id"], "term_id": term_id, "deadline": date(2025, 6, 30)}
            for row in tree
        ]
        await connection.execute(insert(Congress), congresses)
        for statement in rebuild_statements():
            await connection.execute(statement)
    async with AsyncSession(engine) as session, session.begin():
        session.add_all(default_milestone_templates(term_id))
        await add_user(session, ADMIN, "Root admin", [(1, Role.ADMIN)])
    settings = Settings(data_dir=data_dir, database_url=url)
    token = LocalIssuer.load_or_create(settings.signing_key_path).issue(ADMIN, 600)
    async with app_client(settings, engine) as http:
        server = CountingServer(http, token)

        def count(*_args: object) -> None:
            server.statements += 1

        event.listen(engine.sync_engine, "before_cursor_execute", count)
        yield server
    await engine.dispose()


async def statements_for(
    url: str, data_dir: Path, widths: tuple[int, ...], query: str
) -> tuple[int, dict[str, Any]]:
    """(SQL statements, data) for `query` as the root's admin on a uniform tree, asked
    twice: the statements are the second time's, once the server has read the terms and
    their templates (graph/term_catalog.py), as it does once in a while."""
    async with serving_uniform_tree(url, data_dir, widths) as server:
        first_time, first = await server.statements_of(query)
        statements, data = await server.statements_of(query)
    assert data == first
    # The first time also read the terms and templates: once, not once per node.
    assert first_time <= statements + STATEMENTS_PER_READ
    return statements, data


@pytest.fixture
async def second_database_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    from models.migrate import upgrade_database
    from tests.databases import throwaway_database

    async with throwaway_database(backend, tmp_path / "second") as url:
        engine: AsyncEngine = create_engine(url)
        await upgrade_database(engine)
        await engine.dispose()
        yield url


async def test_nested_query_statements_do_not_grow_with_children(
    empty_database_url: str, second_database_url: str, tmp_path: Path
) -> None:
    small_statements, small_leaves = await statements_for_nested_query(
        empty_database_url, tmp_path, (5, 5, 5)
    )
    # 40 children at each of the first two levels, 3 below each: 4,800 leaves in one
    # response (6,440 objects at most, within the default node limit of 10,000).
    large_statements, large_leaves = await statements_for_nested_query(
        second_database_url, tmp_path, (40, 40, 3)
    )
    assert (small_leaves, large_leaves) == (5 * 5 * 3, 40 * 40 * 3)
    assert small_statements == large_statements
    # 1 to authenticate, 1 for the root, one page and one count per level (6), and at the
    # leaves one each for their parents and their congresses.
    assert small_statements == 10


async def test_progress_of_every_child_costs_the_same_statements(
    empty_database_url: str, second_database_url: str, tmp_path: Path
) -> None:
    small_statements, small = await statements_for(
        empty_database_url, tmp_path, (2, 2, 2), NESTED_PROGRESS
    )
    large_statements, large = await statements_for(
        second_database_url, tmp_path, (20, 10, 5), NESTED_PROGRESS
    )
    assert small["committee"]["progress"]["total"] == 1 + 2 + 4 + 8
    assert large["committee"]["progress"]["total"] == 1 + 20 + 200 + 1000
    assert large["committee"]["progress"]["overdue"] == 1221  # every deadline is in 2025
    assert small_statements == large_statements
    # 1 to authenticate, 1 for the root and 1 for its summary (3); then for each level of
    # children one page and 1 for all their summaries (2 + 2).
    assert small_statements == 7


SUMMARY = """{ committee(code: "R") { progress { total overdue byMilestone { done }
  results { women } } } }"""


async def test_a_summary_is_three_statements_with_one_trip_each(
    empty_database_url: str, tmp_path: Path, driver_trips: list[Any]
) -> None:
    """Authentication, the committee and its counters: on SQLite one trip to aiosqlite's
    thread each (models/sqlite_driver.py), and the session ends with nothing to roll back."""
    async with serving_uniform_tree(empty_database_url, tmp_path, (3, 3)) as server:
        await server.ask(SUMMARY)  # the terms and templates are read once in a while
        driver_trips.clear()
        statements, data = await server.statements_of(SUMMARY)
        trips = list(driver_trips)  # not the engine's closing of its connections after
    assert data["committee"]["progress"]["total"] == 1 + 3 + 9
    assert statements == 3
    if empty_database_url.startswith("sqlite"):
        assert len(trips) == 3


# What one recordMilestone sent alone costs in statements (bench/progress.py turns it into a
# ceiling); writes sent together share most of them (tests/test_milestone_writer.py).
MILESTONE_WRITE_STATEMENTS = 16
RECORD_MILESTONE = """mutation($input: RecordMilestoneInput!) { recordMilestone(input: $input) {
  __typename ... on CongressPayload { recordedVersion congress { id status version } }
  ... on MutationError { message } } }"""


async def test_a_milestone_write_costs_the_same_statements_anywhere(
    empty_database_url: str, tmp_path: Path, driver_trips: list[Any]
) -> None:
    """What one write costs, counted: the floor of its time (see README, Measured)."""
    trips_per_write: list[int] = []
    async with serving_uniform_tree(empty_database_url, tmp_path, (3, 3, 3)) as server:

        async def write(committee_id: int) -> int:
            variables = {"input": {"committeeId": str(GlobalId(COMMITTEE_TYPE, committee_id)),
                                   "milestone": "plan_issued", "status": "IN_PROGRESS",
                                   "occurredOn": "2025-03-01"}}  # fmt: skip
            driver_trips.clear()
            statements, data = await server.statements_of(RECORD_MILESTONE, variables)
            trips_per_write.append(len(driver_trips))
            assert data["recordMilestone"]["__typename"] == "CongressPayload", data
            return statements

        # The root, a child, a leaf (the ancestors' rollups grow with depth, in one upsert).
        costs = [await write(committee_id) for committee_id in (1, 2, 40)]
    # 1 to authenticate; then the writer's transaction: the term, the committee (checked for
    # scope and role there), its congress, the term's templates, the congress's milestones
    # and its report's state (6: a submitted report locks them, models/reports.py), the
    # version claim and the event (2), the rollup contributions before and after, the
    # status, the milestone, the rollup upsert and the audit row (6), and last the
    # change-feed row (1). The answer is the congress as the writer committed it.
    assert costs == [MILESTONE_WRITE_STATEMENTS] * 3
    if empty_database_url.startswith("sqlite"):
        # On SQLite each statement and the commit is one trip to aiosqlite's thread.
        assert trips_per_write == [MILESTONE_WRITE_STATEMENTS + 1] * 3


# The issue's pages: a node with a hundred children, and 20 children with 10 each below.
HUNDRED_CHILDREN = """{ committee(code: "R") { id name congress { status }
  children(first: 100) { nodes { id name congress { status } } } } }"""
TWENTY_BY_TEN = """{ committee(code: "R") { id name congress { status }
  children(first: 20) { nodes { id name congress { status }
    children(first: 10) { nodes { id name congress { status } } } } } } }"""


@pytest.mark.parametrize(
    ("query", "statements"),
    # 1 to authenticate, then the committee, its congress and its pages of children, however
    # deep, built as JSON in one statement (graph/planner/sql.py).
    [(HUNDRED_CHILDREN, 2), (TWENTY_BY_TEN, 2)],
)
async def test_a_planned_page_costs_the_same_statements_for_5_and_100_children(
    empty_database_url: str,
    second_database_url: str,
    tmp_path: Path,
    query: str,
    statements: int,
) -> None:
    few, few_data = await statements_for(empty_database_url, tmp_path, (5, 5), query)
    many, many_data = await statements_for(second_database_url, tmp_path, (100, 10), query)
    assert len(few_data["committee"]["children"]["nodes"]) == 5
    assert len(many_data["committee"]["children"]["nodes"]) in (20, 100)
    assert few == many == statements
