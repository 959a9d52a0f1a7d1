"""Reads of the committee tree; every one goes through the viewer's scope."""

from __future__ import annotations

from graph.context import Context
from graph.errors import NotFoundError
from graph.global_ids import row_id_of
from graph.loaders import ChildrenCountKey, ChildrenPageKey, CongressKey
from graph.resolvers.pagination import Page, decode_cursor, page_size, split_page
from models import Committee, Congress, Term
from models.tree import path_ids
from permissions import visible
from permissions.visible import CommitteeFilter

COMMITTEE_TYPE = "Committee"
CONGRESS_TYPE = "Congress"


async def committee_by_global_id(context: Context, global_id: str) -> Committee | None:
    row_id = row_id_of(global_id, COMMITTEE_TYPE)
    return None if row_id is None else await context.loaders.committee_by_id.load(row_id)


async def committee_argument(context: Context, global_id: str, argument: str) -> Committee:
    """A committee named by an argument (`under`, `handledAt`): missing and invisible ones are
    the same NOT_FOUND error."""
    committee = await committee_by_global_id(context, global_id)
    if committee is None:
        raise NotFoundError(f"No committee found for `{argument}`.", argument=argument)
    return committee


async def committee_by_code(context: Context, code: str) -> Committee | None:
    found = await visible.committees_by_codes(context.session, context.viewer.scope, [code])
    return found.get(code)


async def parent(context: Context, committee: Committee) -> Committee | None:
    # The scope root's parent exists but is outside the scope: it must read as no parent.
    if committee.parent_id is None or context.viewer.scope.is_root(committee.path):
        return None
    return await context.loaders.committee_by_id.load(committee.parent_id)


async def ancestors(context: Context, committee: Committee) -> list[Committee]:
    """Visible ancestors, from the viewer's scope root down to the parent."""
    lineage = context.viewer.scope.visible_lineage(committee.path)[:-1]
    ancestor_ids = [path_ids(path)[-1] for path in lineage]
    loaded = await context.loaders.committee_by_id.load_many(ancestor_ids)
    return [ancestor for ancestor in loaded if ancestor is not None]


async def children(
    context: Context,
    committee: Committee,
    first: int | None,
    after: str | None,
    include_closed: bool,
) -> Page[Committee]:
    size = page_size(first, context.settings)
    key = ChildrenPageKey(committee.id, size + 1, decode_cursor(after), include_closed)
    rows, has_next_page = split_page(await context.loaders.children_page.load(key), size)

    async def total_count() -> int:
        return await context.loaders.children_count.load(
            ChildrenCountKey(committee.id, include_closed)
        )

    return Page(rows, has_next_page, total_count)


async def committees(
    context: Context,
    under: str | None,
    depth: int | None,
    search: str | None,
    first: int | None,
    after: str | None,
    include_closed: bool,
) -> Page[Committee]:
    size = page_size(first, context.settings)
    after_id = decode_cursor(after)
    scope = context.viewer.scope
    if under is not None:
        under_committee = await committee_argument(context, under, "under")
        scope = scope.narrowed_to(under_committee.path)
    where = CommitteeFilter(depth=depth, search=search, include_closed=include_closed)
    found = await visible.committee_page(
        context.session, scope, where, limit=size + 1, after_id=after_id
    )
    rows, has_next_page = split_page(found, size)

    async def total_count() -> int:
        return await visible.committee_count(context.session, scope, where)

    return Page(rows, has_next_page, total_count)


async def term_named(context: Context, term_code: str | None) -> Term | None:
    """The term with this code, or the current term when none is named."""
    return (await context.terms.snapshot(context.session)).named_or_current(term_code)


async def congress(
    context: Context, committee: Committee, term_code: str | None
) -> tuple[Congress, Term] | None:
    """The committee's congress in the named term, or in the current term when none is named."""
    term = await term_named(context, term_code)
    if term is None:
        return None
    found = await context.loaders.congress.load(CongressKey(committee.id, term.id))
    return None if found is None else (found, term)


async def congress_by_global_id(context: Context, global_id: str) -> tuple[Congress, Term] | None:
    row_id = row_id_of(global_id, CONGRESS_TYPE)
    if row_id is None:
        return None
    found = await visible.congresses_by_ids(context.session, context.viewer.scope, [row_id])
    return found.get(row_id)
