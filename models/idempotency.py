"""Exactly-once writes: the first answer to a request sent with an idempotency key is kept,
per user and key, in the same transaction as the change it answers.

A repeat with the same input gets that first answer back and records nothing; the same key
with a different input is refused, since it can only be a client bug. This module is the
table and its rows; the one implementation of the rule is domain/exactly_once.py.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import pairs_condition
from models.progress import IdempotencyRecord
from models.refusals import Conflicting, Invalid

MAX_KEY_LENGTH = 128


def request_hash(payload: Mapping[str, object]) -> str:
    """A fingerprint of a request's input, the same whatever the order of its fields."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def fingerprint(operation: str, request: Mapping[str, object]) -> str:
    """What a key's later uses are compared with: the operation and everything it was sent."""
    return request_hash({"operation": operation, **request})


def checked_key(key: str) -> str:
    key = key.strip()
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise Invalid(
            f"The idempotency key must be 1-{MAX_KEY_LENGTH} characters.", field="idempotencyKey"
        )
    return key


async def records(
    session: AsyncSession, keys: Sequence[tuple[int, str]]
) -> dict[tuple[int, str], IdempotencyRecord]:
    """The kept answers of these (user id, key) pairs that have one, in one statement."""
    if not keys:
        return {}
    rows = await session.scalars(
        select(IdempotencyRecord).where(
            pairs_condition(IdempotencyRecord.user_id, IdempotencyRecord.key, keys)
        )
    )
    wanted = set(keys)
    return {
        (record.user_id, record.key): record
        for record in rows
        if (record.user_id, record.key) in wanted
    }


def first_answer(record: IdempotencyRecord, operation: str, fingerprint: str) -> dict[str, Any]:
    """The answer kept for a key, to a request that sent it again; a different request
    with the same key is refused."""
    if record.operation != operation or record.request_hash != fingerprint:
        raise reused_key()
    return record.response


def reused_key() -> Conflicting:
    return Conflicting(
        "This idempotency key was already used for a different request.", field="idempotencyKey"
    )


def remember(
    session: AsyncSession,
    user_id: int,
    key: str,
    operation: str,
    fingerprint: str,
    response: dict[str, Any],
) -> None:
    """Keep the answer; it commits (or rolls back) with the change it answers. Two requests
    racing with one key cannot both commit: the primary key stops the second."""
    session.add(
        IdempotencyRecord(
            user_id=user_id,
            key=key,
            operation=operation,
            request_hash=fingerprint,
            response=response,
        )
    )
