"""Where a subscription that has started goes: a websocket pushes it (graph/live/delivery.py);
over HTTP (an event stream) its resolver goes on yielding.

A websocket's handler (graph/live/connections.py) marks each operation's task with the
connection; the subscription's resolver, after its checks, hands what it started to it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from graph.live.subscriptions import EventsFollowed, LiveChange, SummaryFollowed


class PushingConnection(Protocol):
    """The websocket a subscription is handed to (graph/live/connections.py)."""

    def push_events(
        self, followed: EventsFollowed, shown: Callable[[LiveChange], object]
    ) -> None: ...

    def push_summaries(self, followed: SummaryFollowed) -> None: ...


# Set by a websocket's handler in each operation's task: where its subscription's
# resolver hands the started subscription. Unset over HTTP.
_pushing_to: ContextVar[PushingConnection | None] = ContextVar("pushing_to", default=None)


def pushing_to() -> PushingConnection | None:
    """The websocket this operation runs on, if it pushes its messages."""
    return _pushing_to.get()


def push_through(connection: PushingConnection) -> None:
    """Called at the start of a websocket operation's task (its context is its own)."""
    _pushing_to.set(connection)
