"""Named points where a test can make the code fail, to prove a transaction leaves nothing
half-done (the event without its audit row, say). Disarmed, a failpoint costs a dict lookup.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

_armed: dict[str, Exception] = {}
# Failpoints armed for a number of times only: how many are left.
_times_left: dict[str, int] = {}


def failpoint(name: str) -> None:
    """Raise the exception armed for `name`, if any."""
    error = _armed.get(name)
    if error is None:
        return
    if name in _times_left:
        _times_left[name] -= 1
        if _times_left[name] == 0:
            del _armed[name], _times_left[name]
    raise error


@contextmanager
def armed(name: str, error: Exception, times: int | None = None) -> Iterator[None]:
    """Within the block, reaching failpoint `name` raises `error` (the first `times` times
    only, if given)."""
    _armed[name] = error
    if times is not None:
        _times_left[name] = times
    try:
        yield
    finally:
        _armed.pop(name, None)
        _times_left.pop(name, None)
