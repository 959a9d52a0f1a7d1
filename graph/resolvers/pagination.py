"""Forward pagination over opaque cursors (Relay connections), shared by every connection."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from config import Settings
from graph.errors import ClientError
from graph.global_ids import parse_row_id

Row = TypeVar("Row")
_CURSOR_PREFIX = "cursor:"


@dataclass(frozen=True, slots=True)
class Page(Generic[Row]):
    """One page of rows; `total_count` runs its query only if the client asks for totalCount."""

    rows: Sequence[Row]
    has_next_page: bool
    total_count: Callable[[], Awaitable[int]]


def page_size(first: int | None, settings: Settings) -> int:
    if first is None:
        return settings.default_page_size
    if not 0 <= first <= settings.max_page_size:
        raise ClientError(
            f"`first` must be between 0 and {settings.max_page_size}, got {first}.",
            argument="first",
        )
    return first


def encode_cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{row_id}".encode()).decode()


def decode_cursor(cursor: str | None) -> int | None:
    """The row id a cursor continues after; a cursor we did not make is a client error."""
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeError, ValueError):
        text = ""
    row_id = parse_row_id(text.removeprefix(_CURSOR_PREFIX))
    if not text.startswith(_CURSOR_PREFIX) or row_id is None:
        raise ClientError("`after` is not a valid cursor.", argument="after")
    return row_id


def split_page(rows: Sequence[Row], size: int) -> tuple[Sequence[Row], bool]:
    """Callers fetch size + 1 rows; the extra one only tells whether another page exists."""
    return rows[:size], len(rows) > size
