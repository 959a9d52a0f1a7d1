"""Reading the audit log: entries about committees where the viewer administers."""

from __future__ import annotations

from typing import Any

from graph.context import Context
from graph.global_ids import GlobalId
from graph.resolvers import committees as read_committees
from graph.resolvers.pagination import Page, decode_cursor, page_size, split_page
from models import AuditEntry, Role
from models.tree import path_depth
from permissions import visible

COMMITTEE_REFERENCE_KEY = "committeeId"


async def audit_log(
    context: Context, under: str | None, first: int | None, after: str | None
) -> Page[AuditEntry]:
    size = page_size(first, context.settings)
    after_id = decode_cursor(after)
    scope = context.viewer.scope_for(Role.ADMIN)
    if under is not None:
        under_committee = await read_committees.committee_argument(context, under, "under")
        scope = scope.narrowed_to(under_committee.path)
    # Entries tied to no committee (refused logins) concern the whole tree: only admins of
    # a root read them, and only when not narrowing to a subtree.
    tree_wide = under is None and any(path_depth(root) == 1 for root in scope.root_paths)
    found = await visible.audit_page(
        context.session, scope, include_tree_wide=tree_wide, limit=size + 1, after_id=after_id
    )
    rows, has_next_page = split_page(found, size)

    async def total_count() -> int:
        return await visible.audit_count(context.session, scope, include_tree_wide=tree_wide)

    return Page(rows, has_next_page, total_count)


async def redacted(context: Context, value: Any) -> Any:
    """`value` with every committee reference the viewer cannot see replaced by null, and
    the visible ones given as global ids: an entry about a visible committee may still
    mention, say, the parent it was moved away from, in another subtree."""
    if isinstance(value, list):
        return [await redacted(context, item) for item in value]
    if not isinstance(value, dict):
        return value
    if COMMITTEE_REFERENCE_KEY in value:
        committee = await context.loaders.committee_by_id.load(int(value[COMMITTEE_REFERENCE_KEY]))
        if committee is None:
            return None
        return {
            COMMITTEE_REFERENCE_KEY: str(GlobalId(read_committees.COMMITTEE_TYPE, committee.id)),
            "code": committee.code,
            "name": committee.name,
        }
    return {key: await redacted(context, item) for key, item in value.items()}
