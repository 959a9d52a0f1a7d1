"""Relay global ids: base64("TypeName:row id"), opaque to clients and unique across types."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass


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
            type_name, _, row_id = (
                base64.b64decode(value.encode(), validate=True).decode().partition(":")
            )
            return cls(type_name, int(row_id)) if type_name else None
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None


def row_id_of(value: str, type_name: str) -> int | None:
    """The row id behind a global id of the given type, or None."""
    global_id = GlobalId.parse(value)
    if global_id is None or global_id.type_name != type_name:
        return None
    return global_id.row_id
