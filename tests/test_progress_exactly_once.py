"""Losing nothing: fifty concurrent writers, idempotent retries, and a failure injected
between the event and its audit row."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import func, select

from models import AuditEntry, CongressEvent, Role
from models.failpoints import armed
from tests.admin_api import committee_gid
from tests.conftest import DemoWorld, demo_cell_code, demo_user
from tests.progress_api import RECORD_MILESTONE, congress_of, record

CELL = demo_cell_code()
CELL_REPORTER = demo_user(Role.REPORTER, CELL)
WRITERS = 50


async def count(world: DemoWorld, model: type[CongressEvent] | type[AuditEntry]) -> int:
    async with world.engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(model)) or 0)


async def concurrent_notes(
    world: DemoWorld, expected_version: int | None
) -> list[tuple[int, dict[str, Any]]]:
    """Fifty writers at once, each recording its own note on the same milestone."""
    cell = await committee_gid(world, CELL)
    token = world.client.token_for(CELL_REPORTER)

    async def writer(number: int) -> tuple[int, dict[str, Any]]:
        response = await world.client.post(
            RECORD_MILESTONE,
            {"input": {"committeeId": cell, "milestone": "plan_issued", "status": "DONE",
                       "occurredOn": "2025-03-01", "note": f"writer {number}", "expectedVersion": expected_version}},
            token=token,
        )  # fmt: skip
        body = response.json()
        return response.status_code, body.get("data") or body

    return await asyncio.gather(*(writer(number) for number in range(WRITERS)))


async def test_fifty_concurrent_writers_all_land_in_a_clean_sequence(
    fresh_world: DemoWorld,
) -> None:
    events_before = await count(fresh_world, CongressEvent)
    answers = await concurrent_notes(fresh_world, expected_version=None)
    assert {status for status, _ in answers} == {200}
    results = [body["recordMilestone"] for _, body in answers]
    assert {result["__typename"] for result in results} == {"CongressPayload"}, results
    versions = sorted(result["recordedVersion"] for result in results)
    assert versions == list(range(2, 2 + WRITERS))
    assert await count(fresh_world, CongressEvent) == events_before + WRITERS
    congress = await congress_of(fresh_world, CELL_REPORTER, CELL)
    assert congress["version"] == 1 + WRITERS
    assert congress["history"]["totalCount"] == WRITERS
    last = congress["history"]["nodes"][0]
    assert congress["milestones"][0]["note"] == last["change"]["note"]


async def test_fifty_writers_of_one_version_one_wins_the_rest_see_the_current_state(
    fresh_world: DemoWorld,
) -> None:
    answers = await concurrent_notes(fresh_world, expected_version=1)
    assert {status for status, _ in answers} == {200}
    results = [body["recordMilestone"] for _, body in answers]
    kinds = sorted(result["__typename"] for result in results)
    assert kinds == ["CongressPayload"] + ["CongressVersionConflict"] * (WRITERS - 1)
    for conflict in (r for r in results if r["__typename"] == "CongressVersionConflict"):
        assert conflict["currentVersion"] == 2
        assert conflict["congress"]["version"] == 2


async def test_a_retry_with_the_same_key_returns_the_first_answer(fresh_world: DemoWorld) -> None:
    key = str(uuid.uuid4())
    first = await record(fresh_world, CELL_REPORTER, CELL, "plan_issued", idempotencyKey=key)
    # Someone else records in between; the retry must still answer as the first time.
    await record(fresh_world, CELL_REPORTER, CELL, "documents_drafted")
    again = await record(fresh_world, CELL_REPORTER, CELL, "plan_issued", idempotencyKey=key)
    assert (first["replayed"], again["replayed"]) == (False, True)
    assert again["recordedVersion"] == first["recordedVersion"] == 2
    assert (await congress_of(fresh_world, CELL_REPORTER, CELL))["history"]["totalCount"] == 2


async def test_the_same_key_with_different_input_is_refused(fresh_world: DemoWorld) -> None:
    key = str(uuid.uuid4())
    await record(fresh_world, CELL_REPORTER, CELL, "plan_issued", idempotencyKey=key)
    other = await record(
        fresh_world,
        CELL_REPORTER,
        CELL,
        "plan_issued",
        occurred_on="2025-03-02",
        idempotencyKey=key,
    )
    assert other == {
        "__typename": "Conflict",
        "message": "This idempotency key was already used for a different request.",
        "field": "idempotencyKey",
    }


async def test_concurrent_retries_with_one_key_record_once(fresh_world: DemoWorld) -> None:
    key = str(uuid.uuid4())
    results = await asyncio.gather(
        *(
            record(fresh_world, CELL_REPORTER, CELL, "plan_issued", idempotencyKey=key)
            for _ in range(10)
        )
    )
    assert {result["__typename"] for result in results} == {"CongressPayload"}
    assert {result["recordedVersion"] for result in results} == {2}
    assert sorted(result["replayed"] for result in results) == [False] + [True] * 9
    assert (await congress_of(fresh_world, CELL_REPORTER, CELL))["history"]["totalCount"] == 1


async def test_a_failure_between_the_event_and_its_audit_row_leaves_neither(
    fresh_world: DemoWorld,
) -> None:
    events_before = await count(fresh_world, CongressEvent)
    audit_before = await count(fresh_world, AuditEntry)
    with armed("congress.event_appended", RuntimeError("injected failure")):
        response = await fresh_world.client.post(
            RECORD_MILESTONE,
            {"input": {"committeeId": await committee_gid(fresh_world, CELL), "milestone": "plan_issued",
                       "status": "DONE", "occurredOn": "2025-03-01"}},
            token=fresh_world.client.token_for(CELL_REPORTER),
        )  # fmt: skip
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["message"] == "injected failure"
    assert await count(fresh_world, CongressEvent) == events_before
    assert await count(fresh_world, AuditEntry) == audit_before
    congress = await congress_of(fresh_world, CELL_REPORTER, CELL)
    assert (congress["version"], congress["status"]) == (1, "NOT_STARTED")
    # And the next attempt goes through normally.
    assert (await record(fresh_world, CELL_REPORTER, CELL, "plan_issued"))["recordedVersion"] == 2
