"""The one rule, from the outside: each official sees exactly their subtrees, nothing else."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from models import Committee, Role
from models.demo import CENTRAL_CODE, DEMO_PROVINCE_CODE
from models.tree import subtree_condition
from tests.conftest import (
    SIBLING_PROVINCE_CODE,
    SIBLING_VIEWER,
    TWO_SUBTREES_VIEWER,
    UNASSIGNED_VIEWER,
    DemoWorld,
    demo_cell_code,
    demo_commune_code,
    demo_user,
)

PAGE = """
query Page($after: String, $under: ID, $depth: Int, $search: String) {
  committees(first: 100, after: $after, under: $under, depth: $depth, search: $search) {
    totalCount
    edges { node { id code } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

COMMITTEE_BY_ID = "query($id: ID!) { committee(id: $id) { code } node(id: $id) { id } }"
COMMITTEE_BY_CODE = "query($code: String!) { committee(code: $code) { code } }"
LINEAGE = "query($code: String!) { committee(code: $code) { parent { code } ancestors { code } } }"


async def all_visible_codes(
    world: DemoWorld, subject: str, **filters: Any
) -> tuple[list[str], int]:
    """Page through `committees` to the end; returns the codes and the reported totalCount."""
    codes: list[str] = []
    after = None
    while True:
        data = await world.client.query(subject, PAGE, after=after, **filters)
        connection = data["committees"]
        codes += [edge["node"]["code"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            return codes, connection["totalCount"]
        after = connection["pageInfo"]["endCursor"]


async def codes_in_subtrees(world: DemoWorld, *root_codes: str) -> set[str]:
    """The ground truth, straight from SQL: every code in the path ranges of the roots."""
    codes: set[str] = set()
    async with world.engine.connect() as connection:
        for root_code in root_codes:
            root_path = await world.committee_path(root_code)
            rows = await connection.scalars(
                select(Committee.code).where(subtree_condition(Committee.path, root_path))
            )
            codes.update(rows)
    return codes


async def global_id(world: DemoWorld, code: str) -> str:
    data = await world.client.query(
        demo_user(Role.VIEWER, CENTRAL_CODE), COMMITTEE_BY_CODE.replace("code }", "id }"), code=code
    )
    return str(data["committee"]["id"])


@pytest.mark.parametrize(
    ("role", "place"),
    [
        (Role.VIEWER, CENTRAL_CODE),
        (Role.ADMIN, DEMO_PROVINCE_CODE),
        (Role.REPORTER, "commune"),
        (Role.VIEWER, "cell"),
    ],
)
async def test_each_level_sees_exactly_its_subtree(
    demo_world: DemoWorld, role: Role, place: str
) -> None:
    code = {"commune": demo_commune_code(), "cell": demo_cell_code()}.get(place, place)
    codes, total_count = await all_visible_codes(demo_world, demo_user(role, code))
    expected = await codes_in_subtrees(demo_world, code)
    assert set(codes) == expected
    assert len(codes) == len(expected) == total_count


async def test_sibling_province_sees_only_its_province(demo_world: DemoWorld) -> None:
    codes, total_count = await all_visible_codes(demo_world, SIBLING_VIEWER)
    assert set(codes) == await codes_in_subtrees(demo_world, SIBLING_PROVINCE_CODE)
    assert total_count == len(codes)
    assert DEMO_PROVINCE_CODE not in codes
    assert CENTRAL_CODE not in codes


async def test_two_assignments_see_both_subtrees(demo_world: DemoWorld) -> None:
    codes, total_count = await all_visible_codes(demo_world, TWO_SUBTREES_VIEWER)
    viewer = await demo_world.client.query(
        TWO_SUBTREES_VIEWER, "{ viewer { assignments { role committee { code } } } }"
    )
    roots = [assignment["committee"]["code"] for assignment in viewer["viewer"]["assignments"]]
    assert len(roots) == 2
    assert set(codes) == await codes_in_subtrees(demo_world, *roots)
    assert total_count == len(codes)


async def test_user_without_assignments_sees_nothing(demo_world: DemoWorld) -> None:
    codes, total_count = await all_visible_codes(demo_world, UNASSIGNED_VIEWER)
    assert codes == []
    assert total_count == 0


async def test_committee_from_another_subtree_is_null_like_a_missing_one(
    demo_world: DemoWorld,
) -> None:
    hanoi_commune = await global_id(demo_world, demo_commune_code())
    missing = "Q29tbWl0dGVlOjk5OTk5OTk5"  # Committee:99999999
    hidden = await demo_world.client.post(
        COMMITTEE_BY_ID, {"id": hanoi_commune}, token=demo_world.client.token_for(SIBLING_VIEWER)
    )
    absent = await demo_world.client.post(
        COMMITTEE_BY_ID, {"id": missing}, token=demo_world.client.token_for(SIBLING_VIEWER)
    )
    assert hidden.status_code == absent.status_code == 200
    assert hidden.json() == absent.json() == {"data": {"committee": None, "node": None}}


async def test_committee_by_code_from_another_subtree_is_null(demo_world: DemoWorld) -> None:
    for code in (DEMO_PROVINCE_CODE, CENTRAL_CODE, demo_cell_code(), "NO-SUCH-CODE"):
        data = await demo_world.client.query(SIBLING_VIEWER, COMMITTEE_BY_CODE, code=code)
        assert data == {"committee": None}


async def test_parent_is_null_at_the_scope_root_and_ancestors_stop_there(
    demo_world: DemoWorld,
) -> None:
    commune_viewer = demo_user(Role.VIEWER, demo_commune_code())
    at_root = await demo_world.client.query(commune_viewer, LINEAGE, code=demo_commune_code())
    assert at_root == {"committee": {"parent": None, "ancestors": []}}
    below = await demo_world.client.query(commune_viewer, LINEAGE, code=demo_cell_code())
    assert below == {
        "committee": {
            "parent": {"code": demo_commune_code()},
            "ancestors": [{"code": demo_commune_code()}],
        }
    }


async def test_central_viewer_sees_the_whole_lineage(demo_world: DemoWorld) -> None:
    data = await demo_world.client.query(
        demo_user(Role.VIEWER, CENTRAL_CODE), LINEAGE, code=demo_cell_code()
    )
    assert data["committee"]["parent"] == {"code": demo_commune_code()}
    assert [a["code"] for a in data["committee"]["ancestors"]] == [
        CENTRAL_CODE,
        DEMO_PROVINCE_CODE,
        demo_commune_code(),
    ]
    root = await demo_world.client.query(
        demo_user(Role.VIEWER, CENTRAL_CODE), LINEAGE, code=CENTRAL_CODE
    )
    assert root == {"committee": {"parent": None, "ancestors": []}}


async def test_search_ignores_accents_and_case(demo_world: DemoWorld) -> None:
    codes, _ = await all_visible_codes(
        demo_world, demo_user(Role.VIEWER, CENTRAL_CODE), search="THANH UY ha noi"
    )
    assert codes == [DEMO_PROVINCE_CODE]
    accented, _ = await all_visible_codes(
        demo_world, demo_user(Role.VIEWER, CENTRAL_CODE), search="Thành ủy Hà Nội"
    )
    assert accented == [DEMO_PROVINCE_CODE]


async def test_search_finds_nothing_outside_the_scope(demo_world: DemoWorld) -> None:
    # "ba dinh" names a Hà Nội ward; the Hồ Chí Minh viewer must not learn that it exists.
    central_codes, _ = await all_visible_codes(
        demo_world, demo_user(Role.VIEWER, CENTRAL_CODE), search="ba dinh"
    )
    assert central_codes
    sibling_codes, total_count = await all_visible_codes(
        demo_world, SIBLING_VIEWER, search="ba dinh"
    )
    assert sibling_codes == []
    assert total_count == 0
    in_scope = await codes_in_subtrees(demo_world, SIBLING_PROVINCE_CODE)
    everywhere, _ = await all_visible_codes(demo_world, SIBLING_VIEWER, search="chi bo")
    assert everywhere
    assert set(everywhere) <= in_scope


async def test_under_another_subtree_is_the_same_error_as_a_missing_node(
    demo_world: DemoWorld,
) -> None:
    hanoi = await global_id(demo_world, DEMO_PROVINCE_CODE)
    hidden = await demo_world.client.query_errors(SIBLING_VIEWER, PAGE, under=hanoi)
    absent = await demo_world.client.query_errors(
        SIBLING_VIEWER, PAGE, under="Q29tbWl0dGVlOjk5OTk5OTk5"
    )
    assert [e["message"] for e in hidden] == [e["message"] for e in absent]
    assert (
        hidden[0]["extensions"]
        == absent[0]["extensions"]
        == {"code": "NOT_FOUND", "argument": "under"}
    )


async def test_under_and_depth_narrow_the_scope(demo_world: DemoWorld) -> None:
    hanoi = await global_id(demo_world, DEMO_PROVINCE_CODE)
    codes, total_count = await all_visible_codes(
        demo_world, demo_user(Role.VIEWER, CENTRAL_CODE), under=hanoi, depth=3
    )
    async with demo_world.engine.connect() as connection:
        expected = set(
            await connection.scalars(
                select(Committee.code).where(
                    Committee.parent_id == await demo_world.committee_id(DEMO_PROVINCE_CODE)
                )
            )
        )
    assert set(codes) == expected
    assert total_count == len(expected)


async def test_children_page_through_every_child_once(demo_world: DemoWorld) -> None:
    query = """query($code: String!, $after: String) { committee(code: $code) {
        children(first: 7, after: $after) { totalCount edges { node { code } } pageInfo { hasNextPage endCursor } } } }"""
    subject = demo_user(Role.VIEWER, DEMO_PROVINCE_CODE)
    seen: list[str] = []
    after = None
    while True:
        children = (
            await demo_world.client.query(subject, query, code=DEMO_PROVINCE_CODE, after=after)
        )["committee"]["children"]
        seen += [edge["node"]["code"] for edge in children["edges"]]
        if not children["pageInfo"]["hasNextPage"]:
            break
        after = children["pageInfo"]["endCursor"]
    async with demo_world.engine.connect() as connection:
        count = await connection.scalar(
            select(func.count()).where(
                Committee.parent_id == await demo_world.committee_id(DEMO_PROVINCE_CODE)
            )
        )
    assert len(seen) == len(set(seen)) == count == children["totalCount"]


async def test_a_cursor_from_another_subtree_reveals_nothing(demo_world: DemoWorld) -> None:
    central = demo_user(Role.VIEWER, CENTRAL_CODE)
    first_page = await demo_world.client.query(
        central, PAGE, under=await global_id(demo_world, DEMO_PROVINCE_CODE)
    )
    hanoi_cursor = first_page["committees"]["pageInfo"]["endCursor"]
    from_hidden = await demo_world.client.query(SIBLING_VIEWER, PAGE, after=hanoi_cursor)
    from_missing = await demo_world.client.query(SIBLING_VIEWER, PAGE, after="Y3Vyc29yOjk5OTk5OTk5")
    assert from_hidden["committees"]["edges"] == from_missing["committees"]["edges"] == []
    assert from_hidden == from_missing


async def test_congress_is_visible_only_with_its_committee(demo_world: DemoWorld) -> None:
    query = "query($code: String!) { committee(code: $code) { congress { id deadline term { code isCurrent } } } }"
    data = await demo_world.client.query(
        demo_user(Role.VIEWER, demo_commune_code()), query, code=demo_cell_code()
    )
    congress = data["committee"]["congress"]
    assert congress["term"] == {"code": "2025-2030", "isCurrent": True}
    assert congress["deadline"] == "2025-06-30"
    named = await demo_world.client.query(
        demo_user(Role.VIEWER, demo_commune_code()),
        query.replace("congress {", 'congress(term: "1990-1995") {'),
        code=demo_cell_code(),
    )
    assert named == {"committee": {"congress": None}}
