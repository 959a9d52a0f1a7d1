"""Exactly-once writes: the one implementation, for a single write and for a batch.

A write sent with an idempotency key is recorded at most once per (user, key): its first
answer is kept in the same transaction as the change it answers (models/idempotency.py
holds the table), and a repeat with the same input gets that answer back and records
nothing. The same key with a different input is refused: it can only be a client bug.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models import idempotency
from models.refusals import Contention, Refusal


@dataclass(frozen=True, slots=True)
class Answer:
    """What an exactly-once write answers: the row it changed, the version this request
    made, and whether this repeats the answer given to an earlier request with its key."""

    row_id: int
    version: int
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class Keyed:
    """A write sent with a key: who sent it, the key, and the fingerprint of what they sent."""

    user_id: int
    key: str
    operation: str
    fingerprint: str

    @classmethod
    def of(
        cls, user_id: int, operation: str, request: Mapping[str, object], key: str | None
    ) -> Keyed | None:
        """None without a key; `Invalid` for a key that is empty or too long."""
        if key is None:
            return None
        fingerprint = idempotency.fingerprint(operation, request)
        return cls(user_id, idempotency.checked_key(key), operation, fingerprint)

    @property
    def identity(self) -> tuple[int, str]:
        return self.user_id, self.key


async def first_answers(
    session: AsyncSession, writes: Sequence[Keyed]
) -> list[Answer | Refusal | None]:
    """For each write, in one statement: the replayed first answer of its key, the refusal
    of a key used before for a different request, or None for a key not used yet."""
    kept = await idempotency.records(session, [write.identity for write in writes])
    answers: list[Answer | Refusal | None] = []
    for write in writes:
        record = kept.get(write.identity)
        if record is None:
            answers.append(None)
            continue
        try:
            stored = idempotency.first_answer(record, write.operation, write.fingerprint)
        except Refusal as refusal:
            answers.append(refusal)
        else:
            answers.append(Answer(int(stored["id"]), int(stored["version"]), replayed=True))
    return answers


async def first_answer(session: AsyncSession, write: Keyed | None) -> Answer | None:
    """The kept answer of one write's key, if it has one; a reused key raises its refusal."""
    if write is None:
        return None
    [found] = await first_answers(session, [write])
    if isinstance(found, Refusal):
        raise found
    return found


def keep(session: AsyncSession, write: Keyed, answer: Answer) -> None:
    """Keep the answer; it commits (or rolls back) with the change it answers."""
    idempotency.remember(
        session, write.user_id, write.key, write.operation, write.fingerprint,
        {"id": answer.row_id, "version": answer.version},
    )  # fmt: skip


async def flush_kept(session: AsyncSession) -> None:
    """Write the kept answers now. Two requests racing with one key cannot both commit: if a
    concurrent one committed first, this raises `Contention`, the unit of work starts over,
    and the repeat is answered with that request's answer instead of a database error."""
    try:
        await session.flush()
    except IntegrityError as error:
        raise Contention("idempotency key taken concurrently") from error


def repeat_in_batch(first: Answer | Refusal, first_write: Keyed, repeat: Keyed) -> Answer | Refusal:
    """A key's second use in the batch that wrote its first: the same answer if the input is
    the same (a refusal stays a refusal: nothing was kept for the key)."""
    if first_write.fingerprint != repeat.fingerprint:
        return idempotency.reused_key()
    if isinstance(first, Answer):
        return Answer(first.row_id, first.version, replayed=True)
    return first
