"""Per-request DataLoaders: nested fields cost one statement per level, not one per object.

They are built fresh for every request with that request's session and scope, so a cache
never outlives a request or crosses from one viewer to another.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from models import Committee, Congress, Difficulty, DifficultyEvent, Role, User
from models.base import MAX_KEYS_PER_STATEMENT
from permissions import visible, visible_difficulties
from permissions.viewer import Grant, Viewer


@dataclass(frozen=True, slots=True)
class ChildrenPageKey:
    parent_id: int
    limit: int
    after_id: int | None
    include_closed: bool


@dataclass(frozen=True, slots=True)
class ChildrenCountKey:
    parent_id: int
    include_closed: bool


@dataclass(frozen=True, slots=True)
class CongressKey:
    committee_id: int
    term_id: int


class Loaders:
    """The DataLoaders of one request, each made when first used (most requests use few)."""

    def __init__(self, session: AsyncSession, viewer: Viewer) -> None:
        self._session = session
        self._scope = viewer.scope
        # Users are visible where the viewer administers, not merely where they can read.
        self._admin_scope = viewer.scope_for(Role.ADMIN)

    @cached_property
    def committee_by_id(self) -> DataLoader[int, Committee | None]:
        return DataLoader(load_fn=self._committees_by_id, max_batch_size=MAX_KEYS_PER_STATEMENT)

    @cached_property
    def committee_by_code(self) -> DataLoader[str, Committee | None]:
        # Root fields asking for committees by code (aliases of `committee(code:)`) read
        # them in one statement, as a page's children are.
        return DataLoader(load_fn=self._committees_by_code, max_batch_size=MAX_KEYS_PER_STATEMENT)

    @cached_property
    def children_page(self) -> DataLoader[ChildrenPageKey, list[Committee]]:
        return DataLoader(load_fn=self._children_pages, max_batch_size=MAX_KEYS_PER_STATEMENT)

    @cached_property
    def children_count(self) -> DataLoader[ChildrenCountKey, int]:
        return DataLoader(load_fn=self._children_counts, max_batch_size=MAX_KEYS_PER_STATEMENT)

    @cached_property
    def user_by_id(self) -> DataLoader[int, User | None]:
        return DataLoader(load_fn=self._users_by_id, max_batch_size=MAX_KEYS_PER_STATEMENT)

    @cached_property
    def grants_of_user(self) -> DataLoader[int, list[Grant]]:
        return DataLoader(load_fn=self._grants_of_users, max_batch_size=MAX_KEYS_PER_STATEMENT)

    @cached_property
    def congress(self) -> DataLoader[CongressKey, Congress | None]:
        return DataLoader(load_fn=self._congresses, max_batch_size=MAX_KEYS_PER_STATEMENT)

    @cached_property
    def difficulty_by_id(self) -> DataLoader[int, Difficulty | None]:
        return DataLoader(load_fn=self._difficulties_by_id, max_batch_size=MAX_KEYS_PER_STATEMENT)

    @cached_property
    def difficulty_events_page(self) -> DataLoader[DifficultyEventsPageKey, list[DifficultyEvent]]:
        return DataLoader(
            load_fn=self._difficulty_events_pages, max_batch_size=MAX_KEYS_PER_STATEMENT
        )

    @cached_property
    def difficulty_events_count(self) -> DataLoader[int, int]:
        return DataLoader(
            load_fn=self._difficulty_events_counts, max_batch_size=MAX_KEYS_PER_STATEMENT
        )

    async def _users_by_id(self, ids: Sequence[int]) -> list[User | None]:
        found = await visible.users_by_ids(self._session, self._admin_scope, ids)
        return [found.get(user_id) for user_id in ids]

    async def _grants_of_users(self, user_ids: Sequence[int]) -> list[list[Grant]]:
        found = await visible.grants_of_users(self._session, self._admin_scope, user_ids)
        return [found[user_id] for user_id in user_ids]

    async def _committees_by_id(self, ids: Sequence[int]) -> list[Committee | None]:
        found = await visible.committees_by_ids(self._session, self._scope, ids)
        return [found.get(committee_id) for committee_id in ids]

    async def _committees_by_code(self, codes: Sequence[str]) -> list[Committee | None]:
        found = await visible.committees_by_codes(self._session, self._scope, codes)
        return [found.get(code) for code in codes]

    async def _children_pages(self, keys: Sequence[ChildrenPageKey]) -> list[list[Committee]]:
        # Keys of one nested query share their window: one statement per distinct window.
        parents_by_window: dict[tuple[int, int | None, bool], list[int]] = defaultdict(list)
        for key in keys:
            parents_by_window[key.limit, key.after_id, key.include_closed].append(key.parent_id)
        pages: dict[ChildrenPageKey, list[Committee]] = {}
        for (limit, after_id, include_closed), parent_ids in parents_by_window.items():
            found = await visible.children_pages(
                self._session,
                self._scope,
                parent_ids,
                limit=limit,
                after_id=after_id,
                include_closed=include_closed,
            )
            for parent_id, children in found.items():
                pages[ChildrenPageKey(parent_id, limit, after_id, include_closed)] = children
        return [pages[key] for key in keys]

    async def _children_counts(self, keys: Sequence[ChildrenCountKey]) -> list[int]:
        counts: dict[ChildrenCountKey, int] = {}
        for include_closed in {key.include_closed for key in keys}:
            parent_ids = [key.parent_id for key in keys if key.include_closed == include_closed]
            found = await visible.children_counts(
                self._session, self._scope, parent_ids, include_closed=include_closed
            )
            counts.update(
                {ChildrenCountKey(parent, include_closed): n for parent, n in found.items()}
            )
        return [counts[key] for key in keys]

    async def _congresses(self, keys: Sequence[CongressKey]) -> list[Congress | None]:
        committees_by_term: dict[int, list[int]] = defaultdict(list)
        for key in keys:
            committees_by_term[key.term_id].append(key.committee_id)
        found: dict[CongressKey, Congress] = {}
        for term_id, committee_ids in committees_by_term.items():
            congresses = await visible.congresses_for(
                self._session, self._scope, term_id, committee_ids
            )
            found.update({CongressKey(c.committee_id, term_id): c for c in congresses.values()})
        return [found.get(key) for key in keys]

    async def _difficulties_by_id(self, ids: Sequence[int]) -> list[Difficulty | None]:
        found = await visible_difficulties.difficulties_by_ids(self._session, self._scope, ids)
        return [found.get(difficulty_id) for difficulty_id in ids]

    async def _difficulty_events_pages(
        self, keys: Sequence[DifficultyEventsPageKey]
    ) -> list[list[DifficultyEvent]]:
        # As for children: one statement per distinct window of one nested query.
        ids_by_window: dict[tuple[int, int | None], list[int]] = defaultdict(list)
        for key in keys:
            ids_by_window[key.limit, key.after_id].append(key.difficulty_id)
        pages: dict[DifficultyEventsPageKey, list[DifficultyEvent]] = {}
        for (limit, after_id), difficulty_ids in ids_by_window.items():
            found = await visible_difficulties.event_pages(
                self._session, self._scope, difficulty_ids, limit=limit, after_id=after_id
            )
            for difficulty_id, events in found.items():
                pages[DifficultyEventsPageKey(difficulty_id, limit, after_id)] = events
        return [pages[key] for key in keys]

    async def _difficulty_events_counts(self, difficulty_ids: Sequence[int]) -> list[int]:
        found = await visible_difficulties.event_counts(self._session, self._scope, difficulty_ids)
        return [found[difficulty_id] for difficulty_id in difficulty_ids]


@dataclass(frozen=True, slots=True)
class DifficultyEventsPageKey:
    difficulty_id: int
    limit: int
    after_id: int | None
