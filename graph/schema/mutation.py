"""The root Mutation type. Every mutation returns its payload or a typed error."""

from __future__ import annotations

import strawberry

from graph.schema.mutations import (
    committee_create,
    committee_move,
    role_grant,
    user_create,
    user_deactivate,
)


@strawberry.type
class Mutation:
    create_user = strawberry.mutation(
        resolver=user_create.create_user,
        description="Open an account with a first role at a committee you administer.",
    )
    grant_role = strawberry.mutation(
        resolver=role_grant.grant_role,
        description="Give a user a role (up to your own) at a committee you administer.",
    )
    revoke_role = strawberry.mutation(
        resolver=role_grant.revoke_role,
        description="Take away a user's role at a committee you administer.",
    )
    deactivate_user = strawberry.mutation(
        resolver=user_deactivate.deactivate_user,
        description="Stop an account from signing in; its history stays.",
    )
    reactivate_user = strawberry.mutation(
        resolver=user_deactivate.reactivate_user,
        description="Let a deactivated account sign in again.",
    )
    create_committee = strawberry.mutation(
        resolver=committee_create.create_committee,
        description="Add a unit under a committee you administer.",
    )
    rename_committee = strawberry.mutation(
        resolver=committee_create.rename_committee, description="Rename a unit you administer."
    )
    move_committee = strawberry.mutation(
        resolver=committee_move.move_committee,
        description="Move a unit (with everything below it) to another parent you administer.",
    )
    merge_committees = strawberry.mutation(
        resolver=committee_move.merge_committees,
        description="Fold one unit into another: children, congresses and officials follow; "
        "the merged unit is closed, never deleted.",
    )
    close_committee = strawberry.mutation(
        resolver=committee_move.close_committee,
        description="Close a unit with no open units below it; its records stay readable.",
    )
