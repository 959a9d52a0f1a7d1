"""Declarative base shared by every table, with constraint names Alembic can address."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, MetaData, String
from sqlalchemy.orm import DeclarativeBase

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

UtcDateTime = DateTime(timezone=True)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
