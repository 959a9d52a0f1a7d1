"""The JSON text of a response, with the parts the database wrote sent as they came.

A planned page built in SQL (graph/planner/sql.py) arrives as JSON text. Parsing it into
Python objects only to encode them again cost a third of the server's time for a page of
221 committees (measured with py-spy, bench/reads.py). So that text stays text
(`RawJson`) inside the answer, and `encode_response` writes it into the response as it
is. For the bytes to be the same whichever path answered (tests/test_planned_reads.py),
every response is written the way both databases write JSON: compact, and UTF-8 rather
than `\\u` escapes (SQLite's and PostgreSQL's string escaping is Python's with
`ensure_ascii=False`; the same tests check it). UTF-8 is also the smaller answer for
Vietnamese names on a weak link: two or three bytes a letter instead of six.
"""

from __future__ import annotations

import json
import re
import secrets


class RawJson:
    """A JSON value as text, already in the response's form (compact, UTF-8)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"RawJson({self.text[:60]!r})"


# Where a RawJson was: a NUL (which json.dumps escapes as \u0000), a random token made for
# the response, the part's number. A client's string cannot hold the token.
_PLACEHOLDER = re.compile(r'"\\u0000([0-9a-f]{16})(\d+)"')


def encode_response(data: object) -> str:
    """`data` as compact UTF-8 JSON, each RawJson written as its text."""
    raw_parts: list[str] = []
    token = ""

    def mark(value: object) -> str:
        nonlocal token
        if not isinstance(value, RawJson):
            raise TypeError(f"{type(value).__name__} is not JSON")
        token = token or secrets.token_hex(8)
        raw_parts.append(value.text)
        return f"\0{token}{len(raw_parts) - 1}"

    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=mark)
    if not raw_parts:
        return text

    def raw_part(match: re.Match[str]) -> str:
        return raw_parts[int(match[2])] if match[1] == token else match[0]

    return _PLACEHOLDER.sub(raw_part, text)
