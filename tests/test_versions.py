"""Stale versions, repeated submissions, races and wrong types on every administrative
mutation: each gets a clear answer and changes nothing it should not."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from models import AuditEntry, Role
from models.demo import DEMO_PROVINCE_CODE
from tests.admin_api import (
    CLOSE_COMMITTEE,
    CREATE_COMMITTEE,
    CREATE_USER,
    DEACTIVATE_USER,
    GRANT_ROLE,
    MERGE_COMMITTEES,
    MOVE_COMMITTEE,
    REACTIVATE_USER,
    RENAME_COMMITTEE,
    REVOKE_ROLE,
    committee_gid,
    mutate,
    user_gid,
)
from tests.conftest import DemoWorld, demo_cell_code, demo_commune_code, demo_user
from tests.tree_checks import snapshot

PROVINCE_ADMIN = demo_user(Role.ADMIN, DEMO_PROVINCE_CODE)
CELL_VIEWER = demo_user(Role.VIEWER, demo_cell_code())
VERSIONS = "query($c: String!) { committee(code: $c) { name version } }"


async def audit_rows(world: DemoWorld) -> int:
    async with world.engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(AuditEntry)) or 0)


async def version_of(world: DemoWorld, code: str) -> int:
    data = await world.client.query(PROVINCE_ADMIN, VERSIONS, c=code)
    return int(data["committee"]["version"])


async def test_rename_with_the_read_version_succeeds_and_a_repeat_is_a_conflict(
    fresh_world: DemoWorld,
) -> None:
    cell = await committee_gid(fresh_world, demo_cell_code())
    read = await version_of(fresh_world, demo_cell_code())
    first = await mutate(
        fresh_world,
        PROVINCE_ADMIN,
        RENAME_COMMITTEE,
        id=cell,
        name="Chi bộ Một",
        expectedVersion=read,
    )
    assert first["__typename"] == "CommitteePayload"
    assert await version_of(fresh_world, demo_cell_code()) == read + 1
    repeat = await mutate(
        fresh_world,
        PROVINCE_ADMIN,
        RENAME_COMMITTEE,
        id=cell,
        name="Chi bộ Hai",
        expectedVersion=read,
    )
    assert repeat == {
        "__typename": "VersionConflict",
        "message": f"This committee changed since you read it: it is now at version {read + 1}.",
    }
    data = await fresh_world.client.query(PROVINCE_ADMIN, VERSIONS, c=demo_cell_code())
    assert data["committee"] == {"name": "Chi bộ Một", "version": read + 1}


async def test_version_conflict_reports_the_current_version(fresh_world: DemoWorld) -> None:
    cell = await committee_gid(fresh_world, demo_cell_code())
    result = await fresh_world.client.query(
        PROVINCE_ADMIN,
        'mutation($id: ID!) { renameCommittee(input: {id: $id, name: "X", expectedVersion: 99}) { ... on VersionConflict { currentVersion } } }',
        id=cell,
    )
    assert result["renameCommittee"] == {
        "currentVersion": await version_of(fresh_world, demo_cell_code())
    }


@pytest.mark.parametrize("mutation", ["move", "close", "merge"])
async def test_stale_tree_changes_change_nothing(fresh_world: DemoWorld, mutation: str) -> None:
    cell = await committee_gid(fresh_world, demo_cell_code())
    before = await snapshot(fresh_world.engine)
    audit_before = await audit_rows(fresh_world)
    stale = await version_of(fresh_world, demo_cell_code()) - 1
    documents: dict[str, tuple[str, dict[str, Any]]] = {
        "move": (
            MOVE_COMMITTEE,
            {"id": cell, "newParentId": await committee_gid(fresh_world, DEMO_PROVINCE_CODE)},
        ),
        "close": (CLOSE_COMMITTEE, {"id": cell}),
        "merge": (
            MERGE_COMMITTEES,
            {
                "fromId": cell,
                "intoId": await committee_gid(fresh_world, f"{demo_commune_code()}-002"),
            },
        ),
    }
    document, fields = documents[mutation]
    result = await mutate(fresh_world, PROVINCE_ADMIN, document, **fields, expectedVersion=stale)
    assert result["__typename"] == "VersionConflict"
    assert await snapshot(fresh_world.engine) == before
    assert await audit_rows(fresh_world) == audit_before


@pytest.mark.parametrize("mutation", ["grant", "revoke", "deactivate", "reactivate"])
async def test_stale_account_changes_change_nothing(fresh_world: DemoWorld, mutation: str) -> None:
    user = await user_gid(fresh_world, CELL_VIEWER)
    cell = await committee_gid(fresh_world, demo_cell_code())
    documents: dict[str, tuple[str, dict[str, Any]]] = {
        "grant": (GRANT_ROLE, {"userId": user, "committeeId": cell, "role": "REPORTER"}),
        "revoke": (REVOKE_ROLE, {"userId": user, "committeeId": cell}),
        "deactivate": (DEACTIVATE_USER, {"userId": user}),
        "reactivate": (REACTIVATE_USER, {"userId": user}),
    }
    document, fields = documents[mutation]
    audit_before = await audit_rows(fresh_world)
    result = await mutate(fresh_world, PROVINCE_ADMIN, document, **fields, expectedVersion=0)
    assert result["__typename"] == "VersionConflict"
    assert await audit_rows(fresh_world) == audit_before
    # The account still signs in with its role intact.
    viewer = await fresh_world.client.query(
        CELL_VIEWER, "{ viewer { assignments { role committee { code } } } }"
    )
    assert viewer["viewer"]["assignments"] == [
        {"role": "VIEWER", "committee": {"code": demo_cell_code()}}
    ]


async def test_concurrent_writers_of_one_version_one_wins(fresh_world: DemoWorld) -> None:
    cell = await committee_gid(fresh_world, demo_cell_code())
    read = await version_of(fresh_world, demo_cell_code())
    writers = [
        mutate(
            fresh_world,
            PROVINCE_ADMIN,
            RENAME_COMMITTEE,
            id=cell,
            name=f"Chi bộ {n}",
            expectedVersion=read,
        )
        for n in range(10)
    ]
    results = await asyncio.gather(*writers)
    kinds = sorted(result["__typename"] for result in results)
    assert kinds == ["CommitteePayload"] + ["VersionConflict"] * 9
    assert await version_of(fresh_world, demo_cell_code()) == read + 1


WRONG_TYPES = [
    (CREATE_USER, {"subject": "001", "name": "X", "committeeId": "x", "role": "KING"}),
    (GRANT_ROLE, {"userId": "x", "committeeId": "x", "role": "VIEWER", "expectedVersion": "one"}),
    (REVOKE_ROLE, {"userId": "x"}),
    (DEACTIVATE_USER, {"userId": "x", "expectedVersion": 1.5}),
    (REACTIVATE_USER, {"userId": None}),
    (CREATE_COMMITTEE, {"parentId": "x", "code": "C", "name": "N", "kind": "PLANET"}),
    (RENAME_COMMITTEE, {"id": "x", "name": ["a", "list"]}),
    (MOVE_COMMITTEE, {"id": "x", "newParentId": {"an": "object"}}),
    (MERGE_COMMITTEES, {"fromId": "x", "intoId": "x", "expectedVersion": "2"}),
    (CLOSE_COMMITTEE, {"id": "x", "expectedVersion": 2**40}),
]


@pytest.mark.parametrize(
    ("document", "fields"),
    WRONG_TYPES,
    ids=[
        d.split("(")[1].split(":")[0].strip("$ ") + str(i) for i, (d, _) in enumerate(WRONG_TYPES)
    ],
)
async def test_wrong_types_are_refused_and_change_nothing(
    demo_world: DemoWorld, document: str, fields: dict[str, Any]
) -> None:
    audit_before = await audit_rows(demo_world)
    errors = await demo_world.client.query_errors(PROVINCE_ADMIN, document, input=fields)
    assert errors[0]["message"].startswith("Variable '$input' has invalid value")
    assert await audit_rows(demo_world) == audit_before
