"""Officials' accounts, as administrators see them."""

from __future__ import annotations

import datetime

import strawberry

from graph.context import Info
from graph.global_ids import GlobalId
from graph.resolvers import users as resolve
from graph.schema.node import Node
from graph.schema.viewer import Assignment
from models import User as UserRow


@strawberry.type(description="An official's account; visible where you administer.")
class User(Node):
    row: strawberry.Private[UserRow]
    subject: str = strawberry.field(description="The identity provider's subject (personal id).")
    name: str
    active: bool
    version: int = strawberry.field(description="Send it back as expectedVersion when changing.")
    created_at: datetime.datetime

    @classmethod
    def from_row(cls, row: UserRow) -> User:
        return cls(
            id=strawberry.ID(str(GlobalId(resolve.USER_TYPE, row.id))),
            row=row,
            subject=row.subject,
            name=row.display_name,
            active=row.is_active,
            version=row.version,
            created_at=row.created_at,
        )

    @strawberry.field(description="The user's roles inside your administration.")
    async def assignments(self, info: Info) -> list[Assignment]:
        grants = await resolve.grants(info.context, self.row)
        return [Assignment(grant=grant, role=grant.role) for grant in grants]
