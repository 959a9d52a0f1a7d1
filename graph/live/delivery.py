"""Pushing live messages to websockets: each change is executed once for every group of
subscribers who would be shown it alike, and the same text goes to each of them.

A subscription's start runs as any operation does (strawberry: parsing, validation, limits,
the resolver's checks of scope and arguments). On a websocket, the resolver then hands the
started subscription to its connection (graph/live/handover.py) and returns, so no task, generator
or execution state is kept per subscription. From then on the worker's one `Pusher`:

- is told when a subscription's listener (graph/live/hub.py) or summary follower
  (graph/live/summaries.py) has something, and takes it all at once;
- reads the committee names the round takes in one statement;
- executes the subscription's document on each change once per `RenderGroup` (the same
  document, operation and variables) and per what the viewer may see of it (the level
  handling a difficulty, shown only inside the scope): hundreds of subscribers of one
  dashboard cost one execution and one JSON encoding per change, not hundreds;
- puts the text in each connection's `Outbox`, written by a task that exists only while
  there is something to write, so one slow socket holds up nobody else.

A subscription that ends from the server's side (access lost, a resync needed, the server
stopping) is told why in a last `next` with the error, then `complete`, as strawberry would
have sent them. Event streams over HTTP (Server-Sent Events) keep strawberry's own loop:
their response is the stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from graphql import ExecutionResult, GraphQLError, GraphQLSchema, parse
from graphql.execution import Executor, execute_subscription_event

from graph.errors import INTERNAL_SERVER_ERROR, is_client_error, log_unexpected_errors
from graph.live.cursors import FeedCursors
from graph.live.hub import FeedChange, FellBehind, ListenerEnded
from graph.live.names import CommitteeName, CommitteeNames
from graph.live.subscriptions import (
    EVENTS_FIELD,
    SUMMARY_FIELD,
    EventsFollowed,
    LiveChange,
    SummaryFollowed,
    committees_named,
    handling_committee_seen,
    shown_as,
    stream_error,
)
from graph.observability.metrics import live_messages, live_renders
from graph.response_json import encode_response

if TYPE_CHECKING:
    # Imports the schema, which imports this module.
    pass

logger = logging.getLogger("congress.live")

# How long a stopping worker's pusher may take to tell its subscribers why they end.
STOP_SECONDS = 1.0


class Outbox:
    """The messages one websocket has yet to be sent, in order. Past `limit` waiting (the
    client stopped reading and the socket's buffer is full), `overflowed` is called once
    and nothing more is kept."""

    __slots__ = ("_limit", "_overflowed", "_pending", "_send", "_writing", "overflow")

    def __init__(
        self, send: Callable[[str], Awaitable[None]], limit: int, overflow: Callable[[], None]
    ) -> None:
        self._send = send
        self._limit = limit
        self.overflow = overflow
        # Made with the first message: a deque costs 600 bytes empty.
        self._pending: deque[str] | None = None
        self._writing: asyncio.Task[None] | None = None
        self._overflowed = False

    def put(self, text: str) -> None:
        if self._overflowed:
            return
        if self._pending is None:
            self._pending = deque()
        if len(self._pending) >= self._limit:
            self._overflowed = True
            self._pending.clear()
            self.overflow()
            return
        self._pending.append(text)
        if self._writing is None:
            self._writing = asyncio.create_task(self._write(), name="live-outbox")

    async def _write(self) -> None:
        pending = self._pending
        try:
            while pending:
                await self._send(pending[0])
                if pending:  # not cleared meanwhile by an overflow
                    pending.popleft()
        except Exception:
            # The socket is gone: its handler's shutdown ends its subscriptions.
            self.close()
        finally:
            self._writing = None

    def close(self) -> None:
        self._overflowed = True
        self._pending = None
        if self._writing is not None:
            self._writing.cancel()


@dataclass(eq=False, slots=True)
class RenderGroup:
    """The subscribers of one document, operation and variables: a change is executed and
    encoded once for all of them (per what they may see of it)."""

    key: Hashable
    query: str
    executor: Executor[Any]
    members: int = 0

    async def render(self, root: object) -> str:
        """The `payload` of a `next` message for the event `root`, as JSON text."""
        result: Any = execute_subscription_event(self.executor.build_per_event_executor(root))
        if self.executor.is_awaitable(result):
            result = await result
        return payload_text(cast("ExecutionResult", result))


def payload_text(result: ExecutionResult) -> str:
    """A result as a `next` message's payload. A client error is shown as it is; anything
    else is a bug (the subscription's arguments were checked when it started), logged
    with its traceback and shown as a generic error in every environment: the text is
    shared by many subscribers, and no request of theirs caused it."""
    payload: dict[str, object] = {"data": result.data}
    if result.errors:
        log_unexpected_errors(list(result.errors), None)
        payload["errors"] = [
            (error if is_client_error(error) else _UNEXPECTED).formatted for error in result.errors
        ]
    return encode_response(payload)


_UNEXPECTED = GraphQLError(
    "Unexpected error while preparing a live update; it was logged.",
    extensions={"code": INTERNAL_SERVER_ERROR},
)


# Told when a pushed subscription ended from the server's side, and why (None: closed).
WhenDone = Callable[["Pushed", ListenerEnded | None], None]


class Pushed:
    """One subscription handed to a websocket: `progressEvents` (`shown` makes an event's
    root object) or `progress` (no `shown`: the summary is the root)."""

    __slots__ = (
        "_next_prefix",
        "followed",
        "group",
        "operation_id",
        "outbox",
        "shown",
        "when_done",
    )

    def __init__(
        self,
        followed: EventsFollowed | SummaryFollowed,
        shown: Callable[[LiveChange], object] | None,
        operation_id: str,
        group: RenderGroup,
        outbox: Outbox,
        when_done: WhenDone,
    ) -> None:
        self.followed = followed
        self.shown = shown
        self.operation_id = operation_id
        self.group = group
        self.outbox = outbox
        self.when_done = when_done
        self._next_prefix = f'{{"id":{encode_response(operation_id)},"type":"next","payload":'

    def send_payload(self, payload: str) -> None:
        self.outbox.put(self._next_prefix + payload + "}")

    def listen(self, ready: Callable[[Pushed], None]) -> None:
        """Tell `ready` whenever there is something to send or the subscription ended,
        and now: the replay or the summary read at the start may be waiting."""
        self.followed.source.on_ready = lambda: ready(self)
        ready(self)

    def ended(self) -> ListenerEnded | None:
        return self.followed.source.ended


@dataclass(eq=False)
class Pusher:
    """The worker's one delivery loop for websocket subscriptions (module docstring)."""

    names: CommitteeNames
    cursors: FeedCursors
    _groups: dict[Hashable, RenderGroup] = field(default_factory=dict)
    _ready: dict[Pushed, None] = field(default_factory=dict)
    _woken: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _stopping: bool = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="live-pusher")

    async def drain_and_stop(self) -> None:
        """Deliver what is ready (the hub, stopped first, ended every subscription: each is
        told why), then stop; cancelled past `STOP_SECONDS`."""
        if self._task is None:
            return
        self._stopping = True
        self._woken.set()
        await asyncio.wait({self._task}, timeout=STOP_SECONDS)
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    def group_for(
        self,
        schema: GraphQLSchema,
        executor_class: type[Executor[Any]],
        query: str,
        operation_name: str | None,
        variables: dict[str, object] | None,
    ) -> RenderGroup:
        """The render group of a subscription that has just started with this document
        (so it parses, validates and its variables coerce)."""
        key = (query, operation_name, encode_response(variables or {}))
        group = self._groups.get(key)
        if group is None:
            executor = executor_class.build(
                schema,
                parse(query),
                raw_variable_values=variables,
                operation_name=operation_name,
            )
            if not isinstance(executor, Executor):
                raise RuntimeError(f"a started subscription no longer builds: {executor}")
            group = self._groups[key] = RenderGroup(key, query, executor)
        group.members += 1
        return group

    def ready(self, pushed: Pushed) -> None:
        """`pushed` has something to send, or ended."""
        self._ready[pushed] = None
        self._woken.set()

    def leave(self, pushed: Pushed) -> None:
        """`pushed` sends nothing more."""
        self._ready.pop(pushed, None)
        group = pushed.group
        group.members -= 1
        if group.members == 0 and self._groups.get(group.key) is group:
            del self._groups[group.key]

    async def _run(self) -> None:
        while not self._stopping:
            await self._woken.wait()
            self._woken.clear()
            while self._ready:
                round_ = list(self._ready)
                self._ready.clear()
                try:
                    await self._deliver(round_)
                except Exception:
                    logger.exception("live delivery failed; ending the subscriptions it held")
                    for pushed in round_:
                        pushed.when_done(pushed, ListenerEnded("delivery failed"))

    async def _deliver(self, round_: list[Pushed]) -> None:
        events: list[tuple[Pushed, EventsFollowed, list[FeedChange]]] = []
        summaries: list[tuple[Pushed, SummaryFollowed]] = []
        named: set[int] = set()
        for pushed in round_:
            followed = pushed.followed
            if isinstance(followed, EventsFollowed):
                changes = followed.take()
                if changes:
                    events.append((pushed, followed, changes))
                    for change in changes:
                        named.update(committees_named(change, followed.viewer.scope))
            else:
                summaries.append((pushed, followed))
        names = await self.names.of(named) if named else {}
        rendered: dict[tuple[int, Hashable], str] = {}
        for pushed, followed, changes in events:
            for change in changes:
                payload = await self._event_payload(pushed, followed, change, names, rendered)
                pushed.send_payload(payload)
            live_messages.inc(EVENTS_FIELD, amount=len(changes))
        for pushed, summary in summaries:
            figures = summary.follower.take_newest()
            if figures is not None:
                key = (id(pushed.group), id(figures))
                shown = rendered.get(key)
                if shown is None:
                    shown = rendered[key] = await pushed.group.render(figures)
                    live_renders.inc(SUMMARY_FIELD)
                pushed.send_payload(shown)
                live_messages.inc(SUMMARY_FIELD)
        for pushed in round_:
            ended = pushed.ended()
            if ended is not None:
                pushed.when_done(pushed, ended)

    async def _event_payload(
        self,
        pushed: Pushed,
        followed: EventsFollowed,
        change: FeedChange,
        names: dict[int, CommitteeName],
        rendered: dict[tuple[int, Hashable], str],
    ) -> str:
        scope = followed.viewer.scope
        # What differs between viewers of one change: whether they see the level handling it.
        key = (id(pushed.group), (change.position, handling_committee_seen(change, scope)))
        payload = rendered.get(key)
        if payload is None:
            shown = shown_as(change, scope, names, self.cursors)
            root = shown if pushed.shown is None else pushed.shown(shown)
            payload = rendered[key] = await pushed.group.render(root)
            live_renders.inc(EVENTS_FIELD)
        return payload


def ending_messages(operation_id: str, ended: ListenerEnded | None) -> list[str]:
    """What a subscription ended from the server's side sends last: a `next` with the
    reason, then `complete`. None when it fell behind: its socket is closed instead."""
    if isinstance(ended, FellBehind):
        return []
    messages: list[str] = []
    if ended is not None:
        error = stream_error(ended)
        payload = payload_text(ExecutionResult(data=None, errors=[error]))
        messages.append(
            f'{{"id":{encode_response(operation_id)},"type":"next","payload":{payload}}}'
        )
    messages.append(encode_response({"id": operation_id, "type": "complete"}))
    return messages


__all__ = [
    "Outbox",
    "Pushed",
    "Pusher",
    "RenderGroup",
    "WhenDone",
    "ending_messages",
]
