"""The unit of work's batching strategy for `recordMilestone`: writes that arrive together
share one transaction.

On a busy day many officials record milestones at once, and one write costs its
statements whoever sends it. Each worker has one `MilestoneWriter`: a request hands its
write over (with the policy's rule of who may record where) and waits; the writer takes
every write waiting at that moment and records them in one transaction
(models.milestone_batch), then answers each. A write's outcome is its own: a refused write
changes nothing and the others go on. Everything else is the unit of work's
(domain/unit_of_work.py): its retries (`with_retries`), its exactly-once replay
(domain/exactly_once.py, for many keys at once), the events, audit rows and feed rows of
every write in the same transaction. If the transaction fails for any other reason, every
write of that batch is tried again alone, so a failure reaches only the request that
caused it.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import exactly_once
from domain.exactly_once import Answer, Keyed
from domain.unit_of_work import UnitOfWork, commit_or_outcome_unknown, with_retries
from models.congress import Congress, Term
from models.database import lock_wait_budget
from models.milestone_batch import MilestoneWrite, record_milestones
from models.refusals import NO_COMMITTEE, NotVisible, OutcomeUnknown, Refusal
from models.tree import Committee
from permissions import policy

OPERATION: Final = "recordMilestone"
# Writes per transaction at most: a bound on how long one batch holds SQLite's write lock.
MAX_BATCH: Final = 64


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
    # Told as the batch's commit is sent (UnitOfWork.sending_commit).
    sending_commit: Callable[[], None]


class MilestoneWriter:
    """The worker's milestone writes: one batch in its transaction at a time."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._waiting: list[_Waiting] = []
        self._draining: asyncio.Task[None] | None = None

    async def record_for(
        self, unit: UnitOfWork, write: MilestoneWrite, keyed: Keyed | None
    ) -> Outcome:
        """The unit of work's road for one milestone: the request's own transaction ends
        (and with it its hold on a connection while it waits), then the write is recorded
        in the worker's shared transaction with whatever else is waiting."""
        await unit.session.rollback()
        unit.forget_reads()
        return await self.record(write, keyed, unit.sending_commit)

    async def record(
        self,
        write: MilestoneWrite,
        keyed: Keyed | None,
        sending_commit: Callable[[], None] = lambda: None,
    ) -> Outcome:
        """Record `write` with whatever else is waiting; its own outcome."""
        answer: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(write, keyed, answer, sending_commit))
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
        except OutcomeUnknown as error:
            # Committed or not, nobody can tell: none is written again here (each client
            # repeats its own with its key, which finds it if it was).
            for waiting in batch:
                _settle(waiting, error)
            return
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
        got in between (the unit of work's retries)."""

        async def attempt() -> list[Outcome]:
            async with self._sessions() as session:
                outcomes = await _record(session, batch)
                for waiting in batch:
                    waiting.sending_commit()
                await commit_or_outcome_unknown(session)  # what is left open rolls back
                return outcomes

        async def nothing_to_undo() -> None:
            pass  # each attempt's session rolled back as it ended

        outcomes = await with_retries(attempt, nothing_to_undo, lock_wait_budget(self._sessions))
        return outcomes if isinstance(outcomes, list) else [outcomes] * len(batch)


def may_record(unit: UnitOfWork) -> Callable[[Committee], None]:
    """The policy's rule for a milestone, as the batch applies it to the committee it reads:
    what `visible_committee` and `policy.may_record_progress` say for a single write."""

    def check(committee: Committee) -> None:
        if not unit.viewer.scope.contains(committee.path):
            raise NotVisible(NO_COMMITTEE, field="committeeId")
        policy.may_record_progress(unit.viewer, committee)

    return check


async def _record(session: AsyncSession, batch: Sequence[_Waiting]) -> list[Outcome]:
    """The batch's outcomes: first answers for keys used before, the writes' for the rest.
    A key sent twice in one batch is written once; the second gets the first's answer."""
    keyed = [(position, w.keyed) for position, w in enumerate(batch) if w.keyed is not None]
    first_answers = await exactly_once.first_answers(session, [key for _, key in keyed])
    stored_answers = {
        position: answer for (position, _), answer in zip(keyed, first_answers, strict=True)
    }
    outcomes: dict[int, Outcome] = {}
    to_write: list[int] = []
    first_with_key: dict[tuple[int, str], tuple[int, Keyed]] = {}
    for position, waiting in enumerate(batch):
        write_key = waiting.keyed
        if write_key is None:
            to_write.append(position)
            continue
        stored = stored_answers[position]
        if stored is not None:
            outcomes[position] = stored if isinstance(stored, Refusal) else Written(stored, None)
        elif write_key.identity not in first_with_key:
            first_with_key[write_key.identity] = (position, write_key)
            to_write.append(position)
    written = await record_milestones(session, [batch[p].write for p in to_write])
    for position, outcome in zip(to_write, written, strict=True):
        if isinstance(outcome, Refusal):
            outcomes[position] = outcome
            continue
        answer = Answer(outcome.congress.id, outcome.version)
        outcomes[position] = Written(answer, (outcome.congress, outcome.term))
        write_key = batch[position].keyed
        if write_key is not None:
            exactly_once.keep(session, write_key, answer)
    await exactly_once.flush_kept(session)
    for position, waiting in enumerate(batch):
        if position not in outcomes and waiting.keyed is not None:
            first, first_key = first_with_key[waiting.keyed.identity]
            outcomes[position] = _repeat_of(outcomes[first], first_key, waiting.keyed)
    return [outcomes[position] for position in range(len(batch))]


def _repeat_of(first: Outcome, first_key: Keyed, repeat: Keyed) -> Outcome:
    answer = first.answer if isinstance(first, Written) else first
    repeated = exactly_once.repeat_in_batch(answer, first_key, repeat)
    if isinstance(repeated, Refusal):
        return repeated
    return Written(repeated, first.committed if isinstance(first, Written) else None)


def _settle(waiting: _Waiting, outcome: Outcome | Exception) -> None:
    if waiting.answer.done():
        return
    if isinstance(outcome, Exception) and not isinstance(outcome, Refusal):
        waiting.answer.set_exception(outcome)
    else:
        waiting.answer.set_result(outcome)
