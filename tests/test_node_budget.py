"""The budget of objects in flight: queries beyond it wait their turn, and nothing leaks."""

from __future__ import annotations

import asyncio

import pytest

from graph.schema.node_budget import NodeBudget
from models import Role
from models.demo import CENTRAL_CODE
from tests.api import GraphQLClient, app_client
from tests.conftest import DemoWorld, demo_user

CENTRAL_VIEWER = demo_user(Role.VIEWER, CENTRAL_CODE)
# Worst cases: 100 committees; 100 + 100 x 10 children = 1,100; no list at all.
HUNDRED = "{ committees(first: 100) { nodes { code } } }"
ELEVEN_HUNDRED = "{ committees(first: 100) { nodes { children(first: 10) { nodes { code } } } } }"
NO_LIST = '{ committee(code: "TW") { code progress { total } } }'


async def settle() -> None:
    """Let every task that can run do so."""
    for _ in range(5):
        await asyncio.sleep(0)


async def hold(budget: NodeBudget, nodes: int, entered: list[int], release: asyncio.Event) -> None:
    async with budget.reserve(nodes):
        entered.append(nodes)
        await release.wait()


async def test_a_reservation_that_fits_is_taken_at_once_and_given_back() -> None:
    budget = NodeBudget(100)
    async with budget.reserve(60):
        assert budget.available == 40
    assert budget.available == 100


async def test_queries_beyond_the_budget_wait_first_come_first_served() -> None:
    budget = NodeBudget(100)
    entered: list[int] = []
    release_first, release_big = asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(hold(budget, 60, entered, release_first))
    await settle()
    big = asyncio.create_task(hold(budget, 80, entered, release_big))
    await settle()
    # 30 would fit beside the first, but the big one asked earlier: it waits behind it.
    small = asyncio.create_task(hold(budget, 30, entered, asyncio.Event()))
    await settle()
    assert entered == [60]
    release_first.set()
    await settle()
    assert entered == [60, 80]
    release_big.set()
    await settle()
    assert entered == [60, 80, 30]
    small.cancel()
    await asyncio.gather(first, big, small, return_exceptions=True)
    assert budget.available == 100


async def test_a_waiter_that_gives_up_leaves_the_queue_and_lets_the_next_in() -> None:
    budget = NodeBudget(100)
    entered: list[int] = []
    release = asyncio.Event()
    first = asyncio.create_task(hold(budget, 50, entered, release))
    await settle()
    impatient = asyncio.create_task(hold(budget, 100, entered, asyncio.Event()))
    await settle()
    patient = asyncio.create_task(hold(budget, 40, entered, release))
    await settle()
    assert entered == [50]
    impatient.cancel()
    await settle()
    assert entered == [50, 40]
    release.set()
    await asyncio.gather(first, patient)
    with pytest.raises(asyncio.CancelledError):
        await impatient
    assert budget.available == 100


async def test_a_query_bigger_than_the_budget_runs_alone() -> None:
    budget = NodeBudget(100)
    async with budget.reserve(5_000):
        assert budget.available == 0
    assert budget.available == 100


async def test_a_query_without_lists_never_waits() -> None:
    budget = NodeBudget(100)
    async with budget.reserve(100):
        async with asyncio.timeout(1):
            async with budget.reserve(0):
                assert budget.available == 0


def test_a_budget_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        NodeBudget(0)


async def test_concurrent_queries_over_the_budget_all_get_their_answers(
    demo_world: DemoWorld,
) -> None:
    # Room for one 1,100-object query, or eleven 100-object ones, at a time.
    settings = demo_world.settings.with_(max_nodes_in_flight=1_100)
    async with app_client(settings, demo_world.engine) as http:
        client = GraphQLClient(http, demo_world.client.issuer)
        expected = {
            query: await client.query(CENTRAL_VIEWER, query)
            for query in (HUNDRED, ELEVEN_HUNDRED, NO_LIST)
        }
        queries = [HUNDRED, ELEVEN_HUNDRED, NO_LIST] * 4
        async with asyncio.timeout(60):
            answers = await asyncio.gather(
                *(client.query(CENTRAL_VIEWER, query) for query in queries)
            )
        assert answers == [expected[query] for query in queries]


async def test_refused_and_failed_queries_give_their_reservation_back(
    demo_world: DemoWorld,
) -> None:
    settings = demo_world.settings.with_(max_nodes_in_flight=1_100)
    async with app_client(settings, demo_world.engine) as http:
        client = GraphQLClient(http, demo_world.client.issuer)
        too_big = "{ committees(first: 100) { nodes { children(first: 100) { nodes { code } } } } }"
        assert (await client.query_errors(CENTRAL_VIEWER, too_big))[0]["extensions"][
            "code"
        ] == "COST_LIMIT"
        # Reserves 1,100 and fails while executing: the cursor deep down is not one of ours.
        failing = """{ committees(first: 100) { nodes {
            children(first: 10, after: "not-a-cursor") { nodes { code } } } } }"""
        assert await client.query_errors(CENTRAL_VIEWER, failing)
        # Had either kept its reservation, this one (the whole budget) would wait forever.
        async with asyncio.timeout(30):
            data = await client.query(CENTRAL_VIEWER, ELEVEN_HUNDRED)
        assert len(data["committees"]["nodes"]) == 100
