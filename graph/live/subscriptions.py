"""What the subscription fields do: check the arguments within the viewer's scope, listen
to the feed under it, and turn each change into what the subscriber may see.

The rule of scope holds on a stream as on a request: the hub routes a change only to
listeners whose subtrees contain it, so a subscriber elsewhere is sent nothing (no empty
message, no change in timing), and a committee outside the scope that a change mentions
(the level above now handling a difficulty) is shown as null.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy.exc import DBAPIError
from strawberry.types.nodes import SelectedField, Selection

from graph.context import Context, Info
from graph.errors import (
    ClientError,
    CostLimitError,
    NotFoundError,
    ResyncRequiredError,
    UnauthenticatedError,
    UnavailableError,
)
from graph.live.access import AccessEnded
from graph.live.cursors import FeedCursors, InvalidCursor
from graph.live.hub import (
    FeedChange,
    FellBehind,
    HubStopped,
    Listener,
    ListenerEnded,
    ResyncRequired,
)
from graph.live.names import CommitteeName
from graph.observability.metrics import live_messages, live_subscriptions
from graph.resolvers.committees import committee_argument, term_named
from models.change_feed import ChangeKind
from permissions.scope import Scope
from permissions.viewer import Viewer, load_active_viewer

if TYPE_CHECKING:
    # The live half is built by the app; importing it here would import the schema back.
    from graph.live.service import Live, LiveParts
    from graph.live.summaries import SummaryFollower
    from graph.schema.progress_summary import SubtreeProgressFigures

logger = logging.getLogger("congress.live")

Waited = TypeVar("Waited")

# The subscription fields, as the metrics name them.
EVENTS_FIELD = "progressEvents"
SUMMARY_FIELD = "progress"


@dataclass(frozen=True, slots=True)
class LiveChange:
    """A feed change as one subscriber is shown it."""

    feed: FeedChange
    cursor: str
    committee: CommitteeName
    # The level handling a difficulty, if the subscriber sees it.
    handled_at: CommitteeName | None


def live_of(context: Context) -> Live:
    if context.live is None:
        raise UnavailableError("Live updates are not served here.")
    return context.live


async def running_parts(live: Live) -> LiveParts:
    """The worker's live half, started by the first subscriber; a database that cannot be
    reached to start it is UNAVAILABLE (try again), not a server error."""
    if live.stopping:
        raise UnavailableError(
            "This server is stopping: subscribe again (with `after` set to your last cursor)."
        )
    try:
        return await live.parts()
    except DBAPIError as error:
        logger.exception("the live half could not start")
        raise UnavailableError("Live updates are unavailable right now: try again.") from error


@asynccontextmanager
async def signed_in_again(context: Context) -> AsyncIterator[Context]:
    """The subscription's context with a session of its own for the work of starting it,
    and the viewer read again: a connection signed in hours ago must not start a
    subscription its user could no longer make (deactivated, a role revoked since)."""
    async with live_of(context).sessions() as session:
        viewer = await load_active_viewer(session, context.viewer.subject)
        if viewer is None:
            raise UnauthenticatedError("Your account is no longer active: sign in again.")
        # The connection keeps the newest: one viewer for all its subscriptions, not one
        # each beside the one it signed in with.
        context.viewer = viewer
        yield dataclasses.replace(context, session=session)


@dataclass(eq=False, slots=True)
class EventsFollowed:
    """A started `progressEvents`: its listener on the feed, registered with the access
    check. Its changes are pulled (`changes_for`, an event stream) or pushed
    (graph/live/delivery.py, a websocket); `finish` ends it either way."""

    parts: LiveParts
    viewer: Viewer
    kinds: frozenset[ChangeKind]
    listener: Listener
    unwatch: Callable[[], None]

    @property
    def source(self) -> Listener:
        return self.listener

    def take(self) -> list[FeedChange]:
        """The changes of its kinds that arrived, without waiting (a pushed one's)."""
        return [change for change in self.listener.take_waiting() if change.kind in self.kinds]

    def finish(self) -> None:
        live_subscriptions.inc(EVENTS_FIELD, "ended")
        self.unwatch()
        self.listener.close()


@dataclass(eq=False, slots=True)
class SummaryFollowed:
    """A started `progress`: a follower of the shared summary, registered with the access
    check; pulled or pushed as `EventsFollowed`."""

    parts: LiveParts
    follower: SummaryFollower
    unwatch: Callable[[], None]

    @property
    def source(self) -> SummaryFollower:
        return self.follower

    def finish(self) -> None:
        live_subscriptions.inc(SUMMARY_FIELD, "ended")
        self.unwatch()
        self.follower.close()


async def start_progress_events(
    context: Context,
    under: str | None,
    after: str | None,
    kinds: frozenset[ChangeKind],
) -> EventsFollowed:
    """Listen to the changes of `kinds` in the viewer's scope (or under `under`), after the
    cursor `after` if given; a client's mistake is raised before anything is registered."""
    live = live_of(context)
    parts = await running_parts(live)
    async with signed_in_again(context) as work:
        viewer, scope = work.viewer, work.viewer.scope
        if under is not None:
            scope = scope.narrowed_to((await committee_argument(work, under, "under")).path)
    position = None
    if after is not None:
        try:
            position = parts.cursors.open(after)
        except InvalidCursor as error:
            raise ClientError(str(error), argument="after") from error
    _check_user_limit(live, parts, viewer)
    listener = parts.hub.listen(scope.root_paths, after=position)
    try:
        await listener.replay()
    except BaseException:
        listener.close()
        raise
    unwatch = parts.access.watch(viewer, listener.roots, listener.end)
    live_subscriptions.inc(EVENTS_FIELD, "started")
    return EventsFollowed(parts, viewer, kinds, listener, unwatch)


async def changes_for(context: Context, followed: EventsFollowed) -> AsyncIterator[LiveChange]:
    """The changes of a started `progressEvents`, one by one, as they come (an event
    stream's; a websocket's are pushed)."""
    try:
        while True:
            try:
                change = await _before_expiry(context, followed.listener.next())
            except ListenerEnded as ended:
                raise stream_error(ended) from ended
            if change.kind not in followed.kinds:
                continue
            live_messages.inc(EVENTS_FIELD)
            yield await _shown(followed.parts, followed.viewer, change)
    finally:
        followed.finish()


async def start_progress(info: Info, committee_id: str, term_code: str | None) -> SummaryFollowed:
    """Follow the live summary of the committee for the term (the current one if none)."""
    if "timeline" in _selected_names(info):
        raise ClientError(
            "`timeline` is not live: query `committee { progress { timeline } }` instead.",
            argument="timeline",
        )
    context = info.context
    live = live_of(context)
    parts = await running_parts(live)
    async with signed_in_again(context) as work:
        viewer = work.viewer
        committee = await committee_argument(work, committee_id, "committeeId")
        term = await term_named(work, term_code)
    if term is None:
        raise NotFoundError("No such term.", argument="term")
    _check_user_limit(live, parts, viewer)
    follower = parts.summaries.of(committee, term).join()
    unwatch = parts.access.watch(viewer, (committee.path,), follower.end)
    live_subscriptions.inc(SUMMARY_FIELD, "started")
    return SummaryFollowed(parts, follower, unwatch)


async def summaries_for(
    context: Context, followed: SummaryFollowed
) -> AsyncIterator[SubtreeProgressFigures]:
    """The summaries of a started `progress`, as they change (an event stream's)."""
    try:
        while True:
            try:
                figures = await _before_expiry(context, anext(followed.follower))
            except ListenerEnded as ended:
                raise stream_error(ended) from ended
            live_messages.inc(SUMMARY_FIELD)
            yield figures
    finally:
        followed.finish()


async def _before_expiry(context: Context, waiting: Awaitable[Waited]) -> Waited:
    """What `waiting` gives, unless the token that opened the stream expires first."""
    if context.expires_at is None:
        return await waiting
    try:
        async with asyncio.timeout(max(0.0, context.expires_at - time.time())):
            return await waiting
    except TimeoutError:
        raise UnauthenticatedError("Your token expired: sign in again.") from None


def _selected_names(info: Info) -> set[str]:
    """The fields selected on the subscription's result (fragments' too)."""
    names: set[str] = set()
    pending: list[Selection] = []
    for field in info.selected_fields:
        pending.extend(field.selections if isinstance(field, SelectedField) else ())
    while pending:
        selection = pending.pop()
        if isinstance(selection, SelectedField):
            names.add(selection.name)
        else:
            pending.extend(selection.selections)
    return names


def _check_user_limit(live: Live, parts: LiveParts, viewer: Viewer) -> None:
    limit = live.settings.live_subscriptions_per_user
    if parts.access.subscriptions_of(viewer.user_id) >= limit:
        raise CostLimitError(
            f"You already hold {limit} live subscriptions on this server; end one first.",
            limit=limit,
        )


async def _shown(parts: LiveParts, viewer: Viewer, change: FeedChange) -> LiveChange:
    names = await parts.names.of(committees_named(change, viewer.scope))
    return shown_as(change, viewer.scope, names, parts.cursors)


def handling_committee_seen(change: FeedChange, scope: Scope) -> int | None:
    """The level handling the change's difficulty, if `scope` sees it. The whole scope,
    not `under`: a level above `under` that the viewer sees is shown."""
    handling_path = change.payload.get("handlingCommitteePath")
    if handling_path is None or not scope.contains(str(handling_path)):
        return None
    return int(change.payload["handlingCommitteeId"])


def committees_named(change: FeedChange, scope: Scope) -> list[int]:
    """The committees whose names showing `change` to `scope` takes."""
    handling_id = handling_committee_seen(change, scope)
    return [change.committee_id] if handling_id is None else [change.committee_id, handling_id]


def shown_as(
    change: FeedChange, scope: Scope, names: Mapping[int, CommitteeName], cursors: FeedCursors
) -> LiveChange:
    """`change` as `scope` sees it, the names it takes already read."""
    handling_id = handling_committee_seen(change, scope)
    return LiveChange(
        feed=change,
        cursor=cursors.seal(change.position),
        committee=names[change.committee_id],
        handled_at=None if handling_id is None else names[handling_id],
    )


def stream_error(ended: ListenerEnded) -> ClientError:
    """What a subscriber is told when its subscription ends from the server's side."""
    if isinstance(ended, ResyncRequired):
        return ResyncRequiredError(
            "More changes happened since your cursor than can be replayed: reload, then "
            "subscribe again without `after`."
        )
    if isinstance(ended, FellBehind):
        return ResyncRequiredError(
            "You were not reading fast enough and were disconnected: subscribe again with "
            "`after` set to the last cursor you received."
        )
    if isinstance(ended, AccessEnded):
        return ended.as_error()
    if isinstance(ended, HubStopped):
        return UnavailableError(
            "This server is stopping: subscribe again (with `after` set to your last cursor)."
        )
    return UnavailableError("The subscription ended: subscribe again.")
