"""The root Query type."""

from __future__ import annotations

import strawberry
from graphql import FieldNode, VariableNode

from graph.context import Info
from graph.global_ids import GlobalId
from graph.resolvers import audit as resolve_audit
from graph.resolvers import committees as resolve
from graph.resolvers import difficulties as resolve_difficulties
from graph.resolvers import progress_summary as resolve_summary
from graph.resolvers import users as resolve_users
from graph.schema.audit import AuditEntry
from graph.schema.committee import Committee, Congress
from graph.schema.difficulty import Difficulty
from graph.schema.node import Node
from graph.schema.pagination import Connection, connection_from_page
from graph.schema.user import User
from graph.schema.viewer import Viewer
from models import Term


async def progress_term_asked(info: Info) -> Term | None:
    """The term of the `progress` fields selected on this field's result, when they ask for
    one term and it exists: then the object and its progress can be read together.
    Fragments are not looked into (their fields are read the usual way)."""
    # The field's own nodes, one level down: `info.selected_fields` would convert the
    # whole query below this field into strawberry's objects on every request.
    field_nodes = info._raw_info.field_nodes
    terms = {
        _argument_value(info, selection, "term")
        for node in field_nodes
        for selection in (node.selection_set.selections if node.selection_set else ())
        if isinstance(selection, FieldNode) and selection.name.value == "progress"
    }
    if len(terms) != 1:
        return None
    term = terms.pop()
    if term is not None and not isinstance(term, str):
        return None
    return await resolve.term_named(info.context, term)


def _argument_value(info: Info, field: FieldNode, name: str) -> object:
    """The value of one argument of a field in the query (None when it is not given)."""
    for argument in field.arguments or ():
        if argument.name.value != name:
            continue
        value = argument.value
        if isinstance(value, VariableNode):
            return info.variable_values.get(value.name.value)
        return getattr(value, "value", None)  # StringValueNode; NullValueNode has none
    return None


@strawberry.type
class Query:
    @strawberry.field(description="The signed-in official and their assignments.")
    def viewer(self, info: Info) -> Viewer:
        return Viewer.from_context(info)

    @strawberry.field(description="Any object by its global id; null if it is not visible to you.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        global_id = GlobalId.parse(id)
        if global_id is None:
            return None
        if global_id.type_name == resolve.COMMITTEE_TYPE:
            row = await resolve.committee_by_global_id(info.context, id)
            return None if row is None else Committee.from_row(row)
        if global_id.type_name == resolve_users.USER_TYPE:
            user = await resolve_users.user_by_global_id(info.context, id)
            return None if user is None else User.from_row(user)
        if global_id.type_name == resolve_difficulties.DIFFICULTY_TYPE:
            difficulty = await resolve_difficulties.difficulty_by_global_id(info.context, id)
            return None if difficulty is None else Difficulty.from_row(difficulty)
        if global_id.type_name == resolve.CONGRESS_TYPE:
            found = await resolve.congress_by_global_id(info.context, id)
            return None if found is None else Congress.from_row(*found)
        return None

    @strawberry.field(
        description="A committee by global id or by code; null if not visible to you."
    )
    async def committee(
        self, info: Info, id: strawberry.ID | None = None, code: str | None = None
    ) -> Committee | None:
        term = await progress_term_asked(info)
        if term is not None:
            row = await resolve_summary.committee_with_progress(
                info.context, term, global_id=id, code=code
            )
        elif id is not None:
            row = await resolve.committee_by_global_id(info.context, id)
        elif code is not None:
            row = await resolve.committee_by_code(info.context, code)
        else:
            row = None
        if row is None or (code is not None and row.code != code):
            return None
        return Committee.from_row(row)

    @strawberry.field(
        description="Committees in your scope (or under one of them), in tree order. "
        "`depth` is the absolute depth (root = 1); `search` ignores case and accents."
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
        page = await resolve.committees(
            info.context, under, depth, search, first, after, include_closed
        )
        return connection_from_page(page, Committee.from_row, lambda row: row.id)

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
