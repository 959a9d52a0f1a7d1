"""The committee tree, stored with materialized paths.

A committee's `path` lists the ids from the root down to itself, each zero-padded to ten
digits: `/0000000001/0000000053/0000001200/` for ids 1, 53, 1200. The subtree of a node is
every path that starts with its path, which is the half-open range
`[path, path_upper_bound(path))`: a plain index range scan on SQLite and PostgreSQL alike
(`LIKE 'p%'` cannot use the index on SQLite). The padding makes path order the natural
order: siblings come in id order (2 before 10), so a connection ordered by path, which is
the order the index gives for free, lists a province's communes in the order they were
created rather than "10, 100, 2".
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BindParameter, Enum, ForeignKey, Index, SQLColumnExpression, String
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from models.base import PATH_MAX_LENGTH, Base, PathString, UtcDateTime
from models.refusals import Invalid

PATH_SEPARATOR = "/"
# Ten digits hold every id of a 32-bit integer key.
PATH_SEGMENT_DIGITS = 10
# The deepest path the path column holds (93 levels; real trees have six).
MAX_DEPTH = PATH_MAX_LENGTH // (PATH_SEGMENT_DIGITS + 1)
# The character right after "/" in every collation we use ("C" on PostgreSQL, binary on SQLite).
_AFTER_SEPARATOR = chr(ord(PATH_SEPARATOR) + 1)


class CommitteeKind(StrEnum):
    CENTRAL = "central"
    PROVINCE = "province"
    DISTRICT = "district"
    COMMUNE = "commune"
    GRASSROOTS = "grassroots"
    CELL = "cell"


class Committee(Base):
    __tablename__ = "committee"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("committee.id"))
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    # search_key(name), kept beside the name so search needs no function in SQL.
    search_name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[CommitteeKind] = mapped_column(
        Enum(
            CommitteeKind,
            native_enum=False,
            length=32,
            values_callable=lambda e: [m.value for m in e],
        )
    )
    depth: Mapped[int]
    path: Mapped[str] = mapped_column(PathString, unique=True)
    # A closed unit keeps its place, its records and its history; it only stops taking part.
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("committee.id"))
    # Bumped by every change to this unit itself (models.versions), for expectedVersion.
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    __table_args__ = (Index("ix_committee_parent_id_path", "parent_id", "path"),)

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None

    def __repr__(self) -> str:
        return f"Committee(id={self.id}, code={self.code!r}, path={self.path!r})"


def require_open(committee: Committee, field: str) -> None:
    """Closed units keep their records but take no new ones."""
    if committee.is_closed:
        raise Invalid("This committee is closed.", field=field)


def child_path(parent_path: str | None, committee_id: int) -> str:
    """The path of `committee_id` placed under a parent with `parent_path` (None for a root)."""
    return f"{parent_path or PATH_SEPARATOR}{committee_id:0{PATH_SEGMENT_DIGITS}d}{PATH_SEPARATOR}"


def path_ids(path: str) -> list[int]:
    """The ids along a path, root first: [1, 53, 1200] for the example above."""
    return [int(part) for part in path.strip(PATH_SEPARATOR).split(PATH_SEPARATOR) if part]


def path_depth(path: str) -> int:
    """Depth is the number of ids in the path: the root has depth 1."""
    return len(path_ids(path))


def path_prefixes(path: str) -> list[str]:
    """The paths of every ancestor and of the node itself, root first."""
    # Cut the path after each separator but the first: "/a/b/" -> "/a/", "/a/b/".
    return [path[: end + 1] for end, char in enumerate(path) if char == PATH_SEPARATOR and end > 0]


def parent_path(path: str) -> str | None:
    """The path of the parent, or None for a root."""
    prefixes = path_prefixes(path)
    return prefixes[-2] if len(prefixes) > 1 else None


def path_upper_bound(path: str) -> str:
    """The smallest string greater than every path in the subtree of `path`."""
    return path[:-1] + _AFTER_SEPARATOR


def is_in_subtree(path: str, root_path: str) -> bool:
    return path.startswith(root_path)


def subtree_condition(path_column: SQLColumnExpression[str], root_path: str) -> ColumnElement[bool]:
    """SQL condition for "in the subtree of root_path (itself included)", as an index range."""
    return path_range(path_column, root_path, path_upper_bound(root_path))


def path_range(
    path_column: SQLColumnExpression[str],
    start: str | BindParameter[str],
    end: str | BindParameter[str],
) -> ColumnElement[bool]:
    """start <= path < end: a subtree when `end` is `path_upper_bound(start)`."""
    return (path_column >= start) & (path_column < end)
