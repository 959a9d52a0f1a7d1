"""The tree changes too: units are created, renamed, moved, merged and closed, and every path
below follows in the same transaction."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Assignment, Committee, Congress, Role
from models.demo import CENTRAL_CODE, DEMO_PROVINCE_CODE
from models.tree_file import read_tree_file
from models.tree_import import import_tree
from tests.admin_api import (
    AUDIT_LOG,
    CLOSE_COMMITTEE,
    CREATE_COMMITTEE,
    CREATE_USER,
    MERGE_COMMITTEES,
    MOVE_COMMITTEE,
    RENAME_COMMITTEE,
    USERS,
    committee_gid,
    mutate,
)
from tests.conftest import (
    SIBLING_PROVINCE_CODE,
    SIBLING_VIEWER,
    DemoWorld,
    demo_cell_code,
    demo_commune_code,
    demo_user,
)
from tests.tree_checks import assert_paths_follow_parent_links, snapshot

CENTRAL_ADMIN = demo_user(Role.ADMIN, CENTRAL_CODE)
PROVINCE_ADMIN = demo_user(Role.ADMIN, DEMO_PROVINCE_CODE)
COMMUNE_ADMIN = demo_user(Role.ADMIN, demo_commune_code())
CHILD_CODES = "query($code: String!, $closed: Boolean!) { committee(code: $code) { children(first: 100, includeClosed: $closed) { nodes { code } } } }"


async def hanoi_communes(world: DemoWorld) -> list[str]:
    data = await world.client.query(
        PROVINCE_ADMIN, CHILD_CODES, code=DEMO_PROVINCE_CODE, closed=False
    )
    return [node["code"] for node in data["committee"]["children"]["nodes"]]


async def children_of(world: DemoWorld, code: str, *, closed: bool = False) -> list[str]:
    data = await world.client.query(CENTRAL_ADMIN, CHILD_CODES, code=code, closed=closed)
    return [node["code"] for node in data["committee"]["children"]["nodes"]]


async def test_create_a_cell_under_ones_commune(fresh_world: DemoWorld) -> None:
    result = await mutate(
        fresh_world, COMMUNE_ADMIN, CREATE_COMMITTEE, parentId=await committee_gid(fresh_world, demo_commune_code()),
        code="X00004-NEW", name="Chi bộ Khu phố Mới", kind="CELL",
    )  # fmt: skip
    assert result["__typename"] == "CommitteePayload"
    committee = result["committee"]
    assert committee["code"] == "X00004-NEW"
    assert committee["depth"] == 4
    assert committee["parent"] == {"code": demo_commune_code()}
    assert committee["congress"] is not None, "a new unit gets its congress in the current term"
    assert "X00004-NEW" in await children_of(fresh_world, demo_commune_code())
    assert_paths_follow_parent_links(await snapshot(fresh_world.engine))


async def test_create_refuses_a_taken_code_and_bad_input(fresh_world: DemoWorld) -> None:
    commune = await committee_gid(fresh_world, demo_commune_code())
    taken = await mutate(
        fresh_world,
        COMMUNE_ADMIN,
        CREATE_COMMITTEE,
        parentId=commune,
        code=demo_cell_code(),
        name="X",
        kind="CELL",
    )
    assert taken == {
        "__typename": "Conflict",
        "message": "A committee with this code already exists.",
        "field": "code",
    }
    bad_code = await mutate(
        fresh_world,
        COMMUNE_ADMIN,
        CREATE_COMMITTEE,
        parentId=commune,
        code="a b",
        name="X",
        kind="CELL",
    )
    assert (bad_code["__typename"], bad_code["field"]) == ("ValidationError", "code")
    no_name = await mutate(
        fresh_world,
        COMMUNE_ADMIN,
        CREATE_COMMITTEE,
        parentId=commune,
        code="OK-1",
        name=" ",
        kind="CELL",
    )
    assert (no_name["__typename"], no_name["field"]) == ("ValidationError", "name")


async def test_create_outside_the_subtree_is_not_found(fresh_world: DemoWorld) -> None:
    result = await mutate(
        fresh_world, COMMUNE_ADMIN, CREATE_COMMITTEE, parentId=await committee_gid(fresh_world, DEMO_PROVINCE_CODE),
        code="NEW-1", name="X", kind="COMMUNE",
    )  # fmt: skip
    assert result == {
        "__typename": "NotFound",
        "message": "No committee found.",
        "field": "parentId",
    }


async def test_rename_updates_search(fresh_world: DemoWorld) -> None:
    result = await mutate(
        fresh_world,
        COMMUNE_ADMIN,
        RENAME_COMMITTEE,
        id=await committee_gid(fresh_world, demo_cell_code()),
        name="Chi bộ Hoà Bình",
    )
    assert result["committee"]["name"] == "Chi bộ Hoà Bình"
    found = await fresh_world.client.query(
        COMMUNE_ADMIN, '{ committees(search: "hoa binh") { nodes { code } } }'
    )
    assert found["committees"]["nodes"] == [{"code": demo_cell_code()}]


async def test_move_a_commune_to_another_province_rewrites_every_path(
    fresh_world: DemoWorld,
) -> None:
    commune = await committee_gid(fresh_world, demo_commune_code())
    result = await mutate(
        fresh_world,
        CENTRAL_ADMIN,
        MOVE_COMMITTEE,
        id=commune,
        newParentId=await committee_gid(fresh_world, SIBLING_PROVINCE_CODE),
    )
    assert result["committee"]["parent"] == {"code": SIBLING_PROVINCE_CODE}
    assert_paths_follow_parent_links(await snapshot(fresh_world.engine))
    assert demo_commune_code() not in await hanoi_communes(fresh_world)
    seen_by_sibling = await fresh_world.client.query(
        SIBLING_VIEWER, "query($c: String!) { committee(code: $c) { code } }", c=demo_cell_code()
    )
    assert seen_by_sibling == {"committee": {"code": demo_cell_code()}}


async def test_the_move_audit_hides_the_old_parent_from_the_new_branch(
    fresh_world: DemoWorld,
) -> None:
    hcm_admin = "079100000001"
    created = await mutate(
        fresh_world, CENTRAL_ADMIN, CREATE_USER, subject=hcm_admin, name="Admin Hồ Chí Minh",
        committeeId=await committee_gid(fresh_world, SIBLING_PROVINCE_CODE), role="ADMIN",
    )  # fmt: skip
    assert created["__typename"] == "CreateUserPayload"
    await mutate(
        fresh_world, CENTRAL_ADMIN, MOVE_COMMITTEE, id=await committee_gid(fresh_world, demo_commune_code()),
        newParentId=await committee_gid(fresh_world, SIBLING_PROVINCE_CODE),
    )  # fmt: skip
    central = await fresh_world.client.query(CENTRAL_ADMIN, AUDIT_LOG)
    [move] = [e for e in central["auditLog"]["nodes"] if e["action"] == "committee.move"]
    assert move["before"]["parent"]["code"] == DEMO_PROVINCE_CODE
    assert move["after"]["parent"]["code"] == SIBLING_PROVINCE_CODE
    hcm = await fresh_world.client.query(hcm_admin, AUDIT_LOG)
    [seen] = [e for e in hcm["auditLog"]["nodes"] if e["action"] == "committee.move"]
    assert seen["before"] == {"parent": None}, "Hà Nội is outside the new branch's scope"
    assert seen["after"]["parent"]["code"] == SIBLING_PROVINCE_CODE
    hanoi = await fresh_world.client.query(PROVINCE_ADMIN, AUDIT_LOG)
    assert [e for e in hanoi["auditLog"]["nodes"] if e["action"] == "committee.move"] == []


async def test_move_under_own_descendant_is_refused(fresh_world: DemoWorld) -> None:
    before = await snapshot(fresh_world.engine)
    result = await mutate(
        fresh_world, PROVINCE_ADMIN, MOVE_COMMITTEE, id=await committee_gid(fresh_world, demo_commune_code()),
        newParentId=await committee_gid(fresh_world, demo_cell_code()),
    )  # fmt: skip
    assert (result["__typename"], result["field"]) == ("ValidationError", "newParentId")
    assert await snapshot(fresh_world.engine) == before


async def test_nobody_moves_their_own_scope_root(fresh_world: DemoWorld) -> None:
    result = await mutate(
        fresh_world, PROVINCE_ADMIN, MOVE_COMMITTEE, id=await committee_gid(fresh_world, DEMO_PROVINCE_CODE),
        newParentId=await committee_gid(fresh_world, DEMO_PROVINCE_CODE),
    )  # fmt: skip
    assert result["__typename"] == "Forbidden"


async def test_move_into_another_branch_is_not_found_for_a_province_admin(
    fresh_world: DemoWorld,
) -> None:
    result = await mutate(
        fresh_world, PROVINCE_ADMIN, MOVE_COMMITTEE, id=await committee_gid(fresh_world, demo_commune_code()),
        newParentId=await committee_gid(fresh_world, SIBLING_PROVINCE_CODE),
    )  # fmt: skip
    assert result == {
        "__typename": "NotFound",
        "message": "No committee found.",
        "field": "newParentId",
    }


async def test_merge_moves_children_congresses_and_officials_and_closes_the_unit(
    fresh_world: DemoWorld,
) -> None:
    source_code, target_code = (await hanoi_communes(fresh_world))[:2]
    source_children = await children_of(fresh_world, source_code)
    target_children = await children_of(fresh_world, target_code)
    result = await mutate(
        fresh_world, PROVINCE_ADMIN, MERGE_COMMITTEES, fromId=await committee_gid(fresh_world, source_code),
        intoId=await committee_gid(fresh_world, target_code),
    )  # fmt: skip
    assert result["__typename"] == "MergeCommitteesPayload"
    assert result["merged"]["closedAt"] is not None
    assert result["merged"]["mergedInto"] == {"code": target_code}
    assert set(await children_of(fresh_world, target_code)) == set(
        source_children + target_children
    )
    assert source_code not in await hanoi_communes(fresh_world)
    assert source_code in await children_of(fresh_world, DEMO_PROVINCE_CODE, closed=True)
    assert_paths_follow_parent_links(await snapshot(fresh_world.engine))
    async with fresh_world.engine.connect() as connection:
        source_id = await fresh_world.committee_id(source_code)
        target_id = await fresh_world.committee_id(target_code)
        # Both held a congress this term: the target keeps its own, the source keeps its record.
        assert await connection.scalar(
            select(Congress.id).where(Congress.committee_id == source_id)
        )
        officials = list(
            await connection.scalars(
                select(Assignment.committee_id).where(Assignment.committee_id == source_id)
            )
        )
        assert officials == []
        assert (
            await connection.scalar(
                select(Committee.merged_into_id).where(Committee.id == source_id)
            )
            == target_id
        )


async def test_the_merged_units_officials_serve_the_unit_it_joined(fresh_world: DemoWorld) -> None:
    source_code = demo_commune_code()
    target_code = next(code for code in await hanoi_communes(fresh_world) if code != source_code)
    await mutate(
        fresh_world, PROVINCE_ADMIN, MERGE_COMMITTEES, fromId=await committee_gid(fresh_world, source_code),
        intoId=await committee_gid(fresh_world, target_code),
    )  # fmt: skip
    viewer = await fresh_world.client.query(
        COMMUNE_ADMIN, "{ viewer { assignments { role committee { code } } } }"
    )
    assert viewer["viewer"]["assignments"] == [
        {"role": "ADMIN", "committee": {"code": target_code}}
    ]
    users = await fresh_world.client.query(PROVINCE_ADMIN, USERS, search=COMMUNE_ADMIN)
    [moved] = users["users"]["nodes"]
    assert moved["version"] == 2, "a role that moved is a change to the account"


async def test_merge_into_own_descendant_is_refused(fresh_world: DemoWorld) -> None:
    result = await mutate(
        fresh_world, PROVINCE_ADMIN, MERGE_COMMITTEES, fromId=await committee_gid(fresh_world, demo_commune_code()),
        intoId=await committee_gid(fresh_world, demo_cell_code()),
    )  # fmt: skip
    assert (result["__typename"], result["field"]) == ("ValidationError", "intoId")


async def test_close_needs_no_open_children_and_keeps_the_record(fresh_world: DemoWorld) -> None:
    commune = await committee_gid(fresh_world, demo_commune_code())
    busy = await mutate(fresh_world, PROVINCE_ADMIN, CLOSE_COMMITTEE, id=commune)
    assert (busy["__typename"], busy["field"]) == ("ValidationError", "id")
    cell = await committee_gid(fresh_world, demo_cell_code())
    for _ in range(2):  # closing twice is a no-op, not an error
        closed = await mutate(fresh_world, COMMUNE_ADMIN, CLOSE_COMMITTEE, id=cell)
        assert closed["committee"]["closedAt"] is not None
    assert demo_cell_code() not in await children_of(fresh_world, demo_commune_code())
    assert demo_cell_code() in await children_of(fresh_world, demo_commune_code(), closed=True)
    still = await fresh_world.client.query(
        COMMUNE_ADMIN,
        "query($c: String!) { committee(code: $c) { code congress { id } } }",
        c=demo_cell_code(),
    )
    assert still["committee"]["congress"] is not None
    renamed = await mutate(fresh_world, COMMUNE_ADMIN, RENAME_COMMITTEE, id=cell, name="Y")
    assert renamed["__typename"] == "ValidationError"


async def test_nobody_closes_their_own_scope_root(fresh_world: DemoWorld) -> None:
    result = await mutate(
        fresh_world,
        COMMUNE_ADMIN,
        CLOSE_COMMITTEE,
        id=await committee_gid(fresh_world, demo_commune_code()),
    )
    assert result["__typename"] == "Forbidden"


async def test_many_moves_and_merges_keep_every_path_consistent(fresh_world: DemoWorld) -> None:
    """Thousands of nodes: move communes between provinces, merge some, check every path."""
    provinces = await children_of(fresh_world, CENTRAL_CODE)
    communes = await hanoi_communes(fresh_world)
    for number, code in enumerate(communes[:20]):
        result = await mutate(
            fresh_world, CENTRAL_ADMIN, MOVE_COMMITTEE, id=await committee_gid(fresh_world, code),
            newParentId=await committee_gid(fresh_world, provinces[1 + number % 5]),
        )  # fmt: skip
        assert result["__typename"] == "CommitteePayload"
    for source, target in zip(communes[20:30], communes[30:40], strict=True):
        result = await mutate(
            fresh_world, CENTRAL_ADMIN, MERGE_COMMITTEES, fromId=await committee_gid(fresh_world, source),
            intoId=await committee_gid(fresh_world, target),
        )  # fmt: skip
        assert result["__typename"] == "MergeCommitteesPayload"
    # A province folded into another, as in 2025: all its communes follow.
    result = await mutate(
        fresh_world, CENTRAL_ADMIN, MERGE_COMMITTEES, fromId=await committee_gid(fresh_world, provinces[2]),
        intoId=await committee_gid(fresh_world, provinces[3]),
    )  # fmt: skip
    assert result["__typename"] == "MergeCommitteesPayload"
    committees = await snapshot(fresh_world.engine)
    assert len(committees) > 6000
    assert_paths_follow_parent_links(committees)


async def test_a_refusal_does_not_break_the_next_mutation_in_the_same_request(
    fresh_world: DemoWorld,
) -> None:
    cell = await committee_gid(fresh_world, demo_cell_code())
    document = """mutation($id: ID!) {
      bad: renameCommittee(input: {id: $id, name: "  "}) { __typename }
      good: renameCommittee(input: {id: $id, name: "Chi bộ Đoàn Kết"}) {
        __typename ... on CommitteePayload { committee { name } } } }"""
    data = await fresh_world.client.query(COMMUNE_ADMIN, document, id=cell)
    assert data["bad"] == {"__typename": "ValidationError"}
    assert data["good"] == {
        "__typename": "CommitteePayload",
        "committee": {"name": "Chi bộ Đoàn Kết"},
    }


async def test_crosswise_concurrent_moves_cannot_make_a_cycle(fresh_world: DemoWorld) -> None:
    first, second = (await hanoi_communes(fresh_world))[:2]
    a, b = await committee_gid(fresh_world, first), await committee_gid(fresh_world, second)
    results = await asyncio.gather(
        mutate(fresh_world, CENTRAL_ADMIN, MOVE_COMMITTEE, id=a, newParentId=b),
        mutate(fresh_world, CENTRAL_ADMIN, MOVE_COMMITTEE, id=b, newParentId=a),
    )
    assert sorted(result["__typename"] for result in results) == [
        "CommitteePayload",
        "ValidationError",
    ]
    assert_paths_follow_parent_links(await snapshot(fresh_world.engine))


async def test_a_merge_racing_a_move_of_its_target_keeps_paths_consistent(
    fresh_world: DemoWorld,
) -> None:
    communes = await hanoi_communes(fresh_world)
    source, target = (
        await committee_gid(fresh_world, communes[0]),
        await committee_gid(fresh_world, communes[1]),
    )
    elsewhere = await committee_gid(fresh_world, SIBLING_PROVINCE_CODE)
    results = await asyncio.gather(
        mutate(fresh_world, CENTRAL_ADMIN, MERGE_COMMITTEES, fromId=source, intoId=target),
        mutate(fresh_world, CENTRAL_ADMIN, MOVE_COMMITTEE, id=target, newParentId=elsewhere),
    )
    assert {result["__typename"] for result in results} == {
        "MergeCommitteesPayload",
        "CommitteePayload",
    }
    assert_paths_follow_parent_links(await snapshot(fresh_world.engine))


async def test_imported_units_hold_a_congress_in_the_current_term(
    fresh_world: DemoWorld, tmp_path: Path
) -> None:
    tree = tmp_path / "more.csv"
    tree.write_text(
        f"code,parent_code,name,kind\nNEW-CELL,{demo_commune_code()},Chi bộ Mới,cell\n",
        encoding="utf-8",
    )
    async with AsyncSession(fresh_world.engine) as session, session.begin():
        report = await import_tree(session, read_tree_file(tree))
    assert report.created == 1
    data = await fresh_world.client.query(
        COMMUNE_ADMIN, '{ committee(code: "NEW-CELL") { congress { status term { code } } } }'
    )
    assert data["committee"]["congress"] == {"status": "NOT_STARTED", "term": {"code": "2025-2030"}}
