"""Tree mutations: who may act is the policy's, the writes live in models.tree_changes."""

from __future__ import annotations

from domain.unit_of_work import UnitOfWork
from graph.context import Context
from graph.resolvers.mutations import unit_of_work, visible_committee
from models import Committee, CommitteeKind, tree_changes
from models.refusals import Refusal
from models.tree_moves import lock_tree
from permissions import policy


async def lock_tree_for(unit: UnitOfWork) -> None:
    """The tree lock, then fresh loaders: every path this change reads is read after it."""
    await lock_tree(unit.session)
    unit.forget_reads()


async def create_committee(
    context: Context, parent_id: str, code: str, name: str, kind: CommitteeKind
) -> Committee | Refusal:
    unit = unit_of_work(context)

    async def change() -> Committee:
        await lock_tree_for(unit)
        parent = await visible_committee(context, parent_id, "parentId")
        policy.may_create_committee(unit.viewer, parent)
        return await tree_changes.create_committee(
            unit.session, unit.actor, parent=parent, code=code, name=name, kind=kind
        )

    return await unit.run(change)


async def rename_committee(
    context: Context, committee_id: str, name: str, expected_version: int | None
) -> Committee | Refusal:
    unit = unit_of_work(context)

    async def change() -> Committee:
        committee = await visible_committee(context, committee_id, "id")
        policy.may_rename_committee(unit.viewer, committee)
        await tree_changes.rename_committee(
            unit.session,
            unit.actor,
            committee=committee,
            name=name,
            expected_version=expected_version,
        )
        return committee

    return await unit.run(change)


async def move_committee(
    context: Context, committee_id: str, new_parent_id: str, expected_version: int | None
) -> Committee | Refusal:
    unit = unit_of_work(context)

    async def change() -> Committee:
        await lock_tree_for(unit)
        committee = await visible_committee(context, committee_id, "id")
        new_parent = await visible_committee(context, new_parent_id, "newParentId")
        policy.may_move_committee(unit.viewer, committee, new_parent)
        await tree_changes.move_committee(
            unit.session,
            unit.actor,
            committee=committee,
            new_parent=new_parent,
            expected_version=expected_version,
        )
        return committee

    return await unit.run(change)


async def merge_committees(
    context: Context, from_id: str, into_id: str, expected_version: int | None
) -> tuple[Committee, Committee] | Refusal:
    unit = unit_of_work(context)

    async def change() -> tuple[Committee, Committee]:
        await lock_tree_for(unit)
        source = await visible_committee(context, from_id, "fromId")
        target = await visible_committee(context, into_id, "intoId")
        policy.may_merge_committees(unit.viewer, source, target)
        await tree_changes.merge_committees(
            unit.session,
            unit.actor,
            source=source,
            target=target,
            expected_version=expected_version,
        )
        return source, target

    return await unit.run(change)


async def close_committee(
    context: Context, committee_id: str, expected_version: int | None
) -> Committee | Refusal:
    unit = unit_of_work(context)

    async def change() -> Committee:
        await lock_tree_for(unit)
        committee = await visible_committee(context, committee_id, "id")
        policy.may_close_committee(unit.viewer, committee)
        await tree_changes.close_committee(
            unit.session,
            unit.actor,
            committee=committee,
            expected_version=expected_version,
        )
        return committee

    return await unit.run(change)
