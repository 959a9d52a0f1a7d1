"""The viewer: who is asking, and where their assignments put them."""

from __future__ import annotations

from collections.abc import Sequence

import strawberry

from graph.context import Context, Info
from graph.planner.fields import for_each, planned
from graph.schema.committee import Committee
from models.users import Role as RoleValue
from permissions.viewer import Grant

Role = strawberry.enum(RoleValue, name="Role")


async def _assignment_committee(context: Context, assignment: Assignment) -> Committee:
    row = await context.loaders.committee_by_id.load(assignment.grant.committee_id)
    assert row is not None, "an assignment's committee is the root of the viewer's scope"
    return Committee.from_row(row)


@strawberry.type(description="One of the viewer's roles, at the root of a visible subtree.")
class Assignment:
    grant: strawberry.Private[Grant]
    role: Role  # type: ignore[valid-type]

    @strawberry.field(metadata=planned(for_each(_assignment_committee)))
    async def committee(self, info: Info) -> Committee:
        return await _assignment_committee(info.context, self)


@strawberry.type(description="The signed-in official.")
class Viewer:
    subject: str = strawberry.field(description="The identity provider's subject (personal id).")
    name: str
    assignments: list[Assignment]

    @classmethod
    def from_context(cls, context: Context) -> Viewer:
        viewer = context.viewer
        return cls(
            subject=viewer.subject,
            name=viewer.display_name,
            assignments=[Assignment(grant=grant, role=grant.role) for grant in viewer.grants],
        )


async def viewers(context: Context, roots: Sequence[None]) -> list[Viewer]:
    """`viewer` at the root of a query (planned reads)."""
    return [Viewer.from_context(context) for _ in roots]
