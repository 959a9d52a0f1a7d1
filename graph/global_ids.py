"""Relay global ids: base64("TypeName:row id"), opaque to clients and unique across types."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

# Row ids are 64-bit signed integers in both databases; a number outside that range is an
# id nobody issued, and would make the driver fail rather than find nothing.
ROW_ID_MIN = -(2**63)
ROW_ID_MAX = 2**63 - 1
# Digits as we write them: no sign "+", no "_" separators, no spaces, no non-ASCII digits.
_ROW_ID_TEXT = re.compile(r"-?[0-9]{1,19}")


@dataclass(frozen=True, slots=True)
class GlobalId:
    type_name: str
    row_id: int

    def __str__(self) -> str:
        return base64.b64encode(f"{self.type_name}:{self.row_id}".encode()).decode()

    @classmethod
    def parse(cls, value: str) -> GlobalId | None:
        """The id's parts, or None for anything we did not issue (treated as "no such node")."""
        try:
            type_name, _, row_id_text = (
                base64.b64decode(value.encode(), validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeError, ValueError):
            return None
        row_id = parse_row_id(row_id_text)
        return cls(type_name, row_id) if type_name and row_id is not None else None


def parse_row_id(text: str) -> int | None:
    """The row id written in `text`, or None unless it is a 64-bit signed integer in decimal."""
    if _ROW_ID_TEXT.fullmatch(text) is None:
        return None
    row_id = int(text)
    return row_id if ROW_ID_MIN <= row_id <= ROW_ID_MAX else None


def row_id_of(value: str, type_name: str) -> int | None:
    """The row id behind a global id of the given type, or None."""
    global_id = GlobalId.parse(value)
    if global_id is None or global_id.type_name != type_name:
        return None
    return global_id.row_id
