"""Payloads show the state after the commit, read again through fresh, scoped loaders."""

from __future__ import annotations

from graph.context import Info
from graph.schema.committee import Committee
from graph.schema.user import User
from models import Committee as CommitteeRow
from models import User as UserRow


async def committee_after(info: Info, row: CommitteeRow) -> Committee | None:
    fresh = await info.context.loaders.committee_by_id.load(row.id)
    return None if fresh is None else Committee.from_row(fresh)


async def user_after(info: Info, row: UserRow) -> User | None:
    """None when the change took the user out of the viewer's administration."""
    fresh = await info.context.loaders.user_by_id.load(row.id)
    return None if fresh is None else User.from_row(fresh)
