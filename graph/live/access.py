"""Who may still listen: long-lived subscriptions follow revocations as requests do.

A request reads the viewer's status and assignments afresh each time; a subscription lives
for hours. So each worker keeps its live subscriptions by user, and reads those users
again (one statement for all of them):
- at once when the feed says a user's access changed (a role revoked, the user
  deactivated: `ChangeKind.ACCESS`, appended by the API and the CLI alike) or the tree
  changed (`ChangeKind.TREE`); the feed reaches every worker within the poll interval;
- every `RECHECK_SECONDS` anyway, for what changes without a feed row (a tree import, an
  edit made in the database by hand).
Each subscription over a subtree its user no longer sees ends, saying why. If the check
itself fails (the database unreachable), the subscriptions it was checking end too: a
subscriber resubscribes, and is signed in again, rather than keep what it may have lost.
A subscription under a committee that moved or was merged away ends with RESYNC_REQUIRED:
its subtree is somewhere else now.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from graph.errors import (
    ClientError,
    NotFoundError,
    ResyncRequiredError,
    UnauthenticatedError,
    UnavailableError,
)
from graph.live.hub import FeedChange, ListenerEnded
from models.change_feed import ChangeKind
from models.tree import is_in_subtree
from permissions.viewer import Viewer, load_active_viewers

logger = logging.getLogger("congress.live")

# How often every live subscriber's access is read again even when nothing said it changed.
RECHECK_SECONDS = 30.0
# Tree changes after which the paths below the committee are not what they were.
_PATHS_MOVED = frozenset({"move", "merge"})


class AccessEnded(ListenerEnded):
    """The subscription may not go on; `as_error` is what its subscriber is told."""

    def as_error(self) -> ClientError:
        return UnavailableError(str(self))


class Deactivated(AccessEnded):
    def as_error(self) -> ClientError:
        return UnauthenticatedError("Your account is no longer active: sign in again.")


class SubtreeLost(AccessEnded):
    def as_error(self) -> ClientError:
        # As a committee outside the scope is answered everywhere: not found.
        return NotFoundError("You no longer have a role covering this subtree.")


class SubtreeMoved(AccessEnded):
    def as_error(self) -> ClientError:
        return ResyncRequiredError("This subtree moved: reload, then subscribe again.")


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
        users: set[int] = set()
        for change in changes:
            if change.kind == ChangeKind.TREE:
                if change.payload.get("action") in _PATHS_MOVED:
                    self._end_under(str(change.payload["previousPath"]))
                users.update(self._by_user)
            elif change.kind == ChangeKind.ACCESS:
                users.add(int(change.payload["userId"]))
        users &= self._by_user.keys()
        if users:
            task = asyncio.create_task(self._check(users), name="live-access-check")
            self._checking.add(task)
            task.add_done_callback(self._checking.discard)

    async def recheck_every(self, seconds: float) -> None:
        """Check every watched user again every `seconds`, until cancelled."""
        while True:
            await asyncio.sleep(seconds)
            await self._check(set(self._by_user))

    def _end_under(self, moved_path: str) -> None:
        for held in list(self._by_user.values()):
            for watched in list(held):
                if any(is_in_subtree(root, moved_path) for root in watched.roots):
                    watched.end(SubtreeMoved("the subtree moved"))

    async def _check(self, user_ids: Iterable[int]) -> None:
        held = {user_id: list(self._by_user.get(user_id, ())) for user_id in user_ids}
        subjects = {watched.subject for found in held.values() for watched in found}
        try:
            async with self.sessions() as session:
                viewers = await load_active_viewers(session, subjects)
        except Exception:
            logger.exception("checking live subscribers' access failed; ending theirs")
            for found in held.values():
                for watched in found:
                    watched.end(AccessEnded("Your access could not be checked: subscribe again."))
            return
        for found in held.values():
            for watched in found:
                viewer = viewers.get(watched.subject)
                if viewer is None:
                    watched.end(Deactivated("deactivated"))
                elif not all(viewer.scope.contains(root) for root in watched.roots):
                    watched.end(SubtreeLost("role revoked"))
