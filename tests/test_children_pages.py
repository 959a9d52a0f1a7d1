"""A page of children for many parents at once equals the page read for each alone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from models import Committee, CommitteeKind
from models.database import create_session_factory
from models.text import search_key
from models.tree import child_path
from permissions import visible
from permissions.scope import Scope

# Root 1 with children 2..6; 2 has 7 children, 3 has 2, 4 has none, 5 has 1; some closed.
WIDTHS = {2: 7, 3: 2, 4: 0, 5: 1, 6: 3}
CLOSED = {9, 12, 15}


def _tree() -> list[dict[str, Any]]:
    root_path = child_path(None, 1)
    rows: list[dict[str, Any]] = [{"id": 1, "parent_id": None, "path": root_path, "depth": 1}]
    for parent_id in WIDTHS:
        rows.append(
            {
                "id": parent_id,
                "parent_id": 1,
                "path": child_path(root_path, parent_id),
                "depth": 2,
            }
        )
    next_id = 7
    for parent_id, width in WIDTHS.items():
        parent_path = child_path(root_path, parent_id)
        for _ in range(width):
            rows.append(
                {"id": next_id, "parent_id": parent_id,
                 "path": child_path(parent_path, next_id), "depth": 3}
            )  # fmt: skip
            next_id += 1
    for row in rows:
        row.update(
            code=f"C{row['id']}",
            name=f"Chi bộ {row['id']}",
            search_name=search_key(f"Chi bộ {row['id']}"),
            kind=CommitteeKind.CELL,
            closed_at=datetime(2025, 1, 1, tzinfo=UTC) if row["id"] in CLOSED else None,
        )
    return rows


def _expected(
    rows: list[dict[str, Any]],
    scope: Scope,
    parent_id: int,
    limit: int,
    after_id: int | None,
    include_closed: bool,
) -> list[int]:
    by_id = {row["id"]: row for row in rows}
    after_path = None
    if after_id is not None and after_id in by_id and scope.contains(by_id[after_id]["path"]):
        after_path = by_id[after_id]["path"]
    children = sorted(
        (
            row
            for row in rows
            if row["parent_id"] == parent_id
            and scope.contains(row["path"])
            and (include_closed or row["closed_at"] is None)
            and (after_id is None or (after_path is not None and row["path"] > after_path))
        ),
        key=lambda row: row["path"],
    )
    return [row["id"] for row in children[:limit]]


@pytest.mark.parametrize("include_closed", [False, True])
async def test_pages_of_many_parents_match_each_parent_alone(
    empty_engine: AsyncEngine, include_closed: bool
) -> None:
    rows = _tree()
    async with empty_engine.begin() as connection:
        await connection.execute(insert(Committee), rows)
    paths = {row["id"]: row["path"] for row in rows}
    scopes = [Scope((paths[1],)), Scope((paths[2], paths[5])), Scope((paths[8],))]
    parent_ids = [2, 3, 4, 5, 6]
    sessions = create_session_factory(empty_engine)
    async with sessions() as session:
        for scope in scopes:
            visible_parents = [i for i in parent_ids if scope.contains(paths[i])]
            for limit in (1, 2, 3, 8):
                for after_id in (None, 7, 8, 11, 16, 999):
                    pages = await visible.children_pages(
                        session,
                        scope,
                        parent_ids,
                        limit=limit,
                        after_id=after_id,
                        include_closed=include_closed,
                    )
                    for parent_id in parent_ids:
                        expected = (
                            _expected(rows, scope, parent_id, limit, after_id, include_closed)
                            if parent_id in visible_parents
                            else []
                        )
                        found = [committee.id for committee in pages[parent_id]]
                        assert found == expected, (scope, limit, after_id, parent_id)
