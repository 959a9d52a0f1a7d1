"""The `search` argument of the connections that filter by name."""

from __future__ import annotations

from graph.errors import ClientError

# Longer than any name we store, so a longer search could match nothing; and SQLite refuses
# a LIKE pattern over 50,000 bytes, which would turn a client's mistake into a failed query.
MAX_SEARCH_LENGTH = 200


def search_argument(search: str | None) -> str | None:
    """`search` as given, once it is known to be short enough to run."""
    if search is not None and len(search) > MAX_SEARCH_LENGTH:
        raise ClientError(
            f"`search` must be at most {MAX_SEARCH_LENGTH} characters, got {len(search)}.",
            argument="search",
        )
    return search
