"""Optimistic concurrency: a change claims the next version of the object it changes.

A client may send the version it read (`expectedVersion`); a different current version is
refused with that current version. The claim itself is one conditional UPDATE
(`... SET version = version + 1 WHERE version = :read`), so of two writers that read the
same version only one gets it, on SQLite and PostgreSQL alike; the other is told the
current version instead of silently overwriting. A request that changes nothing (the same
name again) claims nothing, but is still refused if its expected version is stale.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from models.congress import Congress
from models.refusals import Contention, StaleVersion
from models.tree import Committee
from models.users import User

if TYPE_CHECKING:
    # models.difficulties and models.reports claim versions through this module, so they
    # cannot be imported here.
    from models.difficulties import Difficulty
    from models.report_rows import CongressReport

# Every table with a `version` column that clients send back as expectedVersion.
Versioned: TypeAlias = "Committee | User | Congress | Difficulty | CongressReport"


def _stale(row: Versioned, current_version: int) -> StaleVersion:
    noun = getattr(row, "noun", None) or type(row).__name__.lower()
    return StaleVersion(
        f"This {noun} changed since you read it: it is now at version {current_version}.",
        current_version=current_version,
        row_id=row.id,
    )


def check_expected_version(
    row: Versioned, expected_version: int | None, current_version: int | None = None
) -> None:
    """`current_version` when it is not (yet) the row's: a batch's earlier writes claim it."""
    current = row.version if current_version is None else current_version
    if expected_version is not None and expected_version != current:
        raise _stale(row, current)


async def claim_next_version(
    session: AsyncSession, row: Versioned, expected_version: int | None
) -> int:
    """Bump `row`'s version, which must still be the one read (and the one expected)."""
    check_expected_version(row, expected_version)
    model = type(row)
    result = await session.execute(
        update(model)
        .where(model.id == row.id, model.version == row.version)
        .values(version=model.version + 1)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        if expected_version is None:
            # The client asked for no particular version: run the change again on fresh reads.
            raise Contention(f"{model.__name__} {row.id} changed under this request")
        current = await session.scalar(select(model.version).where(model.id == row.id))
        raise _stale(row, int(current or 0))
    # Record the new version without marking the object dirty (the UPDATE already ran).
    set_committed_value(row, "version", row.version + 1)
    return row.version
