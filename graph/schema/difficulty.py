"""Difficulty and its history, as the levels that see it read them."""

from __future__ import annotations

import datetime

import strawberry

from graph.context import Info
from graph.global_ids import GlobalId
from graph.resolvers import difficulties as resolve
from graph.schema.committee import Committee
from graph.schema.node import Node
from graph.schema.pagination import Connection, connection_from_page
from models import Difficulty as DifficultyRow
from models import DifficultyCategory as DifficultyCategoryValue
from models import DifficultyEvent as DifficultyEventRow
from models import DifficultyEventKind as DifficultyEventKindValue
from models import DifficultyStatus as DifficultyStatusValue

DifficultyCategory = strawberry.enum(DifficultyCategoryValue, name="DifficultyCategory")
DifficultyStatus = strawberry.enum(DifficultyStatusValue, name="DifficultyStatus")
DifficultyEventKind = strawberry.enum(DifficultyEventKindValue, name="DifficultyEventKind")


async def _committee(info: Info, committee_id: int | None) -> Committee | None:
    row = await resolve.committee_if_visible(info.context, committee_id)
    return None if row is None else Committee.from_row(row)


@strawberry.type(description="One step of a difficulty's history; never changed.")
class DifficultyEvent:
    row: strawberry.Private[DifficultyEventRow]
    id: strawberry.ID
    kind: DifficultyEventKind  # type: ignore[valid-type]
    body: str | None = strawberry.field(description="The comment, or the resolution.")
    actor_subject: str | None = strawberry.field(
        description="Who took the step; `system:auto-escalation` when nobody answered in time."
    )
    at: datetime.datetime

    @classmethod
    def from_row(cls, row: DifficultyEventRow) -> DifficultyEvent:
        return cls(
            row=row,
            id=strawberry.ID(str(GlobalId(resolve.DIFFICULTY_EVENT_TYPE, row.id))),
            kind=row.kind,
            body=row.body,
            actor_subject=row.actor_subject,
            at=row.at,
        )

    @strawberry.field(
        description="The level handling the difficulty before this step (null when raised, "
        "or if you cannot see it)."
    )
    async def from_committee(self, info: Info) -> Committee | None:
        return await _committee(info, self.row.from_committee_id)

    @strawberry.field(
        description="The level handling the difficulty after this step (null if you cannot see it)."
    )
    async def to_committee(self, info: Info) -> Committee | None:
        return await _committee(info, self.row.to_committee_id)


@strawberry.type(
    description="A problem a unit reported (khó khăn, vướng mắc), handled at its level or "
    "escalated one level up at a time. Visible wherever the committee that raised it is."
)
class Difficulty(Node):
    row: strawberry.Private[DifficultyRow]
    title: str
    description: str
    category: DifficultyCategory  # type: ignore[valid-type]
    status: DifficultyStatus  # type: ignore[valid-type]
    version: int = strawberry.field(description="Send it back as expectedVersion when changing.")
    raised_at: datetime.datetime
    raised_by: str | None = strawberry.field(description="The subject of whoever raised it.")
    last_activity_at: datetime.datetime = strawberry.field(
        description="Raising, a comment or an escalation; automatic escalation counts from it."
    )
    resolved_at: datetime.datetime | None
    resolution: str | None

    @classmethod
    def from_row(cls, row: DifficultyRow) -> Difficulty:
        return cls(
            id=strawberry.ID(str(GlobalId(resolve.DIFFICULTY_TYPE, row.id))),
            row=row,
            title=row.title,
            description=row.description,
            category=row.category,
            status=row.status,
            version=row.version,
            raised_at=row.raised_at,
            raised_by=row.raised_by_subject,
            last_activity_at=row.last_activity_at,
            resolved_at=row.resolved_at,
            resolution=row.resolution,
        )

    @strawberry.field(description="The committee where it was raised.")
    async def committee(self, info: Info) -> Committee | None:
        return await _committee(info, self.row.committee_id)

    @strawberry.field(description="The level handling it now: where it was raised, or above.")
    async def handling_committee(self, info: Info) -> Committee | None:
        return await _committee(info, self.row.handling_committee_id)

    @strawberry.field(description="Its history, oldest first.")
    async def events(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[DifficultyEvent]:
        page = await resolve.events(info.context, self.row, first, after)
        return connection_from_page(page, DifficultyEvent.from_row, _event_id)


def _event_id(row: DifficultyEventRow) -> int:
    return row.id
