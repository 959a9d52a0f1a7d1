"""Planned reads answer exactly as graphql-core does: random queries, compared byte for byte.

Two apps serve the same database: one with planned reads (the default) and one with
`planned_reads=False`, where graphql-core resolves every field. Hypothesis writes queries
over the planned types (nesting, aliases, inline and named fragments, variables,
`@include`/`@skip`, page sizes and cursors, ids and codes inside and outside the scope,
mistakes among them) and asks both as officials at the centre, a province, a commune and a
cell; the two responses must be the same bytes with the same status.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from graphql import OperationDefinitionNode, parse
from graphql.execution.values import VariableValues
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from config import Settings
from graph.global_ids import GlobalId
from graph.planner.plan import build_plan
from graph.resolvers.pagination import encode_cursor
from graph.schema import build_schema
from models import Committee, Role
from models.demo import CENTRAL_CODE
from tests.api import app_client
from tests.conftest import (
    SIBLING_PROVINCE_CODE,
    SIBLING_VIEWER,
    DemoWorld,
    demo_cell_code,
    demo_commune_code,
    demo_user,
)
from tests.progress_api import hold_congress, record

PROVINCE = "T01"
COMMUNE = demo_commune_code()
CELL = demo_cell_code()
VIEWERS = (
    demo_user(Role.VIEWER, CENTRAL_CODE),
    demo_user(Role.VIEWER, PROVINCE),
    demo_user(Role.VIEWER, COMMUNE),
    demo_user(Role.VIEWER, CELL),
    SIBLING_VIEWER,
)
CODES = (CENTRAL_CODE, PROVINCE, COMMUNE, CELL, f"{COMMUNE}-002", SIBLING_PROVINCE_CODE, "NOPE")


@dataclass(frozen=True)
class TwoPaths:
    world: DemoWorld
    unplanned: httpx.AsyncClient
    committee_ids: tuple[int, ...]

    async def both(self, subject: str, query: str, variables: dict[str, Any]) -> None:
        token = self.world.client.token_for(subject)
        body = {"query": query, "variables": variables}
        headers = {"Authorization": f"Bearer {token}"}
        planned = await self.world.client.http.post("/graphql", json=body, headers=headers)
        unplanned = await self.unplanned.post("/graphql", json=body, headers=headers)
        assert planned.status_code == unplanned.status_code, query
        assert planned.content == unplanned.content, query


@pytest.fixture
async def two_paths(fresh_world: DemoWorld) -> AsyncIterator[TwoPaths]:
    """The demo with some progress recorded, served with and without planned reads."""
    cell_reporter = demo_user(Role.REPORTER, CELL)
    await hold_congress(fresh_world, cell_reporter, CELL)
    await record(fresh_world, demo_user(Role.REPORTER, COMMUNE), COMMUNE, "plan_issued")
    ids = tuple([await fresh_world.committee_id(code) for code in CODES[:-1]])
    # A closed cell, so that includeClosed changes pages and counts.
    async with fresh_world.engine.begin() as connection:
        await connection.execute(
            update(Committee)
            .where(Committee.code == f"{COMMUNE}-002")
            .values(closed_at=datetime(2025, 5, 1, tzinfo=UTC))
        )
    unplanned_settings = fresh_world.settings.with_(planned_reads=False)
    async with app_client(unplanned_settings, fresh_world.engine) as unplanned:
        yield TwoPaths(fresh_world, unplanned, ids)


# --- the query writer ----------------------------------------------------------------------


@st.composite
def aliased(draw: st.DrawFn, field: str) -> str:
    if draw(st.integers(0, 4)) == 0:
        # Named after the field, so that two different fields rarely share a response key.
        name = field.split("(")[0].strip("_")
        return f"{name}_{draw(st.sampled_from(['a', 'b', '1']))}: {field}"
    return field


def directive(draw: st.DrawFn) -> str:
    choice = draw(st.integers(0, 7))
    return {
        0: " @include(if: $flag)",
        1: " @skip(if: $flag)",
        2: " @skip(if: true)",
        3: " @include(if: false)",
    }.get(choice, "")


def with_directive(field: str, chosen: str) -> str:
    """The directive after the field's name and arguments, before its selection."""
    if " {" in field:
        at = field.index(" {")
        return field[:at] + chosen + field[at:]
    return field + chosen


def page_size(draw: st.DrawFn) -> str:
    # Mostly small pages; sometimes none (the default), sometimes out of range.
    return draw(
        st.sampled_from(["first: 0", "first: 1", "first: 2", "first: 3", "first: $first", "", "first: -1", "first: 101"])
    )  # fmt: skip


def cursor(draw: st.DrawFn, committee_ids: tuple[int, ...]) -> str:
    choice = draw(st.integers(0, 5))
    if choice == 0:
        return f'after: "{encode_cursor(draw(st.sampled_from(committee_ids)))}"'
    if choice == 1:
        return 'after: "not a cursor"'
    return ""


def arguments(*parts: str) -> str:
    given_parts = [part for part in parts if part]
    return f"({', '.join(given_parts)})" if given_parts else ""


TERMS = ("", 'term: "2025-2030"', 'term: "1990-1995"')
COMMITTEE_LEAVES = ("id", "code", "name", "kind", "depth", "version", "closedAt", "__typename")
CONGRESS_FIELDS = (
    "id", "status", "deadline", "version", "heldOn", "overdue", "daysLate", "__typename",
    "term { code name startsOn endsOn isCurrent }", "results { membersElected women }",
    "milestones { milestone status occurredOn version }",
    "history(first: 2) { totalCount nodes { version kind } }", "committee { code }",
)  # fmt: skip
PROGRESS_FIELDS = (
    "total", "congressesHeld", "congressesCompleted", "inProgress", "notStarted",
    "completionRate", "overdue", "dueSoon", "term", "byMilestone { milestone name done notStarted }",
    "byDepth { depth levelsBelow total }", "results { congressesReporting women under40 }",
)  # fmt: skip


# What a page built in SQL holds (graph/planner/sql.py): columns, congresses, children.
SQL_COMMITTEE_LEAVES = ("id", "code", "name", "kind", "depth", "version", "__typename")
SQL_CONGRESS_FIELDS = ("id", "status", "deadline", "version", "heldOn", "__typename")


@st.composite
def committee_selection(
    draw: st.DrawFn, depth: int, committee_ids: tuple[int, ...], sql_shaped: bool = False
) -> str:
    fields: list[str] = []
    leaves = SQL_COMMITTEE_LEAVES if sql_shaped else COMMITTEE_LEAVES
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.integers(0, 9 if depth > 0 else 3))
        if sql_shaped and kind in (5, 6, 7):
            kind = 8 if depth > 0 else 4
        if kind <= 3:
            field = draw(aliased(draw(st.sampled_from(leaves))))
        elif kind == 4:
            congress_fields = SQL_CONGRESS_FIELDS if sql_shaped else CONGRESS_FIELDS
            inner = " ".join(
                draw(st.lists(st.sampled_from(congress_fields), min_size=1, max_size=3))
            )
            field = f"{draw(aliased('congress'))}{arguments(draw(st.sampled_from(TERMS)))} {{ {inner} }}"
        elif kind == 5:
            inner = " ".join(
                draw(st.lists(st.sampled_from(PROGRESS_FIELDS), min_size=1, max_size=3))
            )
            field = f"{draw(aliased('progress'))}{arguments(draw(st.sampled_from(TERMS)))} {{ {inner} }}"
        elif kind == 6:
            field = f"{draw(aliased('parent'))} {{ {draw(committee_selection(0, committee_ids))} }}"
        elif kind == 7:
            field = "ancestors { code depth } mergedInto { code }"
        else:
            field = draw(connection(depth - 1, committee_ids, "children", page_size(draw),
                                    cursor(draw, committee_ids),
                                    draw(st.sampled_from(["", "includeClosed: true", "includeClosed: $closed"])),
                                    sql_shaped=sql_shaped))  # fmt: skip
        field = with_directive(field, directive(draw))
        wrap = draw(st.integers(0, 6))
        if wrap == 0:
            field = f"... on Committee {{ {field} }}"
        elif wrap == 1:
            field = f"... {{ {field} }}"
        fields.append(field)
    return " ".join(fields)


@st.composite
def connection(
    draw: st.DrawFn,
    depth: int,
    committee_ids: tuple[int, ...],
    name: str,
    *args: str,
    sql_shaped: bool = False,
) -> str:
    node = draw(committee_selection(depth, committee_ids, sql_shaped))
    parts = draw(
        st.lists(
            st.sampled_from([
                "totalCount", "pageInfo { hasNextPage endCursor }", f"edges {{ cursor node {{ {node} }} }}",
                f"nodes {{ {node} }}", "__typename", "pageInfo { __typename e: endCursor }",
                f"edges {{ __typename node {{ {node} }} }}",
            ]), min_size=1, max_size=3,
        )
    )  # fmt: skip
    label = name if ":" in name else draw(aliased(name))
    return f"{label}{arguments(*args)} {{ {' '.join(parts)} }}"


VARIABLES = {
    "id": "$id: ID!",
    "flag": "$flag: Boolean!",
    "first": "$first: Int",
    "closed": "$closed: Boolean!",
}


@st.composite
def planned_query(
    draw: st.DrawFn, committee_ids: tuple[int, ...], sql_shaped: bool = False
) -> tuple[str, dict[str, Any]]:
    roots: list[str] = []
    named_fragment = ""
    for number in range(draw(st.integers(1, 2))):
        selection = draw(committee_selection(2, committee_ids, sql_shaped))
        if draw(st.booleans()):
            named_fragment = f"fragment F on Committee {{ {selection} }}"
            selection = "...F"
        root = draw(st.integers(0, 4 if sql_shaped else 6))
        key = f"r{number}: "
        if root == 0:
            code = draw(st.sampled_from(CODES))
            roots.append(f'{key}committee(code: "{code}") {{ {selection} }}')
        elif root == 1:
            roots.append(f"{key}committee(id: $id) {{ {selection} }}")
        elif root == 2:
            roots.append(f"{key}node(id: $id) {{ __typename ... on Committee {{ {selection} }} }}")
        elif root == 3:
            roots.append(f"{key}__typename")
        elif root == 4:
            depth = draw(st.sampled_from(["", "depth: 3", "depth: 4"]))
            search = draw(st.sampled_from(["", 'search: "ba"']))
            roots.append(draw(connection(1, committee_ids, f"{key}committees", page_size(draw), depth, search)))  # fmt: skip
        elif root == 5:
            inner = f"assignments {{ role committee {{ {selection} }} }}"
            roots.append(f"{key}viewer {{ __typename subject name {inner} }}")
        else:
            congress = " ".join(
                draw(st.lists(st.sampled_from(CONGRESS_FIELDS), min_size=1, max_size=3))
            )
            parts = draw(
                st.sampled_from(
                    [
                        f"totalCount nodes {{ {congress} }}",
                        "pageInfo { hasNextPage endCursor }",
                        f"edges {{ cursor node {{ {congress} }} }}",
                    ]
                )
            )
            under = draw(st.sampled_from(["$id", f'"{GlobalId("Committee", committee_ids[0])}"']))
            term = draw(st.sampled_from(TERMS))
            roots.append(f"{key}overdueCongresses{arguments(f'under: {under}', term, page_size(draw), cursor(draw, committee_ids))} {{ {parts} }}")  # fmt: skip
    body = " ".join(roots) + " } " + (named_fragment if "...F" in " ".join(roots) else "")
    # Only the variables the query uses may be declared.
    declared = [declaration for name, declaration in VARIABLES.items() if f"${name}" in body]
    query = f"query Q{arguments(*declared)} {{ {body}"
    target = draw(
        st.sampled_from([
            str(GlobalId("Committee", draw(st.sampled_from(committee_ids)))),
            str(GlobalId("Committee", 999_999)), str(GlobalId("User", 1)), "bad id",
            base64.b64encode(b"Congress:1").decode(),
        ])
    )  # fmt: skip
    variables = {
        "id": target,
        "flag": draw(st.booleans()),
        "first": draw(st.sampled_from([None, 0, 2, 4])),
        "closed": draw(st.booleans()),
    }
    return query, variables


# --- the tests -----------------------------------------------------------------------------


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_planned_and_resolved_answers_are_the_same_bytes(
    two_paths: TwoPaths, data: st.DataObject
) -> None:
    query, variables = data.draw(planned_query(two_paths.committee_ids))
    subject = data.draw(st.sampled_from(VIEWERS))
    await two_paths.both(subject, query, variables)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_pages_built_in_sql_are_the_same_bytes(
    two_paths: TwoPaths, data: st.DataObject, caplog: pytest.LogCaptureFixture
) -> None:
    """Tree pages of columns, congresses and children: what graph/planner/sql.py builds.
    A statement it writes that the database refuses would still be answered the same, by
    graphql-core after the rollback, so the warning it logs is checked too."""
    query, variables = data.draw(planned_query(two_paths.committee_ids, sql_shaped=True))
    subject = data.draw(st.sampled_from(VIEWERS))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="congress.planner"):
        await two_paths.both(subject, query, variables)
    assert not caplog.records, query


README_PAGE = """{ committee(code: "T01") { name progress { total congressesHeld overdue }
  children(first: 20) { totalCount edges { cursor node { id name congress { status deadline }
    progress { total congressesHeld overdue } children(first: 10) { nodes { code name congress { status } } } } }
    pageInfo { hasNextPage endCursor } } } }"""


@pytest.mark.parametrize("subject", VIEWERS)
async def test_a_dashboard_page_is_the_same_on_both_paths(
    two_paths: TwoPaths, subject: str
) -> None:
    await two_paths.both(subject, README_PAGE, {})


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        # A null `if` that validation lets through (a nullable variable with a default):
        # graphql-core reports it on the field, with a path, and keeps the rest.
        (
            'query Q($x: Boolean = true) { committee(code: "T01") { code name @include(if: $x) } }',
            {"x": None},
        ),
        (
            '{ a: committee(code: "T01") { code } b: committee(code: "T01") { children(first: -1) { totalCount } } }',
            {},
        ),
        ('{ committee(code: "T01") { children(first: 2, after: "bad") { nodes { code } } } }', {}),
    ],
)
async def test_what_graphql_core_reports_is_reported_the_same(
    two_paths: TwoPaths, query: str, variables: dict[str, Any]
) -> None:
    await two_paths.both(demo_user(Role.VIEWER, PROVINCE), query, variables)


async def test_more_keys_than_a_json_object_takes_are_answered_the_same(
    two_paths: TwoPaths, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLite's json_object takes 63 keys: a page with more is read the usual way,
    not sent to the database to fail there."""
    many = " ".join(f"c{number}: code" for number in range(60))
    query = f'{{ committee(code: "T01") {{ {many} children(first: 2) {{ nodes {{ {many} }} }} }} }}'
    with caplog.at_level(logging.WARNING, logger="congress.planner"):
        await two_paths.both(demo_user(Role.VIEWER, PROVINCE), query, {})
    assert not caplog.records


PLANNED_DOCUMENTS = (
    README_PAGE,
    "{ viewer { subject name assignments { role committee { code name congress { status } } } } }",
    """query($under: ID!) { overdueCongresses(under: $under, first: 5) { totalCount
      pageInfo { hasNextPage endCursor } nodes { id deadline daysLate committee { code } } } }""",
    """query($code: String!) { committee(code: $code) { name progress { total byMilestone {
      milestone done } } children(first: 20) { nodes { id progress { total overdue } } } } }""",
)


@pytest.mark.parametrize("document", PLANNED_DOCUMENTS)
def test_the_tree_and_progress_reads_are_planned(document: str) -> None:
    """What the issue lists is planned, not left to graphql-core."""
    schema = build_schema(Settings())._schema
    parsed = parse(document)
    operation = next(d for d in parsed.definitions if isinstance(d, OperationDefinitionNode))
    build_plan(schema, operation, {}, VariableValues({}, {}))  # raises Unplannable if not
