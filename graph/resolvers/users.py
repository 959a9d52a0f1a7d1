"""Reads of officials' accounts: visible where the viewer administers."""

from __future__ import annotations

from graph.context import Context
from graph.global_ids import row_id_of
from graph.resolvers import committees as read_committees
from graph.resolvers.pagination import Page, decode_cursor, page_size, split_page
from graph.resolvers.search import search_argument
from models import Role, User
from permissions import visible
from permissions.viewer import Grant

USER_TYPE = "User"


async def user_by_global_id(context: Context, global_id: str) -> User | None:
    row_id = row_id_of(global_id, USER_TYPE)
    return None if row_id is None else await context.loaders.user_by_id.load(row_id)


async def grants(context: Context, user: User) -> list[Grant]:
    """The user's roles inside the viewer's administration; roles elsewhere stay hidden."""
    return await context.loaders.grants_of_user.load(user.id)


async def users(
    context: Context,
    under: str | None,
    search: str | None,
    first: int | None,
    after: str | None,
) -> Page[User]:
    size = page_size(first, context.settings)
    after_id = decode_cursor(after)
    search = search_argument(search)
    scope = context.viewer.scope_for(Role.ADMIN)
    if under is not None:
        under_committee = await read_committees.committee_argument(context, under, "under")
        scope = scope.narrowed_to(under_committee.path)
    found = await visible.users_page(
        context.session, scope, search, limit=size + 1, after_id=after_id
    )
    rows, has_next_page = split_page(found, size)

    async def total_count() -> int:
        return await visible.users_count(context.session, scope, search)

    return Page(rows, has_next_page, total_count)
