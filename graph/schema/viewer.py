"""The viewer: who is asking, and where their assignments put them."""

from __future__ import annotations

import strawberry

from graph.context import Info
from graph.schema.committee import Committee
from models.users import Role as RoleValue
from permissions.viewer import Grant

Role = strawberry.enum(RoleValue, name="Role")


@strawberry.type(description="One of the viewer's roles, at the root of a visible subtree.")
class Assignment:
    grant: strawberry.Private[Grant]
    role: Role  # type: ignore[valid-type]

    @strawberry.field
    async def committee(self, info: Info) -> Committee:
        row = await info.context.loaders.committee_by_id.load(self.grant.committee_id)
        assert row is not None, "an assignment's committee is the root of the viewer's scope"
        return Committee.from_row(row)


@strawberry.type(description="The signed-in official.")
class Viewer:
    subject: str = strawberry.field(description="The identity provider's subject (personal id).")
    name: str
    assignments: list[Assignment]

    @classmethod
    def from_context(cls, info: Info) -> Viewer:
        viewer = info.context.viewer
        return cls(
            subject=viewer.subject,
            name=viewer.display_name,
            assignments=[Assignment(grant=grant, role=grant.role) for grant in viewer.grants],
        )
