"""Every write takes one road (domain/unit_of_work.py): each committed change a reader could
see appends its change-feed row in the same transaction, and a refused, replayed or
rolled-back write appends none. Driven over HTTP as officials would."""

from __future__ import annotations

import ast
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Role
from models.change_feed import ChangeFeedEntry, changes_after
from models.demo import CENTRAL_CODE
from tests.admin_api import (
    DEACTIVATE_USER,
    RENAME_COMMITTEE,
    REVOKE_ROLE,
    committee_gid,
    mutate,
    user_gid,
)
from tests.conftest import DemoWorld, demo_cell_code, demo_commune_code, demo_user
from tests.progress_api import GOOD_RESULTS, RECORD_RESULTS, SET_DEADLINE, hold_congress, record
from tests.test_difficulties import comment, escalate, raised_id, reporter

PROVINCE = "T01"
COMMUNE_DEPTH = 3
REPO = Path(__file__).resolve().parent.parent


async def feed_position(world: DemoWorld) -> int:
    async with world.engine.connect() as connection:
        return int(await connection.scalar(select(func.max(ChangeFeedEntry.position))) or 0)


async def feed_after(world: DemoWorld, position: int) -> list[tuple[str, int, dict[str, Any]]]:
    async with AsyncSession(world.engine) as session:
        rows = await changes_after(session, position, 1000)
        return [(row.kind, row.committee_id, row.payload) for row in rows]


async def test_progress_writes_append_one_row_each_with_what_a_live_reader_shows(
    fresh_world: DemoWorld,
) -> None:
    cell = demo_cell_code()
    cell_id = await fresh_world.committee_id(cell)
    start = await feed_position(fresh_world)
    result = await record(fresh_world, reporter(cell), cell, "plan_issued")
    [(kind, committee_id, payload)] = await feed_after(fresh_world, start)
    assert (kind, committee_id) == ("MILESTONE", cell_id)
    assert payload["version"] == result["recordedVersion"]
    assert payload["milestone"] == "plan_issued"
    assert payload["milestoneStatus"] == "done"
    assert payload["status"] == result["congress"]["status"].lower()

    start = await feed_position(fresh_world)
    await hold_congress(fresh_world, reporter(cell), cell)
    results = await mutate(
        fresh_world, reporter(cell), RECORD_RESULTS,
        committeeId=await committee_gid(fresh_world, cell), **GOOD_RESULTS,
    )  # fmt: skip
    assert results["__typename"] == "CongressPayload", results
    kinds = [kind for kind, _committee, _payload in await feed_after(fresh_world, start)]
    # plan_issued was already done: the walk records the next four, then the results.
    assert kinds == ["MILESTONE"] * 4 + ["RESULTS"]


async def test_a_level_deadline_appends_a_row_for_each_congress_it_changed(
    fresh_world: DemoWorld,
) -> None:
    admin = demo_user(Role.ADMIN, PROVINCE)
    start = await feed_position(fresh_world)
    data = await fresh_world.client.query(
        admin, SET_DEADLINE,
        input={"committeeId": await committee_gid(fresh_world, PROVINCE), "deadline": "2025-06-30",
               "depth": COMMUNE_DEPTH},
    )  # fmt: skip
    changed = data["setDeadline"]["updated"]
    rows = await feed_after(fresh_world, start)
    assert changed > 1
    assert [kind for kind, _c, _p in rows] == ["DEADLINE"] * changed
    assert {payload["deadline"] for _k, _c, payload in rows} == {"2025-06-30"}
    assert len({committee for _k, committee, _p in rows}) == changed


async def test_difficulty_steps_append_rows_that_name_the_level_handling_it(
    fresh_world: DemoWorld,
) -> None:
    cell, commune = demo_cell_code(), demo_commune_code()
    start = await feed_position(fresh_world)
    difficulty = await raised_id(fresh_world, reporter(cell), cell)
    assert (await comment(fresh_world, reporter(cell), difficulty))["__typename"] == (
        "DifficultyPayload"
    )
    assert (await escalate(fresh_world, reporter(cell), difficulty))["__typename"] == (
        "DifficultyPayload"
    )
    rows = await feed_after(fresh_world, start)
    assert [kind for kind, _c, _p in rows] == [
        "DIFFICULTY_RAISED",
        "DIFFICULTY_COMMENTED",
        "DIFFICULTY_ESCALATED",
    ]
    cell_id, commune_id = (
        await fresh_world.committee_id(cell),
        await fresh_world.committee_id(commune),
    )
    assert {committee for _k, committee, _p in rows} == {cell_id}
    escalated = rows[-1][2]
    assert escalated["handlingCommitteeId"] == commune_id
    assert escalated["handlingCommitteePath"] == await fresh_world.committee_path(commune)
    assert [payload["version"] for _k, _c, payload in rows] == [1, 2, 3]


async def test_refused_and_replayed_writes_append_nothing(fresh_world: DemoWorld) -> None:
    cell = demo_cell_code()
    key = str(uuid.uuid4())
    first = await record(fresh_world, reporter(cell), cell, "plan_issued", idempotencyKey=key)
    start = await feed_position(fresh_world)
    again = await record(fresh_world, reporter(cell), cell, "plan_issued", idempotencyKey=key)
    assert again["replayed"] is True
    assert again["recordedVersion"] == first["recordedVersion"]
    stale = await record(fresh_world, reporter(cell), cell, "documents_drafted", expectedVersion=1)
    assert stale["__typename"] == "CongressVersionConflict"
    out_of_order = await record(fresh_world, reporter(cell), cell, "congress_held")
    assert out_of_order["__typename"] == "ValidationError"
    not_allowed = await record(fresh_world, demo_user(Role.VIEWER, cell), cell, "documents_drafted")
    assert not_allowed["__typename"] == "Forbidden"
    assert await feed_after(fresh_world, start) == []


async def test_access_and_tree_changes_tell_every_worker(fresh_world: DemoWorld) -> None:
    admin = demo_user(Role.ADMIN, CENTRAL_CODE)
    cell = demo_cell_code()
    cell_viewer, cell_reporter = demo_user(Role.VIEWER, cell), demo_user(Role.REPORTER, cell)
    start = await feed_position(fresh_world)
    revoked = await mutate(
        fresh_world, admin, REVOKE_ROLE,
        userId=await user_gid(fresh_world, cell_viewer), committeeId=await committee_gid(fresh_world, cell),
    )  # fmt: skip
    assert revoked["__typename"] == "RolePayload", revoked
    deactivated = await mutate(
        fresh_world, admin, DEACTIVATE_USER, userId=await user_gid(fresh_world, cell_reporter)
    )
    assert deactivated["__typename"] == "UserActivePayload", deactivated
    renamed = await mutate(
        fresh_world, admin, RENAME_COMMITTEE,
        id=await committee_gid(fresh_world, cell), name="Chi bộ mới",
    )  # fmt: skip
    assert renamed["__typename"] == "CommitteePayload", renamed
    rows = await feed_after(fresh_world, start)
    assert [kind for kind, _c, _p in rows] == ["ACCESS", "ACCESS", "TREE"]
    cell_id = await fresh_world.committee_id(cell)
    assert {committee for _k, committee, _p in rows} == {cell_id}


def test_no_write_rule_lives_outside_the_policy() -> None:
    """Role checks are asked of permissions/policy.py only: no resolver, no domain module
    and no model compares roles itself (reads use scopes, not roles)."""
    offenders = []
    for folder in ("graph/resolvers", "graph/schema/mutations", "domain", "models"):
        for source in sorted((REPO / folder).rglob("*.py")):
            tree = ast.parse(source.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.Attribute) and node.attr in {"has_role_at", "role_at"}:
                    offenders.append(f"{source.relative_to(REPO)}:{node.lineno}")
    assert offenders == []
