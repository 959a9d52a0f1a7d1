"""Moving a subtree: one UPDATE over the path range rewrites every path and depth below."""

from __future__ import annotations

from typing import Final, cast

from sqlalchemy import Integer, String, Table, case, func, literal, select
from sqlalchemy import update as sql_update
from sqlalchemy.ext.asyncio import AsyncSession

from models.rollups import Chain, ancestor_chain, shift_subtrees
from models.tree import (
    Committee,
    child_path,
    is_in_subtree,
    path_depth,
    path_ids,
    subtree_condition,
)

_COMMITTEE: Final = cast(Table, Committee.__table__)


async def move_subtree(session: AsyncSession, committee_id: int, new_parent_id: int | None) -> None:
    """Put a committee, with everything below it, under `new_parent_id` (None: make it a root).

    One UPDATE over the subtree's path range rewrites the path and depth of the committee
    and all its descendants, and the committee's parent; what the subtree counts for in
    the rollups moves from the old ancestors to the new ones. Raises ValueError if either
    committee does not exist or the new parent is the committee itself or below it. Does not
    commit; committees already loaded in `session` may be stale afterwards.
    """
    old_path = await session.scalar(select(Committee.path).where(Committee.id == committee_id))
    if old_path is None:
        raise ValueError(f"no committee with id {committee_id}")
    new_parent_path: str | None = None
    if new_parent_id is not None:
        new_parent_path = await session.scalar(
            select(Committee.path).where(Committee.id == new_parent_id)
        )
        if new_parent_path is None:
            raise ValueError(f"no committee with id {new_parent_id}")
        if is_in_subtree(new_parent_path, old_path):
            raise ValueError(
                f"cannot move committee {committee_id} under committee {new_parent_id}, "
                "which is itself or one of its descendants"
            )
    new_path = child_path(new_parent_path, committee_id)
    if new_path == old_path:
        return
    await shift_subtrees(
        session,
        Committee.id == committee_id,
        old=Chain(ancestor_chain(path_ids(old_path), including_self=False), path_depth(old_path)),
        new=Chain(ancestor_chain(path_ids(new_path), including_self=False), path_depth(new_path)),
    )
    path = _COMMITTEE.c.path
    await session.execute(
        sql_update(_COMMITTEE)
        .where(subtree_condition(path, old_path))
        .values(
            # new prefix + the part of each path below the moved committee's old prefix
            path=literal(new_path, String) + func.substr(path, len(old_path) + 1),
            depth=_COMMITTEE.c.depth + (path_depth(new_path) - path_depth(old_path)),
            parent_id=case(
                (_COMMITTEE.c.id == committee_id, literal(new_parent_id, Integer)),
                else_=_COMMITTEE.c.parent_id,
            ),
        )
    )


async def move_children(session: AsyncSession, source: Committee, target: Committee) -> int:
    """Move every child of `source` (with its subtree) under `target` in one UPDATE.

    The caller has checked that `target` is not inside `source`'s subtree. Returns how many
    children moved.
    """
    children = await session.scalar(
        select(func.count()).select_from(_COMMITTEE).where(_COMMITTEE.c.parent_id == source.id)
    )
    await shift_subtrees(
        session,
        Committee.parent_id == source.id,
        old=Chain(ancestor_chain(path_ids(source.path), including_self=True), source.depth + 1),
        new=Chain(ancestor_chain(path_ids(target.path), including_self=True), target.depth + 1),
    )
    path = _COMMITTEE.c.path
    await session.execute(
        sql_update(_COMMITTEE)
        # The subtree of `source` without `source` itself.
        .where(subtree_condition(path, source.path), path != source.path)
        .values(
            path=literal(target.path, String) + func.substr(path, len(source.path) + 1),
            depth=_COMMITTEE.c.depth + (target.depth - source.depth),
            parent_id=case(
                (_COMMITTEE.c.parent_id == source.id, literal(target.id, Integer)),
                else_=_COMMITTEE.c.parent_id,
            ),
        )
    )
    return int(children or 0)


# Any fixed number: the key of the one advisory lock that orders structural tree changes.
TREE_LOCK_KEY = 7_300_001


async def lock_tree(session: AsyncSession) -> None:
    """Take the tree's write lock before reading what a structural change depends on.

    A move rewrites the paths of a whole subtree while bumping only the moved committee's
    version, so two changes that read paths (move, merge, create, close, import) must not
    overlap: each one's reads have to come after the previous one's commit. PostgreSQL: a
    transaction-scoped advisory lock. SQLite: `BEGIN IMMEDIATE`, which takes the database
    write lock before the first read (busy_timeout makes others wait for it).
    """
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        await connection.execute(select(func.pg_advisory_xact_lock(TREE_LOCK_KEY)))
        return
    driver = (await connection.get_raw_connection()).driver_connection
    if driver is not None and not driver.in_transaction:
        await connection.exec_driver_sql("BEGIN IMMEDIATE")
