"""Checks on the stored tree shared by the import, move and merge tests."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from models.tree import Committee, CommitteeKind, child_path


class StoredCommittee(NamedTuple):
    id: int
    parent_id: int | None
    code: str
    name: str
    search_name: str
    kind: CommitteeKind
    depth: int
    path: str


Snapshot = list[StoredCommittee]


async def snapshot(engine: AsyncEngine) -> Snapshot:
    """Every committee row, every column, in id order."""
    async with AsyncSession(engine) as session:
        result = await session.execute(
            select(
                Committee.id,
                Committee.parent_id,
                Committee.code,
                Committee.name,
                Committee.search_name,
                Committee.kind,
                Committee.depth,
                Committee.path,
            ).order_by(Committee.id)
        )
        return [StoredCommittee(*committee) for committee in result]


def assert_paths_follow_parent_links(committees: Snapshot) -> None:
    """Each path and depth equals what the parent links alone say they should be."""
    parent_of = {committee.id: committee.parent_id for committee in committees}
    for committee in committees:
        ids_up: list[int] = []
        node: int | None = committee.id
        while node is not None:
            ids_up.append(node)
            assert len(ids_up) <= len(committees), f"cycle above {committee.code}"
            node = parent_of[node]
        expected_path: str | None = None
        for node_id in reversed(ids_up):
            expected_path = child_path(expected_path, node_id)
        assert (committee.path, committee.depth) == (expected_path, len(ids_up)), committee.code
