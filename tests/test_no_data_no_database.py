"""A request that reads no data (`{ __typename }`) is let in on its credential alone: it
takes no pooled connection and runs no statement, with a bearer token or a session cookie.
Whatever reads data reads the user first, so a deactivated user or an ended session is
refused (401) on the very next request that asks for anything."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.http import GraphQLRequestData

from graph.reads_data import MAX_DOCUMENT_CHARS_JUDGED, reads_data
from models.users import Role, User
from permissions.browser_sessions import SESSION_COOKIE
from tests.conftest import INACTIVE_VIEWER, DemoWorld, demo_user
from tests.test_browser_sessions import ask, browser, dev_sign_in

PROVINCE_VIEWER = demo_user(Role.VIEWER, "T01")
TYPENAME_ONLY = (
    "{ __typename }",
    "query Ping { __typename ... on Query { __typename } }",
    "query { ...Alive } fragment Alive on Query { __typename }",
    "mutation { __typename }",
)
VIEWER_QUERY = "{ viewer { subject } }"


@contextmanager
def database_use(engine: AsyncEngine) -> Iterator[list[str]]:
    """What `engine` did within the block: a "checkout" per pooled connection taken, and
    each statement run."""
    used: list[str] = []

    def checkout(*_args: object) -> None:
        used.append("checkout")

    def statement(_connection: object, _cursor: object, sql: str, *_args: object) -> None:
        used.append(sql)

    event.listen(engine.sync_engine.pool, "checkout", checkout)
    event.listen(engine.sync_engine, "before_cursor_execute", statement)
    try:
        yield used
    finally:
        event.remove(engine.sync_engine.pool, "checkout", checkout)
        event.remove(engine.sync_engine, "before_cursor_execute", statement)


async def post_as(world: DemoWorld, subject: str, query: str) -> httpx.Response:
    return await world.client.http.post(
        "/graphql",
        json={"query": query},
        headers={"Authorization": f"Bearer {world.client.token_for(subject)}"},
    )


async def test_a_bearer_request_that_reads_nothing_touches_no_database(
    demo_world: DemoWorld,
) -> None:
    await post_as(demo_world, PROVINCE_VIEWER, VIEWER_QUERY)  # the term catalog, once read
    for query in TYPENAME_ONLY:
        with database_use(demo_world.engine) as used:
            answer = await post_as(demo_world, PROVINCE_VIEWER, query)
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]["__typename"] in {"Query", "Mutation"}
        assert used == [], (query, used)
    with database_use(demo_world.engine) as used:
        answer = await post_as(demo_world, PROVINCE_VIEWER, "{ __typename viewer { subject } }")
    assert answer.json()["data"]["viewer"] == {"subject": PROVINCE_VIEWER}
    assert used.count("checkout") == 1
    assert len(used) >= 2


async def test_a_cookie_request_that_reads_nothing_touches_no_database(
    fresh_world: DemoWorld,
) -> None:
    async with browser(fresh_world) as client:
        csrf = await dev_sign_in(client, PROVINCE_VIEWER)
        with database_use(fresh_world.engine) as used:
            answer = await ask(client, "{ __typename }", csrf)
            by_get = await client.get("/graphql", params={"query": "{ __typename }"})
        assert answer.json() == {"data": {"__typename": "Query"}}
        assert by_get.json() == {"data": {"__typename": "Query"}}
        assert used == []


async def test_a_deactivated_user_is_refused_on_the_first_request_that_reads_data(
    fresh_world: DemoWorld,
) -> None:
    """Their token still checks out, so `{ __typename }` is answered (it tells nothing); the
    first request that reads anything reads the user and is refused, 401 with the same
    challenge and words as before."""
    answer = await post_as(fresh_world, INACTIVE_VIEWER, "{ __typename }")
    assert answer.json() == {"data": {"__typename": "Query"}}
    refused = await post_as(fresh_world, INACTIVE_VIEWER, VIEWER_QUERY)
    assert refused.status_code == 401
    assert refused.json() == {
        "errors": [
            {
                "message": "Unauthenticated: no active account for this identity",
                "extensions": {"code": "UNAUTHENTICATED"},
            }
        ]
    }
    assert refused.headers["www-authenticate"] == (
        'Bearer realm="congress-monitor", error="invalid_token"'
    )
    assert "ratelimit" not in refused.headers  # charged to no user
    # Recorded for the administrators: tests/test_accounts.py


async def test_an_ended_session_is_refused_on_the_first_request_that_reads_data(
    fresh_world: DemoWorld,
) -> None:
    async with browser(fresh_world) as client:
        csrf = await dev_sign_in(client, PROVINCE_VIEWER)
        cookie = client.cookies[SESSION_COOKIE]
        assert (await ask(client, VIEWER_QUERY, csrf)).status_code == 200
        async with fresh_world.engine.begin() as connection:
            await connection.execute(
                update(User).where(User.subject == PROVINCE_VIEWER).values(is_active=False)
            )
        assert (await ask(client, VIEWER_QUERY, csrf)).status_code == 401
        # Signed out elsewhere: the row is gone, the cookie still checks out.
        await client.post("/sign-out", headers={"X-CSRF-Token": csrf})
    async with browser(fresh_world) as kept:
        kept.cookies.set(SESSION_COOKIE, cookie)
        assert (await kept.get("/graphql", params={"query": "{ __typename }"})).status_code == 200
        answer = await kept.get("/graphql", params={"query": VIEWER_QUERY})
        assert answer.status_code == 401
        assert answer.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    ("query", "operation", "reads"),
    [
        ("{ __typename }", None, False),
        ("query A { __typename } query B { viewer { subject } }", "A", False),
        ("query A { __typename } query B { viewer { subject } }", "B", True),
        # No name among several: strawberry refuses it; judged as reading data meanwhile.
        ("query A { __typename } query B { viewer { subject } }", None, True),
        ("query A { __typename }", "Missing", True),
        (
            "{ ...F } fragment F on Query { ...G } fragment G on Query { viewer { subject } }",
            None,
            True,
        ),
        ("{ ...F } fragment F on Query { ...F }", None, False),  # a cycle: validation refuses it
        ("{ ...Unknown }", None, True),
        ("{ __typename", None, True),  # a syntax error
        ("", None, True),
        ("{ " + "__typename " * MAX_DOCUMENT_CHARS_JUDGED + "}", None, True),  # too long to judge
        ("subscription { progressEvents { cursor } }", None, True),
        # Not checked yet when judged: strawberry refuses them (400).
        ({"query": "{ __typename }"}, None, True),
        ("{ __typename }", {"name": "A"}, True),
        ("{ __typename }", ["A"], True),
    ],
)
def test_what_reads_data_is_judged_from_the_document(
    query: Any, operation: Any, reads: bool
) -> None:
    assert reads_data(GraphQLRequestData(query, None, operation, None)) is reads
    # A batch reads data when any of its requests does.
    assert reads_data([GraphQLRequestData("{ __typename }", None, None, None), GraphQLRequestData(query, None, operation, None)]) is reads  # fmt: skip
