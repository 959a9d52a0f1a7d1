"""Named points where a test can make the code fail, to prove a transaction leaves nothing
half-done (the event without its audit row, say). Disarmed, a failpoint costs a dict lookup.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

_armed: dict[str, Exception] = {}


def failpoint(name: str) -> None:
    """Raise the exception armed for `name`, if any."""
    error = _armed.get(name)
    if error is not None:
        raise error


@contextmanager
def armed(name: str, error: Exception) -> Iterator[None]:
    """Within the block, reaching failpoint `name` raises `error`."""
    _armed[name] = error
    try:
        yield
    finally:
        _armed.pop(name, None)
