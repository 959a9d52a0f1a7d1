"""Subscriptions: the changes below a leader as they happen, and live summaries.

Served over graphql-transport-ws on /graphql and over Server-Sent Events (graphql-sse's
distinct-connections mode: POST /graphql with `Accept: text/event-stream`). The messages
are made from the change feed alone (graph/live/), so showing a change costs no read per
subscriber; they carry just what a dashboard needs to update a row, with ids to query more.
On a websocket, a subscription that started is pushed (graph/live/delivery.py): each
change is executed once for all who see it alike; an event stream iterates as usual.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncGenerator
from enum import Enum
from functools import cache

import strawberry

from graph.context import Info
from graph.global_ids import GlobalId
from graph.live.handover import pushing_to
from graph.live.names import CommitteeName
from graph.live.subscriptions import (
    LiveChange,
    changes_for,
    start_progress,
    start_progress_events,
    summaries_for,
)
from graph.resolvers.committees import COMMITTEE_TYPE, CONGRESS_TYPE
from graph.resolvers.difficulties import DIFFICULTY_TYPE
from graph.schema.cost import costs
from graph.schema.difficulty import DifficultyStatus
from graph.schema.errors import ReportState
from graph.schema.progress import CongressStatus
from graph.schema.progress_summary import SUMMARY_COST, SubtreeProgressFigures
from models import CongressStatus as CongressStatusValue
from models import DifficultyStatus as DifficultyStatusValue
from models.change_feed import ChangeKind
from models.report_rows import ReportState as ReportStateValue


@strawberry.enum(description="What a progress event says happened.")
class ProgressEventKind(Enum):
    MILESTONE = ChangeKind.MILESTONE.value
    RESULTS = ChangeKind.RESULTS.value
    DEADLINE = ChangeKind.DEADLINE.value
    DIFFICULTY_RAISED = ChangeKind.DIFFICULTY_RAISED.value
    DIFFICULTY_COMMENTED = ChangeKind.DIFFICULTY_COMMENTED.value
    DIFFICULTY_ESCALATED = ChangeKind.DIFFICULTY_ESCALATED.value
    DIFFICULTY_RESOLVED = ChangeKind.DIFFICULTY_RESOLVED.value
    REPORT_SUBMITTED = ChangeKind.REPORT_SUBMITTED.value
    REPORT_APPROVED = ChangeKind.REPORT_APPROVED.value
    REPORT_RETURNED = ChangeKind.REPORT_RETURNED.value
    REPORT_REOPENED = ChangeKind.REPORT_REOPENED.value


@strawberry.type(description="A committee as a live event names it.")
class EventCommittee:
    id: strawberry.ID
    code: str
    name: str

    @classmethod
    def of(cls, name: CommitteeName) -> EventCommittee:
        return cls(
            id=strawberry.ID(str(GlobalId(COMMITTEE_TYPE, name.id))),
            code=name.code,
            name=name.name,
        )


@strawberry.type(description="A congress as the change left it.")
class EventCongress:
    id: strawberry.ID
    status: CongressStatus  # type: ignore[valid-type]
    version: int
    milestone: str | None = strawberry.field(description="The step recorded (MILESTONE events).")
    deadline: datetime.date | None = strawberry.field(description="The new deadline (DEADLINE).")
    report_state: ReportState | None = strawberry.field(  # type: ignore[valid-type]
        description="The report's new state (REPORT_* events)."
    )
    report_version: int | None = strawberry.field(
        description="The report's new version (REPORT_* events)."
    )


@strawberry.type(description="A difficulty as the change left it.")
class EventDifficulty:
    id: strawberry.ID
    status: DifficultyStatus  # type: ignore[valid-type]
    version: int
    handled_at: EventCommittee | None = strawberry.field(
        description="The level handling it now; null when that level is above your scope."
    )


@strawberry.type(description="One change in your scope, as it was committed.")
class ProgressEvent:
    cursor: str = strawberry.field(
        description="Resume after this event: subscribe again with `after` set to it."
    )
    kind: ProgressEventKind
    recorded_at: datetime.datetime
    committee: EventCommittee
    congress: EventCongress | None
    difficulty: EventDifficulty | None

    @classmethod
    def of(cls, change: LiveChange) -> ProgressEvent:
        payload = change.feed.payload
        congress = difficulty = None
        if "congressId" in payload:
            deadline = payload.get("deadline")
            report = payload.get("report") or {}
            congress = EventCongress(
                id=strawberry.ID(str(GlobalId(CONGRESS_TYPE, int(payload["congressId"])))),
                status=CongressStatusValue(payload["status"]),
                version=int(payload["version"]),
                milestone=payload.get("milestone"),
                deadline=None if deadline is None else datetime.date.fromisoformat(deadline),
                report_state=ReportStateValue(report["state"]) if report else None,
                report_version=int(report["version"]) if report else None,
            )
        if "difficultyId" in payload:
            difficulty = EventDifficulty(
                id=strawberry.ID(str(GlobalId(DIFFICULTY_TYPE, int(payload["difficultyId"])))),
                status=DifficultyStatusValue(payload["status"]),
                version=int(payload["version"]),
                handled_at=None
                if change.handled_at is None
                else EventCommittee.of(change.handled_at),
            )
        return cls(
            cursor=change.cursor,
            kind=ProgressEventKind(change.feed.kind),
            recorded_at=change.feed.recorded_at,
            committee=EventCommittee.of(change.committee),
            congress=congress,
            difficulty=difficulty,
        )


@cache
def _kinds_followed(kinds: frozenset[ProgressEventKind] | None) -> frozenset[ChangeKind]:
    """The feed's kinds a subscription asks for (all if None), one set for all who ask
    alike (thousands of subscribers a worker; at most 2^7 sets). The enum is what
    officials follow; the feed's other kinds are the workers' own."""
    return frozenset(
        ChangeKind(kind.value) for kind in (ProgressEventKind if kinds is None else kinds)
    )


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Every change in your scope (or under `under`) as it is committed: "
        "milestones, results, deadlines and difficulties. With `after` (an event's cursor), "
        "what came after it first, then live, with no gap and no repeat; past the replay "
        "limit, a RESYNC_REQUIRED error says to reload and subscribe without `after`."
    )
    async def progress_events(
        self,
        info: Info,
        under: strawberry.ID | None = None,
        after: str | None = None,
        kinds: list[ProgressEventKind] | None = None,
    ) -> AsyncGenerator[ProgressEvent, None]:
        wanted = _kinds_followed(None if kinds is None else frozenset(kinds))
        followed = await start_progress_events(info.context, under, after, wanted)
        websocket = pushing_to()
        if websocket is not None:
            websocket.push_events(followed, ProgressEvent.of)
            return
        async for change in changes_for(info.context, followed):
            yield ProgressEvent.of(change)

    @strawberry.subscription(
        description="A committee's summary (as Committee.progress, without timeline): at "
        "once, then whenever it changes, at most once per CONGRESS_LIVE_INTERVAL_MS.",
        metadata=costs(per_object=SUMMARY_COST),
    )
    async def progress(
        self, info: Info, committee_id: strawberry.ID, term: str | None = None
    ) -> AsyncGenerator[SubtreeProgressFigures, None]:
        followed = await start_progress(info, committee_id, term)
        websocket = pushing_to()
        if websocket is not None:
            websocket.push_summaries(followed)
            return
        async for figures in summaries_for(info.context, followed):
            yield figures
