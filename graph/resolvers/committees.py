"""Reads of the committee tree; every one goes through the viewer's scope."""

from __future__ import annotations

from collections.abc import Sequence

from graph.context import Context
from graph.errors import NotFoundError
from graph.global_ids import row_id_of
from graph.loaders import ChildrenCountKey, ChildrenPageKey, CongressKey
from graph.resolvers.pagination import Page, decode_cursor, page_size, split_page
from graph.resolvers.search import search_argument
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
    return await context.loaders.committee_by_code.load(code)


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


async def children_of(
    context: Context,
    committees: Sequence[Committee],
    first: int | None,
    after: str | None,
    include_closed: bool,
) -> list[Page[Committee]]:
    """A page of the children of each committee, the same page of each (one statement)."""
    size = page_size(first, context.settings)
    after_id = decode_cursor(after)
    loaded = await context.loaders.children_page.load_many(
        [
            ChildrenPageKey(committee.id, size + 1, after_id, include_closed)
            for committee in committees
        ]
    )
    return [
        _children_page(context, committee.id, rows, size, include_closed)
        for committee, rows in zip(committees, loaded, strict=True)
    ]


def _children_page(
    context: Context, parent_id: int, loaded: Sequence[Committee], size: int, include_closed: bool
) -> Page[Committee]:
    rows, has_next_page = split_page(loaded, size)

    async def total_count() -> int:
        return await context.loaders.children_count.load(
            ChildrenCountKey(parent_id, include_closed)
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
    where = CommitteeFilter(
        depth=depth, search=search_argument(search), include_closed=include_closed
    )
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


async def congresses_of(
    context: Context, committees: Sequence[Committee], term_code: str | None
) -> list[tuple[Congress, Term] | None]:
    """Each committee's congress in the named term, or in the current term when none is
    named (one statement for all of them)."""
    term = await term_named(context, term_code)
    if term is None:
        return [None for _ in committees]
    found = await context.loaders.congress.load_many(
        [CongressKey(committee.id, term.id) for committee in committees]
    )
    return [None if congress is None else (congress, term) for congress in found]


async def congress_by_global_id(context: Context, global_id: str) -> tuple[Congress, Term] | None:
    row_id = row_id_of(global_id, CONGRESS_TYPE)
    if row_id is None:
        return None
    found = await visible.congresses_by_ids(context.session, context.viewer.scope, [row_id])
    return found.get(row_id)
