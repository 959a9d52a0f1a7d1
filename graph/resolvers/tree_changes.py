"""Tree mutations: who may act is checked here, the writes live in models.tree_changes."""

from __future__ import annotations

from graph.context import Context
from graph.resolvers.mutations import (
    actor_of,
    require_admin_above,
    require_admin_at,
    run_mutation,
    visible_committee,
)
from models import Committee, CommitteeKind, tree_changes
from models.refusals import Refusal
from models.tree_moves import lock_tree


async def lock_tree_for(context: Context) -> None:
    """The tree lock, then fresh loaders: every path this change reads is read after it."""
    await lock_tree(context.session)
    context.reset_loaders()


async def create_committee(
    context: Context, parent_id: str, code: str, name: str, kind: CommitteeKind
) -> Committee | Refusal:
    async def change() -> Committee:
        await lock_tree_for(context)
        parent = await visible_committee(context, parent_id, "parentId")
        require_admin_at(context, parent)
        return await tree_changes.create_committee(
            context.session, actor_of(context), parent=parent, code=code, name=name, kind=kind
        )

    return await run_mutation(context, change)


async def rename_committee(
    context: Context, committee_id: str, name: str, expected_version: int | None
) -> Committee | Refusal:
    async def change() -> Committee:
        committee = await visible_committee(context, committee_id, "id")
        require_admin_at(context, committee)
        await tree_changes.rename_committee(
            context.session,
            actor_of(context),
            committee=committee,
            name=name,
            expected_version=expected_version,
        )
        return committee

    return await run_mutation(context, change)


async def move_committee(
    context: Context, committee_id: str, new_parent_id: str, expected_version: int | None
) -> Committee | Refusal:
    async def change() -> Committee:
        await lock_tree_for(context)
        committee = await visible_committee(context, committee_id, "id")
        new_parent = await visible_committee(context, new_parent_id, "newParentId")
        require_admin_above(context, committee)
        require_admin_at(context, new_parent)
        await tree_changes.move_committee(
            context.session,
            actor_of(context),
            committee=committee,
            new_parent=new_parent,
            expected_version=expected_version,
        )
        return committee

    return await run_mutation(context, change)


async def merge_committees(
    context: Context, from_id: str, into_id: str, expected_version: int | None
) -> tuple[Committee, Committee] | Refusal:
    async def change() -> tuple[Committee, Committee]:
        await lock_tree_for(context)
        source = await visible_committee(context, from_id, "fromId")
        target = await visible_committee(context, into_id, "intoId")
        require_admin_above(context, source)
        require_admin_at(context, target)
        await tree_changes.merge_committees(
            context.session,
            actor_of(context),
            source=source,
            target=target,
            expected_version=expected_version,
        )
        return source, target

    return await run_mutation(context, change)


async def close_committee(
    context: Context, committee_id: str, expected_version: int | None
) -> Committee | Refusal:
    async def change() -> Committee:
        await lock_tree_for(context)
        committee = await visible_committee(context, committee_id, "id")
        require_admin_above(context, committee)
        await tree_changes.close_committee(
            context.session,
            actor_of(context),
            committee=committee,
            expected_version=expected_version,
        )
        return committee

    return await run_mutation(context, change)
