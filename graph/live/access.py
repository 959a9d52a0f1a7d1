"""Who may still listen: long-lived subscriptions follow revocations as requests do.

A request reads the viewer's status and assignments afresh each time; a subscription lives
for hours. So each worker keeps its live subscriptions by user, and when the feed says a
user's access changed (a role revoked, the user deactivated: `ChangeKind.ACCESS`) or the
tree changed (paths move: `ChangeKind.TREE`), it reads those users again and ends every
subscription over a subtree they no longer see, with a message saying why. The feed reaches
every worker within the poll interval, so this holds on all of them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from graph.live.hub import FeedChange, ListenerEnded
from models.change_feed import ChangeKind
from permissions.viewer import Viewer, load_active_viewer

logger = logging.getLogger("congress.live")


class AccessEnded(ListenerEnded):
    """The subscriber may no longer see this subtree (or anything)."""


@dataclass(eq=False, slots=True)
class Watched:
    """One live subscription as the access check sees it."""

    subject: str
    roots: tuple[str, ...]
    end: Callable[[ListenerEnded], None]


@dataclass(slots=True)
class LiveAccess:
    sessions: async_sessionmaker[AsyncSession]
    _by_user: dict[int, set[Watched]] = field(default_factory=dict)
    _checking: set[asyncio.Task[None]] = field(default_factory=set)

    def watch(
        self, viewer: Viewer, roots: Sequence[str], end: Callable[[ListenerEnded], None]
    ) -> Callable[[], None]:
        """Keep `end` to call if `viewer` loses sight of `roots`; returns the unwatch."""
        watched = Watched(viewer.subject, tuple(roots), end)
        self._by_user.setdefault(viewer.user_id, set()).add(watched)

        def unwatch() -> None:
            held = self._by_user.get(viewer.user_id)
            if held is not None:
                held.discard(watched)
                if not held:
                    del self._by_user[viewer.user_id]

        return unwatch

    def subscriptions_of(self, user_id: int) -> int:
        return len(self._by_user.get(user_id, ()))

    def changes_read(self, changes: Sequence[FeedChange]) -> None:
        """The hub's batch watcher: check again the users these changes concern."""
        if any(change.kind == ChangeKind.TREE for change in changes):
            users = set(self._by_user)
        else:
            users = {
                int(change.payload["userId"])
                for change in changes
                if change.kind == ChangeKind.ACCESS
                and int(change.payload["userId"]) in self._by_user
            }
        if users:
            task = asyncio.create_task(self._check(users), name="live-access-check")
            self._checking.add(task)
            task.add_done_callback(self._checking.discard)

    async def _check(self, user_ids: set[int]) -> None:
        try:
            for user_id in user_ids:
                held = list(self._by_user.get(user_id, ()))
                if not held:
                    continue
                async with self.sessions() as session:
                    viewer = await load_active_viewer(session, held[0].subject)
                for watched in held:
                    if viewer is None:
                        watched.end(AccessEnded("Your account is no longer active."))
                    elif not all(viewer.scope.contains(root) for root in watched.roots):
                        watched.end(AccessEnded("You no longer have a role covering this subtree."))
        except Exception:
            # The next change of theirs checks again; a failure must not stop the hub.
            logger.exception("checking live subscribers' access failed")
