"""An operation's cost is judged before it runs: aliases, lists at their longest,
introspection, summaries and writes all count, and what is over a limit is refused with
`COST_LIMIT`, the limit and what was asked, while every query of the README passes."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse
from graphql.utilities import get_introspection_query
from sqlalchemy import func, select

from bench.reads import QUERIES
from config import Settings
from graph.schema import build_schema
from graph.schema.cost import OperationCost, operation_cost
from models import CongressEvent, Role
from models.demo import CENTRAL_CODE
from tests.api import GraphQLClient, app_client
from tests.conftest import DemoWorld, demo_user

CENTRAL_VIEWER = demo_user(Role.VIEWER, CENTRAL_CODE)
CENTRAL_REPORTER = demo_user(Role.REPORTER, CENTRAL_CODE)
README = Path(__file__).parent.parent / "README.md"
DOCS = Path(__file__).parent.parent / "docs"


def costs_of(document: str) -> list[OperationCost]:
    settings = Settings()
    schema = build_schema(settings)._schema
    parsed = parse(document)
    fragments = {
        definition.name.value: definition
        for definition in parsed.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    return [
        operation_cost(
            schema,
            definition,
            fragments,
            {},
            settings.default_page_size,
            ceiling=settings.max_query_cost,
            node_ceiling=settings.max_query_nodes,
        )
        for definition in parsed.definitions
        if isinstance(definition, OperationDefinitionNode)
    ]


def documented_operations() -> list[str]:
    texts = [README.read_text()] + [path.read_text() for path in sorted(DOCS.glob("*.md"))]
    return [block for text in texts for block in re.findall(r"```graphql\n(.*?)```", text, re.S)]


@pytest.mark.parametrize(
    "document",
    [*documented_operations(), *QUERIES.values(), get_introspection_query()],
)
def test_every_documented_query_and_the_dashboard_are_within_the_limits(document: str) -> None:
    settings = Settings()
    assert len(document) <= settings.max_document_chars
    for cost in costs_of(document):
        assert cost.cost <= settings.max_query_cost, cost
        assert cost.nodes <= settings.max_query_nodes, cost
        assert cost.root_mutations <= settings.max_mutations, cost


def test_every_alias_counts() -> None:
    one = costs_of('{ committee(code: "T01") { progress { total } } }')[0].cost
    many = costs_of(
        "{ " + " ".join(f'a{i}: committee(code: "T01") {{ progress {{ total }} }}' for i in range(7)) + " }"
    )[0].cost  # fmt: skip
    assert many == 7 * one


async def refusal(
    world: DemoWorld, subject: str, document: str, **variables: Any
) -> dict[str, Any]:
    """The one error of a refused operation; it ran nothing, so there is no data."""
    response = await world.client.post(document, variables, token=world.client.token_for(subject))
    body: dict[str, Any] = response.json()
    assert body.get("data") is None, body
    assert len(body["errors"]) == 1, body
    error: dict[str, Any] = body["errors"][0]
    assert error["extensions"]["code"] == "COST_LIMIT", error
    return error


async def test_a_document_too_long_is_refused_before_it_is_parsed(demo_world: DemoWorld) -> None:
    aliases = " ".join(
        f'a{i}: committee(code: "T01") {{ progress {{ total congressesHeld }} }}'
        for i in range(10_000)
    )
    document = f"{{ {aliases} }}"
    error = await refusal(demo_world, CENTRAL_VIEWER, document)
    assert error["extensions"] == {
        "code": "COST_LIMIT",
        "maxDocumentChars": Settings().max_document_chars,
        "documentChars": len(document),
    }


async def test_summaries_on_many_pages_are_over_the_cost(demo_world: DemoWorld) -> None:
    page = "committees(first: 100) { nodes { progress { total congressesHeld } } }"
    document = "{ " + " ".join(f"p{i}: {page}" for i in range(80)) + " }"
    error = await refusal(demo_world, CENTRAL_VIEWER, document)
    # Each page: the connection, 100 nodes, each a summary (10) and its two numbers.
    assert error["extensions"] == {
        "code": "COST_LIMIT",
        "maxCost": Settings().max_query_cost,
        "requestedCost": 80 * (1 + 100 * (1 + 10 + 2)),
    }
    assert error["message"].startswith("This operation could cost up to 104,080;")


async def test_timelines_count_at_their_longest(demo_world: DemoWorld) -> None:
    timeline = (
        'committee(code: "T01") { progress { timeline(interval: DAY) { date congressesHeld } } }'
    )
    document = "{ " + " ".join(f"t{i}: {timeline}" for i in range(30)) + " }"
    error = await refusal(demo_world, CENTRAL_VIEWER, document)
    assert error["extensions"]["requestedNodes"] == 30 * 2_000


async def test_introspection_is_counted_over_the_schema(demo_world: DemoWorld) -> None:
    """GraphiQL's introspection query passes; twenty copies of it under aliases do not."""
    introspection = get_introspection_query()
    data = await demo_world.client.query(CENTRAL_VIEWER, introspection)
    assert data["__schema"]["queryType"]["name"] == "Query"
    one = costs_of(introspection)[0].cost
    copies = "{ " + " ".join(f"s{i}: __schema {{ types {{ name fields {{ name args {{ name }} }} }} }}" for i in range(60)) + " }"  # fmt: skip
    error = await refusal(demo_world, CENTRAL_VIEWER, copies)
    # Every type's fields, sixty times: over the objects a query may return first.
    assert error["extensions"]["requestedNodes"] > Settings().max_query_nodes
    assert Settings().max_query_cost > 5 * one


async def test_more_mutations_than_the_limit_are_refused_and_nothing_is_written(
    demo_world: DemoWorld,
) -> None:
    async with demo_world.engine.connect() as connection:
        events_before = await connection.scalar(select(func.count()).select_from(CongressEvent))
    limit = Settings().max_mutations
    writes = " ".join(
        f'w{i}: recordMilestone(input: {{committeeId: "Q29tbWl0dGVlOjE=", '
        f'milestone: "plan_issued", status: DONE}}) {{ __typename }}'
        for i in range(limit + 1)
    )
    error = await refusal(demo_world, CENTRAL_REPORTER, f"mutation {{ {writes} }}")
    assert error["extensions"] == {
        "code": "COST_LIMIT",
        "maxMutations": limit,
        "requestedMutations": limit + 1,
    }
    # A thousand root fields once ran out of Python's stack: now refused like the rest.
    many = "mutation { " + " ".join(f"t{i}: __typename" for i in range(1_000)) + " }"
    assert (await refusal(demo_world, CENTRAL_REPORTER, many))["extensions"][
        "requestedMutations"
    ] == 1_000
    async with demo_world.engine.connect() as connection:
        events_after = await connection.scalar(select(func.count()).select_from(CongressEvent))
    assert events_after == events_before


async def test_fragments_spread_twice_in_each_other_are_refused_at_once(
    demo_world: DemoWorld,
) -> None:
    """Thirty fragments each spreading the next twice expand to 2^30 fields: judging them
    would never end, so the traversal gives up and refuses."""
    fragments = " ".join(
        f"fragment a{level} on Query {{ ...a{level + 1} ...a{level + 1} }}" for level in range(30)
    )
    document = f"query {{ ...a0 }} {fragments} fragment a30 on Query {{ __typename }}"
    async with asyncio.timeout(10):
        error = await refusal(demo_world, CENTRAL_VIEWER, document)
    assert "too large to judge" in error["message"]


async def test_a_long_chain_of_fragments_is_refused_not_a_crash(demo_world: DemoWorld) -> None:
    chain = " ".join(
        f"fragment c{level} on Query {{ __typename ...c{level + 1} }}" for level in range(800)
    )
    document = f"query {{ ...c0 }} {chain} fragment c800 on Query {{ __typename }}"
    assert len(document) <= Settings().max_document_chars * 3
    settings = demo_world.settings.with_(max_document_chars=len(document))
    async with app_client(settings, demo_world.engine) as http:
        client = GraphQLClient(http, demo_world.client.issuer)
        response = await client.post(document, {}, token=client.token_for(CENTRAL_VIEWER))
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "COST_LIMIT"
    assert "fragments spread more than 64 deep" in error["message"]
