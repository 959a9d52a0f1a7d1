"""The root Query type."""

from __future__ import annotations

import strawberry

from graph.context import Context, Info
from graph.global_ids import GlobalId
from graph.planner.fields import SqlRelation, for_each, planned
from graph.resolvers import audit as resolve_audit
from graph.resolvers import committees as resolve
from graph.resolvers import difficulties as resolve_difficulties
from graph.resolvers import users as resolve_users
from graph.schema.audit import AuditEntry
from graph.schema.committee import Committee, Congress
from graph.schema.difficulty import Difficulty
from graph.schema.node import Node
from graph.schema.pagination import Connection, connection_from_page
from graph.schema.user import User
from graph.schema.viewer import Viewer, viewers

# What the root fields read (their sources are the root value, None), for the resolvers
# below and for planned reads (graph/planner/).


async def _node(context: Context, _root: None, id: strawberry.ID) -> Node | None:
    global_id = GlobalId.parse(id)
    if global_id is None:
        return None
    if global_id.type_name == resolve.COMMITTEE_TYPE:
        row = await resolve.committee_by_global_id(context, id)
        return None if row is None else Committee.from_row(row)
    if global_id.type_name == resolve_users.USER_TYPE:
        user = await resolve_users.user_by_global_id(context, id)
        return None if user is None else User.from_row(user)
    if global_id.type_name == resolve_difficulties.DIFFICULTY_TYPE:
        difficulty = await resolve_difficulties.difficulty_by_global_id(context, id)
        return None if difficulty is None else Difficulty.from_row(difficulty)
    if global_id.type_name == resolve.CONGRESS_TYPE:
        found = await resolve.congress_by_global_id(context, id)
        return None if found is None else Congress.from_row(*found)
    return None


async def _committee(
    context: Context, _root: None, id: strawberry.ID | None = None, code: str | None = None
) -> Committee | None:
    if id is not None:
        row = await resolve.committee_by_global_id(context, id)
    elif code is not None:
        row = await resolve.committee_by_code(context, code)
    else:
        row = None
    # Given both, they must name the same committee.
    if row is None or (code is not None and row.code != code):
        return None
    return Committee.from_row(row)


async def _committees(
    context: Context,
    _root: None,
    under: strawberry.ID | None = None,
    depth: int | None = None,
    search: str | None = None,
    first: int | None = None,
    after: str | None = None,
    include_closed: bool = False,
) -> Connection[Committee]:
    page = await resolve.committees(context, under, depth, search, first, after, include_closed)
    return connection_from_page(page, Committee.from_row, lambda row: row.id)


@strawberry.type
class Query:
    @strawberry.field(
        description="The signed-in official and their assignments.", metadata=planned(viewers)
    )
    def viewer(self, info: Info) -> Viewer:
        return Viewer.from_context(info.context)

    @strawberry.field(
        description="Any object by its global id; null if it is not visible to you.",
        metadata=planned(for_each(_node)),
    )
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await _node(info.context, None, id)

    @strawberry.field(
        description="A committee by global id or by code; null if not visible to you.",
        metadata=planned(for_each(_committee), sql=SqlRelation.COMMITTEE),
    )
    async def committee(
        self, info: Info, id: strawberry.ID | None = None, code: str | None = None
    ) -> Committee | None:
        return await _committee(info.context, None, id, code)

    @strawberry.field(
        description="Committees in your scope (or under one of them), in tree order. "
        "`depth` is the absolute depth (root = 1); `search` ignores case and accents.",
        metadata=planned(for_each(_committees)),
    )
    async def committees(
        self,
        info: Info,
        under: strawberry.ID | None = None,
        depth: int | None = None,
        search: str | None = None,
        first: int | None = None,
        after: str | None = None,
        include_closed: bool = False,
    ) -> Connection[Committee]:
        return await _committees(
            info.context, None, under, depth, search, first, after, include_closed
        )

    @strawberry.field(
        description="Officials with a role where you administer (under one committee if given); "
        "`search` matches name or subject, ignoring case and accents."
    )
    async def users(
        self,
        info: Info,
        under: strawberry.ID | None = None,
        search: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[User]:
        page = await resolve_users.users(info.context, under, search, first, after)
        return connection_from_page(page, User.from_row, lambda row: row.id)

    @strawberry.field(
        description="Administrative actions on committees you administer, newest first. "
        "Admins of the root also see refused logins."
    )
    async def audit_log(
        self,
        info: Info,
        under: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[AuditEntry]:
        page = await resolve_audit.audit_log(info.context, under, first, after)
        return connection_from_page(page, AuditEntry.from_row, lambda row: row.id)
