"""Accent- and case-insensitive search keys for Vietnamese names ("Hà Nội" -> "ha noi")."""

from __future__ import annotations

import unicodedata

# "đ" is a letter of its own, not "d" plus a combining mark, so NFD leaves it alone.
_SPECIAL_LETTERS = str.maketrans({"đ": "d", "Đ": "d"})


def search_key(text: str) -> str:
    """Lower-case, strip accents and collapse whitespace; both stored names and queries use it."""
    decomposed = unicodedata.normalize("NFD", text.translate(_SPECIAL_LETTERS))
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(stripped.lower().split())


def like_contains(text: str) -> str:
    """A LIKE pattern (escape character "\\") that matches `text` anywhere."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
