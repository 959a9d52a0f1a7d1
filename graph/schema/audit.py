"""Audit log entries, as administrators read them."""

from __future__ import annotations

import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from graph.context import Info
from graph.global_ids import GlobalId
from graph.resolvers import audit as resolve
from graph.schema.committee import Committee
from graph.schema.progress import with_status_named
from models import AuditEntry as AuditEntryRow
from models.milestone_batch import MILESTONE_AUDIT_ACTION


@strawberry.type(description="One administrative action or refused login; never changed.")
class AuditEntry:
    row: strawberry.Private[AuditEntryRow]
    id: strawberry.ID
    occurred_at: datetime.datetime
    actor_subject: str | None
    action: str
    target_type: str | None
    request_id: str | None

    @classmethod
    def from_row(cls, row: AuditEntryRow) -> AuditEntry:
        return cls(
            row=row,
            id=strawberry.ID(str(GlobalId("AuditEntry", row.id))),
            occurred_at=row.occurred_at,
            actor_subject=row.actor_subject,
            action=row.action,
            target_type=row.target_type,
            request_id=row.request_id,
        )

    @strawberry.field(description="Global id of the user or committee acted on.")
    def target_id(self) -> strawberry.ID | None:
        if self.row.target_type is None or self.row.target_id is None:
            return None
        return strawberry.ID(str(GlobalId(self.row.target_type, self.row.target_id)))

    @strawberry.field(description="The committee the entry belongs to; null for refused logins.")
    async def committee(self, info: Info) -> Committee | None:
        if self.row.committee_id is None:
            return None
        row = await info.context.loaders.committee_by_id.load(self.row.committee_id)
        return None if row is None else Committee.from_row(row)

    @strawberry.field(description="State before; committees you cannot see read as null.")
    async def before(self, info: Info) -> JSON | None:
        return cast(JSON, await resolve.redacted(info.context, self.row.before))

    @strawberry.field(
        description="State after; committees you cannot see read as null, and a milestone's "
        "status reads as the MilestoneStatus enum does (DONE)."
    )
    async def after(self, info: Info) -> JSON | None:
        after = await resolve.redacted(info.context, self.row.after)
        if after is not None and self.row.action == MILESTONE_AUDIT_ACTION:
            after = with_status_named(after)
        return cast(JSON, after)
