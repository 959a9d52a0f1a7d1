"""Pushing live messages to websockets: each change is executed once for every group of
subscribers who would be shown it alike, and the same text goes to each of them.

A subscription's start runs as any operation does (strawberry: parsing, validation, limits,
the resolver's checks of scope and arguments). On a websocket, the resolver then hands the
started subscription to its connection (graph/live/handover.py) and returns, so no task,
generator or execution state is kept per subscription. From then on the worker's one `Pusher`:

- is told when a subscription's listener (graph/live/hub.py) or summary follower
  (graph/live/summaries.py) has something, and takes it all at once;
- reads the committee names the round takes in one statement;
- executes the subscription's document on each change once per `RenderGroup` (the same
  document, operation and variables) and per what the viewer may see of it (the level
  handling a difficulty, shown only inside the scope): hundreds of subscribers of one
  dashboard cost one execution and one JSON encoding per change, not hundreds;
- puts the text in each connection's `Outbox`, written by a task that exists only while
  there is something to write, so one slow socket holds up nobody else.

A subscription that ends from the server's side (access lost, a resync needed) is told
why in a last `next` with the error, then `complete`, as strawberry would have sent them.
A worker that stops closes its websockets first (uvicorn, with 1012): clients resume with
`after` elsewhere. Event streams over HTTP (Server-Sent Events) keep strawberry's own loop:
their response is the stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, cast

from graphql import ExecutionResult, GraphQLError, GraphQLSchema, parse
from graphql.execution import Executor, execute_subscription_event

from graph.errors import INTERNAL_SERVER_ERROR, is_client_error, log_unexpected_errors
from graph.live.cursors import FeedCursors
from graph.live.hub import FeedChange, ListenerEnded
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

logger = logging.getLogger("congress.live")


class Outbox:
    """The messages one websocket has yet to be sent, in order, each with its operation's
    id. A round of the pusher puts all it has at once (a replay: up to
    `CONGRESS_LIVE_REPLAY_LIMIT` changes); the writer then sends them without pausing unless
    the socket's buffer is full. So an outbox that still holds `limit` messages when the
    next round comes means a client that stopped reading (`accepts`)."""

    __slots__ = ("_closed", "_limit", "_pending", "_send", "_writing", "overflow")

    def __init__(
        self, send: Callable[[str], Awaitable[None]], limit: int, overflow: Callable[[], None]
    ) -> None:
        self._send = send
        self._limit = limit
        self.overflow = overflow
        # Made with the first message: a deque costs 600 bytes empty.
        self._pending: deque[tuple[str, str]] | None = None
        self._writing: asyncio.Task[None] | None = None
        self._closed = False

    def accepts(self) -> bool:
        """Whether to put more in: not once closed, nor while the messages of earlier
        rounds still wait `limit` deep (then `overflow` is called, once)."""
        if self._closed:
            return False
        if self._pending is not None and len(self._pending) >= self._limit:
            self.close()
            self.overflow()
            return False
        return True

    def put(self, operation_id: str, text: str) -> None:
        if self._closed:
            return
        if self._pending is None:
            self._pending = deque()
        self._pending.append((operation_id, text))
        if self._writing is None:
            self._writing = asyncio.create_task(self._write(), name="live-outbox")

    def forget(self, operation_id: str) -> None:
        """Drop what waits for an operation the client completed: it may reuse the id."""
        if self._pending:
            self._pending = deque(entry for entry in self._pending if entry[0] != operation_id)

    async def _write(self) -> None:
        try:
            while self._pending:
                await self._send(self._pending.popleft()[1])
        except Exception:
            # The socket is gone: its handler's shutdown ends its subscriptions.
            self.close()
        finally:
            self._writing = None

    def close(self) -> None:
        self._closed = True
        self._pending = None
        if self._writing is not None and self._writing is not asyncio.current_task():
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


# Told when a pushed subscription ended from the server's side, and why.
WhenDone = Callable[["Pushed", ListenerEnded], None]


class Pushed:
    """One subscription handed to a websocket: `progressEvents` (`shown` makes an event's
    root object) or `progress` (no `shown`: the summary is the root)."""

    __slots__ = (
        "_next_prefix",
        "closed",
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
        # Set when it sends nothing more (its connection stopped pushing it).
        self.closed = False
        self._next_prefix = _next_prefix(operation_id)

    def send_payload(self, payload: str) -> None:
        self.outbox.put(self.operation_id, self._next_prefix + payload + "}")

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

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="live-pusher")

    async def stop(self) -> None:
        if self._task is not None:
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
        while True:
            await self._woken.wait()
            self._woken.clear()
            while self._ready:
                round_ = list(self._ready)
                self._ready.clear()
                try:
                    await self._deliver(round_)
                except Exception:
                    # The database unreachable for the names, say: those subscribers are
                    # told to subscribe again (with `after`), the others go on.
                    logger.exception("live delivery failed; ending the subscriptions it held")
                    for pushed in round_:
                        self._end(pushed, ListenerEnded("delivery failed"))

    def _end(self, pushed: Pushed, ended: ListenerEnded) -> None:
        if pushed.closed:
            return
        try:
            pushed.when_done(pushed, ended)
        except Exception:
            logger.exception("ending a live subscription failed")

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
            # Completed by its client while the names were read, or its socket backed up.
            if pushed.closed or not pushed.outbox.accepts():
                continue
            for change in changes:
                payload = await self._event_payload(pushed, followed, change, names, rendered)
                pushed.send_payload(payload)
            live_messages.inc(EVENTS_FIELD, amount=len(changes))
        # Kept until the round ends: the render cache is keyed by their ids.
        taken = [(pushed, summary.follower.take_newest()) for pushed, summary in summaries]
        for pushed, figures in taken:
            if figures is None or pushed.closed or not pushed.outbox.accepts():
                continue
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
                self._end(pushed, ended)

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


def ending_messages(operation_id: str, ended: ListenerEnded) -> list[str]:
    """What a subscription ended from the server's side sends last: a `next` with the
    reason, then `complete` (as strawberry sends an error raised by a subscription)."""
    payload = payload_text(ExecutionResult(data=None, errors=[stream_error(ended)]))
    return [
        _next_prefix(operation_id) + payload + "}",
        encode_response({"id": operation_id, "type": "complete"}),
    ]


def _next_prefix(operation_id: str) -> str:
    """A `next` message of the operation up to its payload (the payload and "}" follow)."""
    return f'{{"id":{encode_response(operation_id)},"type":"next","payload":'


__all__ = [
    "Outbox",
    "Pushed",
    "Pusher",
    "RenderGroup",
    "WhenDone",
    "ending_messages",
]
