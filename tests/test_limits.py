"""Requests too big to answer are refused with a clear error, before they cost anything."""

from __future__ import annotations

import pytest

from config import Settings
from models import Role
from models.demo import CENTRAL_CODE
from tests.conftest import DemoWorld, demo_user

CENTRAL_VIEWER = demo_user(Role.VIEWER, CENTRAL_CODE)


@pytest.mark.parametrize("first", [101, 1000, -1])
async def test_page_size_out_of_range_is_refused(demo_world: DemoWorld, first: int) -> None:
    errors = await demo_world.client.query_errors(
        CENTRAL_VIEWER,
        "query($first: Int) { committees(first: $first) { totalCount } }",
        first=first,
    )
    assert errors[0]["message"] == f"`first` must be between 0 and 100, got {first}."
    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": "first"}


async def test_nested_page_size_is_checked_too(demo_world: DemoWorld) -> None:
    errors = await demo_world.client.query_errors(
        CENTRAL_VIEWER, '{ committee(code: "TW") { children(first: 500) { totalCount } } }'
    )
    assert errors[0]["message"] == "`first` must be between 0 and 100, got 500."


async def test_hundred_is_allowed(demo_world: DemoWorld) -> None:
    data = await demo_world.client.query(
        CENTRAL_VIEWER, "{ committees(first: 100) { edges { cursor } } }"
    )
    assert len(data["committees"]["edges"]) == 100


async def test_query_deeper_than_the_limit_is_refused_before_it_runs(demo_world: DemoWorld) -> None:
    depth = demo_world.settings.max_query_depth
    # Each `children { nodes { ... } }` adds two levels of depth; pages of one keep it
    # within the node and cost limits, which are judged first.
    nested = "code"
    for _ in range(depth // 2 + 1):
        nested = f"children(first: 1) {{ nodes {{ {nested} }} }}"
    response = await demo_world.client.post(
        f'{{ committee(code: "TW") {{ {nested} }} }}',
        token=demo_world.client.token_for(CENTRAL_VIEWER),
    )
    body = response.json()
    assert body.get("data") is None
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_malformed_cursor_is_a_clear_error(demo_world: DemoWorld) -> None:
    errors = await demo_world.client.query_errors(
        CENTRAL_VIEWER, '{ committees(after: "definitely not a cursor") { totalCount } }'
    )
    assert errors[0]["message"] == "`after` is not a valid cursor."
    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": "after"}


async def test_mutations_do_not_exist_over_get(demo_world: DemoWorld) -> None:
    token = demo_world.client.token_for(CENTRAL_VIEWER)
    response = await demo_world.client.http.get(
        "/graphql",
        params={"query": "mutation { __typename }"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code in {400, 405}


async def test_query_that_could_return_too_many_objects_is_refused(demo_world: DemoWorld) -> None:
    query = """query($inner: Int) { committees(first: 100) { nodes {
        children(first: 100) { nodes { children(first: $inner) { totalCount } } } } } }"""
    errors = await demo_world.client.query_errors(CENTRAL_VIEWER, query, inner=100)
    assert errors[0]["extensions"] == {
        "code": "COST_LIMIT",
        "maxNodes": Settings().max_query_nodes,
        "requestedNodes": 100 + 100 * 100 + 100 * 100 * 100,
    }
    assert errors[0]["message"].startswith("This query could return up to 1,010,100 objects")


async def test_fragments_count_towards_the_node_limit(demo_world: DemoWorld) -> None:
    query = """query { committees(first: 100) { ...Kids } }
        fragment Kids on CommitteeConnection { nodes { children(first: 100) { nodes { ... on Committee {
            children(first: 100) { totalCount } } } } } }"""
    errors = await demo_world.client.query_errors(CENTRAL_VIEWER, query)
    assert errors[0]["extensions"]["requestedNodes"] == 1_010_100


async def test_query_within_the_node_limit_runs(demo_world: DemoWorld) -> None:
    # 100 + 100 x 40 + 100 x 40 x 1 = 8,100 objects at most: under the default 10,000.
    query = """query($inner: Int) { committees(first: 100) { nodes {
        children(first: 40) { nodes { children(first: $inner) { totalCount } } } } } }"""
    data = await demo_world.client.query(CENTRAL_VIEWER, query, inner=1)
    assert len(data["committees"]["nodes"]) == 100


async def test_a_variable_default_counts_towards_the_node_limit(demo_world: DemoWorld) -> None:
    query = """query($n: Int = 100) { committees(first: $n) { nodes {
        children(first: $n) { nodes { children(first: $n) { totalCount } } } } } }"""
    errors = await demo_world.client.query_errors(CENTRAL_VIEWER, query)
    assert errors[0]["extensions"]["requestedNodes"] == 1_010_100


async def test_the_same_document_is_counted_again_for_other_variables(
    demo_world: DemoWorld,
) -> None:
    # Counts are kept per document and whole-number variables: one answer must never be
    # reused for another's variables.
    query = """query($n: Int = 100) { committees(first: $n) { nodes {
        children(first: $n) { nodes { children(first: $n) { totalCount } } } } } }"""
    small = await demo_world.client.query(CENTRAL_VIEWER, query, n=2)
    assert len(small["committees"]["nodes"]) == 2
    errors = await demo_world.client.query_errors(CENTRAL_VIEWER, query, n=30)
    assert errors[0]["extensions"]["requestedNodes"] == 30 + 900 + 27_000
    # Bad variables first (not counted as any number), then the default: still refused.
    assert await demo_world.client.query_errors(CENTRAL_VIEWER, query, n="many")
    errors = await demo_world.client.query_errors(CENTRAL_VIEWER, query)
    assert errors[0]["extensions"]["requestedNodes"] == 1_010_100
    again = await demo_world.client.query(CENTRAL_VIEWER, query, n=2)
    assert again == small


async def test_lists_without_paging_multiply_what_is_below_them(demo_world: DemoWorld) -> None:
    query = """{ committees(first: 100) { nodes { ancestors {
        children(first: 100) { nodes { children(first: 10) { totalCount } } } } } } }"""
    errors = await demo_world.client.query_errors(CENTRAL_VIEWER, query)
    # 100 committees x up to 10 ancestors x 100 children x 10 grandchildren.
    assert errors[0]["extensions"]["requestedNodes"] == 100 + 1_000 + 100_000 + 1_000_000
