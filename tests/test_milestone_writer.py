"""Milestone writes arriving together share one transaction (domain/milestone_writer.py):
each is still answered on its own, nothing is lost, and the rollups stay exact."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.milestone_writer import MilestoneWriter, Outcome
from models import Committee, CongressEvent, MilestoneStatus, Role
from models.audit import Actor
from models.demo import CENTRAL_CODE, demo_tree
from models.failpoints import armed
from models.milestone_batch import MilestoneWrite, Recorded, record_milestones
from models.rollup_check import check_rollups
from tests.admin_api import committee_gid
from tests.api import counted_statements
from tests.conftest import DEMO_CELLS_PER_COMMUNE, DemoWorld, demo_user
from tests.progress_api import RECORD_MILESTONE, anyone
from tests.test_statement_count import MILESTONE_WRITE_STATEMENTS

REPORTER = demo_user(Role.REPORTER, CENTRAL_CODE)
ACTOR = Actor(user_id=None, subject="test")


# Eight congresses from the top of the demo tree: the centre, a province, communes, cells.
CODES = [seed.code for seed in demo_tree(DEMO_CELLS_PER_COMMUNE)][:8]


async def events(world: DemoWorld) -> int:
    async with world.engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(CongressEvent)) or 0)


async def drift(world: DemoWorld) -> int:
    async with AsyncSession(world.engine) as session, session.begin():
        return (await check_rollups(session, repair=False)).counters_wrong


async def together(
    world: DemoWorld, writes: list[dict[str, Any]], counted: list[int] | None = None
) -> list[dict[str, Any]]:
    """The writes sent at once, each as its own request; with `counted`, the statements
    they cost are appended to it."""
    token = world.client.token_for(REPORTER)
    inputs = [
        {"committeeId": await committee_gid(world, write.pop("code")), "status": "DONE",
         "occurredOn": "2025-03-01", **write}
        for write in writes
    ]  # fmt: skip
    with counted_statements(world.engine) as statements:
        responses = await asyncio.gather(
            *(
                world.client.post(RECORD_MILESTONE, {"input": input_}, token=token)
                for input_ in inputs
            )
        )
    if counted is not None:
        counted.append(len(statements))
    return [response.json()["data"]["recordMilestone"] for response in responses]


async def test_writes_sent_together_share_statements_and_all_land(
    fresh_world: DemoWorld,
) -> None:
    before = await events(fresh_world)
    counted: list[int] = []
    results = await together(
        fresh_world, [{"code": code, "milestone": "plan_issued"} for code in CODES], counted
    )
    assert [result["__typename"] for result in results] == ["CongressPayload"] * len(CODES)
    assert {result["recordedVersion"] for result in results} == {2}
    assert await events(fresh_world) == before + len(CODES)
    assert await drift(fresh_world) == 0
    # Alone, each would cost MILESTONE_WRITE_STATEMENTS; together they share the reads and
    # writes of their congresses (how many share one batch depends on timing).
    assert counted[0] < len(CODES) * MILESTONE_WRITE_STATEMENTS * 3 // 4


async def test_a_batch_costs_the_same_statements_whatever_its_size(
    fresh_world: DemoWorld,
) -> None:
    async def statements_of(codes: list[str]) -> int:
        async with AsyncSession(fresh_world.engine) as session, session.begin():
            ids = dict(
                (
                    await session.execute(
                        select(Committee.code, Committee.id).where(Committee.code.in_(codes))
                    )
                ).all()
            )
            writes = [
                MilestoneWrite(ACTOR, ids[code], anyone, None, "plan_issued",
                               MilestoneStatus.DONE, date(2025, 3, 1), None, None)
                for code in codes
            ]  # fmt: skip
            with counted_statements(fresh_world.engine) as statements:
                outcomes = await record_milestones(session, writes)
            assert all(isinstance(outcome, Recorded) for outcome in outcomes), outcomes
            return len(statements)

    assert await statements_of(CODES[:1]) == await statements_of(CODES[1:])
    assert await drift(fresh_world) == 0


async def test_a_refused_write_leaves_the_others_of_its_batch(fresh_world: DemoWorld) -> None:
    results = await together(
        fresh_world,
        [{"code": code, "milestone": "plan_issued"} for code in CODES[:4]]
        + [
            {"code": CODES[4], "milestone": "no_such_step"},
            {"code": CODES[5], "milestone": "congress_held"},  # its prerequisites are not done
            {"code": CODES[6], "milestone": "plan_issued", "expectedVersion": 7},
        ],
    )
    assert [result["__typename"] for result in results] == ["CongressPayload"] * 4 + [
        "ValidationError",
        "ValidationError",
        "CongressVersionConflict",
    ]
    assert results[6]["currentVersion"] == 1
    assert await drift(fresh_world) == 0


async def test_two_writes_to_one_congress_in_a_batch_claim_two_versions(
    fresh_world: DemoWorld,
) -> None:
    first, second = await together(
        fresh_world,
        [
            {"code": CODES[0], "milestone": "plan_issued", "note": "first"},
            {"code": CODES[0], "milestone": "plan_issued", "note": "second"},
        ],
    )
    # Whichever came first, each claimed its own version; the congress ends at the second.
    assert {first["recordedVersion"], second["recordedVersion"]} == {2, 3}
    assert max(first["congress"]["version"], second["congress"]["version"]) == 3
    assert await drift(fresh_world) == 0


async def test_one_key_with_two_inputs_in_a_batch_records_one(fresh_world: DemoWorld) -> None:
    key = str(uuid.uuid4())
    results = await together(
        fresh_world,
        [
            {"code": CODES[0], "milestone": "plan_issued", "idempotencyKey": key},
            {"code": CODES[0], "milestone": "plan_issued", "idempotencyKey": key},
            {"code": CODES[1], "milestone": "plan_issued", "idempotencyKey": key},
        ],
    )
    kinds = [result["__typename"] for result in results]
    assert kinds == ["CongressPayload", "CongressPayload", "Conflict"]
    # Sent at once, either may reach the batch first: one is recorded, the other replays it.
    assert sorted([results[0]["replayed"], results[1]["replayed"]]) == [False, True]
    assert results[0]["recordedVersion"] == results[1]["recordedVersion"] == 2


async def test_a_batch_that_fails_is_retried_write_by_write(fresh_world: DemoWorld) -> None:
    """A failure in the shared transaction reaches only the write that met it: the batch is
    tried again write by write, and nothing half-done remains."""
    token = fresh_world.client.token_for(REPORTER)

    async def attempt(code: str) -> str:
        response = await fresh_world.client.post(
            RECORD_MILESTONE,
            {"input": {"committeeId": await committee_gid(fresh_world, code),
                       "milestone": "plan_issued", "status": "DONE", "occurredOn": "2025-03-01"}},
            token=token,
        )  # fmt: skip
        body = response.json()
        if body.get("errors"):
            return str(body["errors"][0]["message"])
        return str(body["data"]["recordMilestone"]["__typename"])

    before = await events(fresh_world)
    # Twice: the batch fails, then the first write tried alone fails; or two lone writes.
    with armed("congress.event_appended", RuntimeError("injected failure"), times=2):
        outcomes = await asyncio.gather(*(attempt(code) for code in CODES))
    failed = outcomes.count("injected failure")
    assert 1 <= failed <= 2
    assert outcomes.count("CongressPayload") == len(CODES) - failed
    assert await events(fresh_world) == before + len(CODES) - failed
    assert await drift(fresh_world) == 0


async def test_writes_waiting_when_the_writer_stops_are_told_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker shutting down mid-batch: its waiting requests get an error, not a hang."""
    started = asyncio.Event()

    async def never_done(_self: MilestoneWriter, _batch: object) -> list[Outcome]:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    monkeypatch.setattr(MilestoneWriter, "_write", never_done)
    writer = MilestoneWriter(async_sessionmaker())
    write = MilestoneWrite(ACTOR, 1, anyone, None, "plan_issued", MilestoneStatus.DONE,
                           date(2025, 3, 1), None, None)  # fmt: skip
    first = asyncio.create_task(writer.record(write, None))
    await started.wait()
    second = asyncio.create_task(writer.record(write, None))
    await asyncio.sleep(0)
    assert writer._draining is not None
    writer._draining.cancel()
    for waiting in (first, second):
        with pytest.raises(RuntimeError, match="stopped before recording"):
            await asyncio.wait_for(waiting, timeout=5)
