"""Account mutations: who may act is checked here, the writes live in models.accounts."""

from __future__ import annotations

from graph.context import Context
from graph.resolvers.mutations import (
    actor_of,
    require_admin_at,
    run_mutation,
    visible_committee,
    visible_user,
)
from models import Role, User, accounts
from models.refusals import Conflicting, NotAllowed, Refusal
from permissions.viewer import Viewer


def _require_not_self(viewer: Viewer, user: User, message: str) -> None:
    if user.id == viewer.user_id:
        raise NotAllowed(message)


def _require_role_within_own(context: Context, committee_path: str, role: Role) -> None:
    own = context.viewer.role_at(committee_path)
    if own is None or role.rank > own.rank:
        raise NotAllowed("You cannot grant a role above your own at this committee.")


async def create_user(
    context: Context, subject: str, name: str, committee_id: str, role: Role
) -> User | Refusal:
    async def change() -> User:
        committee = await visible_committee(context, committee_id, "committeeId")
        require_admin_at(context, committee)
        _require_role_within_own(context, committee.path, role)
        return await accounts.create_user(
            context.session,
            actor_of(context),
            subject=subject,
            display_name=name,
            committee=committee,
            role=role,
        )

    return await run_mutation(context, change)


async def grant_role(
    context: Context, user_id: str, committee_id: str, role: Role, expected_version: int | None
) -> User | Refusal:
    async def change() -> User:
        # The committee first: a non-admin learns "Forbidden", as users are visible only to admins.
        committee = await visible_committee(context, committee_id, "committeeId")
        require_admin_at(context, committee)
        user = await visible_user(context, user_id, "userId")
        _require_not_self(context.viewer, user, "You cannot change your own roles.")
        _require_role_within_own(context, committee.path, role)
        await accounts.grant_role(
            context.session,
            actor_of(context),
            user=user,
            committee=committee,
            role=role,
            expected_version=expected_version,
        )
        return user

    return await run_mutation(context, change)


async def revoke_role(
    context: Context, user_id: str, committee_id: str, expected_version: int | None
) -> User | Refusal:
    async def change() -> User:
        committee = await visible_committee(context, committee_id, "committeeId")
        require_admin_at(context, committee)
        user = await visible_user(context, user_id, "userId")
        await accounts.revoke_role(
            context.session,
            actor_of(context),
            user=user,
            committee=committee,
            expected_version=expected_version,
        )
        await _keep_an_admin_at_own_roots(context)
        return user

    return await run_mutation(context, change)


async def set_user_active(
    context: Context, user_id: str, *, active: bool, expected_version: int | None
) -> User | Refusal:
    async def change() -> User:
        user = await visible_user(context, user_id, "userId")
        _require_not_self(context.viewer, user, "You cannot deactivate or reactivate yourself.")
        all_roles = await accounts.committee_paths_of(context.session, user.id)
        if not all(context.viewer.has_role_at(path, Role.ADMIN) for path in all_roles):
            raise NotAllowed("This user holds roles you do not administer.")
        await accounts.set_active(
            context.session,
            actor_of(context),
            user=user,
            active=active,
            expected_version=expected_version,
        )
        return user

    return await run_mutation(context, change)


async def _keep_an_admin_at_own_roots(context: Context) -> None:
    """Nobody may leave a committee where they hold admin without any active admin."""
    for grant in context.viewer.grants:
        if grant.role is Role.ADMIN and not await accounts.active_admins_at(
            context.session, grant.committee_id
        ):
            raise Conflicting(
                "This would leave a committee you administer without any admin.",
                field="userId",
            )
