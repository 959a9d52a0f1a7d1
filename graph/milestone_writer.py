"""Milestone writes that arrive together share one transaction.

On a busy day many officials record milestones at once, and one write costs its
statements whoever sends it. Each worker has one `MilestoneWriter`: a request hands its
write over (with the rule of who may record where) and waits; the writer takes every write
waiting at that moment and records them in one transaction (models.milestone_batch), then
answers each. A write's outcome is its own: a refused write changes nothing and the others
go on; exactly-once keys are replayed and kept in the same transaction as the writes. If the
transaction fails for any other reason, every write of that batch is tried again alone,
so a failure reaches only the request that caused it.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from graph.resolvers.mutations import (
    MAX_ATTEMPTS,
    Answer,
    is_transient,
    pause_before_retry,
    too_busy,
)
from models import idempotency
from models.congress import Congress, Term
from models.milestone_batch import MilestoneWrite, record_milestones
from models.progress import IdempotencyRecord
from models.refusals import Contention, Refusal

OPERATION: Final = "recordMilestone"
# Writes per transaction at most: a bound on how long one batch holds SQLite's write lock.
MAX_BATCH: Final = 64


@dataclass(frozen=True, slots=True)
class Keyed:
    """An exactly-once write: the user's key and the fingerprint of what they sent."""

    user_id: int
    key: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Written:
    """A write's answer, with its congress (and term) as committed when the writer read it:
    the request can answer without reading it again. None for a replayed answer."""

    answer: Answer
    committed: tuple[Congress, Term] | None


Outcome = Written | Refusal


@dataclass(slots=True)
class _Waiting:
    write: MilestoneWrite
    keyed: Keyed | None
    answer: asyncio.Future[Outcome]


class MilestoneWriter:
    """The worker's milestone writes: one batch in its transaction at a time."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._waiting: list[_Waiting] = []
        self._draining: asyncio.Task[None] | None = None

    async def record(self, write: MilestoneWrite, keyed: Keyed | None) -> Outcome:
        """Record `write` with whatever else is waiting; its own outcome."""
        answer: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(write, keyed, answer))
        if self._draining is None or self._draining.done():
            # A context of its own: the batch serves many requests, so none's time budget
            # (models/statement_deadline.py) may stop it.
            self._draining = asyncio.create_task(self._drain(), context=contextvars.Context())
        # Shielded: a client that goes away does not cancel the others' transaction (its
        # write may still be recorded, as it would be had it left just after the commit).
        return await asyncio.shield(answer)

    async def _drain(self) -> None:
        batch: Sequence[_Waiting] = ()
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
                await self._answer(batch)
        finally:
            # Stopped midway (the worker shutting down): nobody may wait for ever.
            stranded, self._waiting = [*batch, *self._waiting], []
            for waiting in stranded:
                _settle(waiting, RuntimeError("The server stopped before recording this."))

    async def _answer(self, batch: Sequence[_Waiting]) -> None:
        try:
            outcomes = await self._write(batch)
        except Exception as error:
            if len(batch) == 1:
                _settle(batch[0], error)
                return
            # One write broke the transaction: each alone, so only that one fails.
            for waiting in batch:
                await self._answer([waiting])
            return
        for waiting, outcome in zip(batch, outcomes, strict=True):
            _settle(waiting, outcome)

    async def _write(self, batch: Sequence[_Waiting]) -> list[Outcome]:
        """One transaction for the batch, started over from fresh reads when another writer
        got in between (as `run_mutation` does for one write)."""
        for _attempt in range(MAX_ATTEMPTS):
            try:
                async with self._sessions() as session, session.begin():
                    return await _record(session, batch)
            except Contention:
                pass
            except DBAPIError as error:
                if not is_transient(error):
                    raise
            await pause_before_retry()
        return [too_busy()] * len(batch)


async def _record(session: AsyncSession, batch: Sequence[_Waiting]) -> list[Outcome]:
    """The batch's outcomes: first answers for keys used before, the writes' for the rest.
    A key sent twice in one batch is written once; the second gets the first's answer."""
    first_answers = await idempotency.records(
        session, [(w.keyed.user_id, w.keyed.key) for w in batch if w.keyed is not None]
    )
    outcomes: dict[int, Outcome] = {}
    to_write: list[int] = []
    first_with_key: dict[tuple[int, str], tuple[int, Keyed]] = {}
    for position, waiting in enumerate(batch):
        keyed = waiting.keyed
        if keyed is None:
            to_write.append(position)
            continue
        stored = first_answers.get((keyed.user_id, keyed.key))
        if stored is not None:
            outcomes[position] = _replayed(stored, keyed)
        elif (keyed.user_id, keyed.key) not in first_with_key:
            first_with_key[keyed.user_id, keyed.key] = (position, keyed)
            to_write.append(position)
    written = await record_milestones(session, [batch[p].write for p in to_write])
    for position, outcome in zip(to_write, written, strict=True):
        if isinstance(outcome, Refusal):
            outcomes[position] = outcome
            continue
        answer = Answer(outcome.congress.id, outcome.version)
        outcomes[position] = Written(answer, (outcome.congress, outcome.term))
        keyed = batch[position].keyed
        if keyed is not None:
            idempotency.remember(
                session, keyed.user_id, keyed.key, OPERATION, keyed.fingerprint,
                {"id": answer.row_id, "version": answer.version},
            )  # fmt: skip
    try:
        await session.flush()
    except IntegrityError as error:
        # A concurrent request with one of these keys committed first: start over, and its
        # answer is replayed.
        raise Contention("idempotency key taken concurrently") from error
    for position, waiting in enumerate(batch):
        if position not in outcomes and waiting.keyed is not None:
            first, first_keyed = first_with_key[waiting.keyed.user_id, waiting.keyed.key]
            outcomes[position] = _repeat_of(outcomes[first], first_keyed, waiting.keyed)
    return [outcomes[position] for position in range(len(batch))]


def _settle(waiting: _Waiting, outcome: Outcome | Exception) -> None:
    if waiting.answer.done():
        return
    if isinstance(outcome, Exception) and not isinstance(outcome, Refusal):
        waiting.answer.set_exception(outcome)
    else:
        waiting.answer.set_result(outcome)


def _replayed(stored: IdempotencyRecord, keyed: Keyed) -> Outcome:
    try:
        answer = idempotency.first_answer(stored, OPERATION, keyed.fingerprint)
    except Refusal as refusal:
        return refusal
    return Written(Answer(int(answer["id"]), int(answer["version"]), replayed=True), None)


def _repeat_of(first: Outcome, first_keyed: Keyed, repeat: Keyed) -> Outcome:
    """A key's second use in the batch that wrote its first: the same answer if the input is
    the same (a refusal stays a refusal: nothing was kept for the key)."""
    if first_keyed.fingerprint != repeat.fingerprint:
        return idempotency.reused_key()
    if isinstance(first, Written):
        replayed = Answer(first.answer.row_id, first.answer.version, replayed=True)
        return Written(replayed, first.committed)
    return first
