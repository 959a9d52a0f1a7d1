"""Declarative base shared by every table, with constraint names Alembic can address."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, MetaData, SQLColumnExpression, String, and_
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Paths are compared byte by byte for the subtree range scan; PostgreSQL's default
# (linguistic) collation would ignore the "/" separators, so it gets the "C" collation.
PATH_MAX_LENGTH = 1024
PathString = String(PATH_MAX_LENGTH).with_variant(
    String(PATH_MAX_LENGTH, collation="C"), "postgresql"
)


class UtcMoment(TypeDecorator[datetime]):
    """A moment, kept in UTC and read back with its offset on every database. PostgreSQL's
    `timestamptz` returns it so; SQLite stores the UTC wall time as text and returns it
    naive, which the API would show without an offset."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


UtcDateTime = UtcMoment()


# The moment writes are stamped with when it is not now: set only by `stamped_at`, for
# the demo, whose officials recorded their progress over the weeks before it was built.
_STAMP: ContextVar[datetime | None] = ContextVar("congress_stamp", default=None)


def utc_now() -> datetime:
    """Now, in UTC: what every write stamps its rows with (see `stamped_at`)."""
    stamp = _STAMP.get()
    return datetime.now(UTC) if stamp is None else stamp


@contextmanager
def stamped_at(moment: datetime) -> Iterator[None]:
    """Within the block (this task and the tasks it starts), `utc_now()` is `moment`: writes
    made here are stamped as if made then. Nothing that serves requests sets it."""
    token = _STAMP.set(moment.astimezone(UTC))
    try:
        yield
    finally:
        _STAMP.reset(token)


# One statement binds at most this many keys: SQLite and asyncpg both stop near 32,767
# bound parameters, and a query may reach 50,000 objects at one level (the node limit).
MAX_KEYS_PER_STATEMENT = 30_000


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def pairs_condition(
    first: SQLColumnExpression[Any],
    second: SQLColumnExpression[Any],
    pairs: Iterable[tuple[Any, Any]],
) -> ColumnElement[bool]:
    """Rows whose (first, second) may be one of `pairs`: each column in the values it takes
    in them. A superset (the caller keeps the pairs it asked for), as two plain IN lists
    rather than a row-value IN, which SQLite cannot answer from an index."""
    pairs = list(pairs)
    return and_(first.in_(sorted({a for a, _ in pairs})), second.in_(sorted({b for _, b in pairs})))
