"""Account mutations: who may act is the policy's, the writes live in models.accounts."""

from __future__ import annotations

from graph.context import Context
from graph.resolvers.mutations import unit_of_work, visible_committee, visible_user
from models import Role, User, accounts
from models.refusals import Refusal
from permissions import policy


async def create_user(
    context: Context, subject: str, name: str, committee_id: str, role: Role
) -> User | Refusal:
    unit = unit_of_work(context)

    async def change() -> User:
        committee = await visible_committee(context, committee_id, "committeeId")
        policy.may_create_user(unit.viewer, committee, role)
        return await accounts.create_user(
            unit.session,
            unit.actor,
            subject=subject,
            display_name=name,
            committee=committee,
            role=role,
        )

    return await unit.run(change)


async def grant_role(
    context: Context, user_id: str, committee_id: str, role: Role, expected_version: int | None
) -> User | Refusal:
    unit = unit_of_work(context)

    async def change() -> User:
        committee = await visible_committee(context, committee_id, "committeeId")
        policy.may_administer_roles_at(unit.viewer, committee)
        user = await visible_user(context, user_id, "userId")
        policy.may_grant_role(unit.viewer, user, committee, role)
        await accounts.grant_role(
            unit.session,
            unit.actor,
            user=user,
            committee=committee,
            role=role,
            expected_version=expected_version,
        )
        return user

    return await unit.run(change)


async def revoke_role(
    context: Context, user_id: str, committee_id: str, expected_version: int | None
) -> User | Refusal:
    unit = unit_of_work(context)

    async def change() -> User:
        committee = await visible_committee(context, committee_id, "committeeId")
        policy.may_revoke_role(unit.viewer, committee)
        user = await visible_user(context, user_id, "userId")
        await accounts.revoke_role(
            unit.session,
            unit.actor,
            user=user,
            committee=committee,
            expected_version=expected_version,
        )
        await policy.may_keep_own_admins(unit.session, unit.viewer)
        return user

    return await unit.run(change)


async def set_user_active(
    context: Context, user_id: str, *, active: bool, expected_version: int | None
) -> User | Refusal:
    unit = unit_of_work(context)

    async def change() -> User:
        user = await visible_user(context, user_id, "userId")
        role_paths = await accounts.committee_paths_of(unit.session, user.id)
        policy.may_set_user_active(unit.viewer, user, role_paths)
        await accounts.set_active(
            unit.session,
            unit.actor,
            user=user,
            active=active,
            expected_version=expected_version,
        )
        return user

    return await unit.run(change)
