"""Acting on SIGTERM and SIGINT as soon as they arrive, before uvicorn's graceful shutdown.

uvicorn, told to stop, stops accepting, closes its websockets (1012, "service restart") and
then waits, up to CONGRESS_SHUTDOWN_TIMEOUT, for every response under way to end. An event
stream never ends by itself: it would hold the shutdown for the whole bound and then be
cut without a word. So a serving worker's event streams are ended when the signal comes
(graph/app.py), each told the server is stopping, which is how its protocol says "come
back" (a `next` with an UNAVAILABLE error, then `complete`).
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def on_stop_signal(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> Iterator[None]:
    """Within the block, `callback` runs in `loop` whenever SIGTERM or SIGINT arrives, and
    then the handler that was there before (uvicorn's) as it would have. Nothing outside
    the main thread, where signals cannot be handled."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {stop: signal.getsignal(stop) for stop in STOP_SIGNALS}

    def handle(number: int, frame: FrameType | None) -> None:
        # In a signal handler: hand the work to the loop rather than do it here.
        loop.call_soon_threadsafe(callback)
        before = previous[signal.Signals(number)]
        if callable(before):
            before(number, frame)

    for stop in STOP_SIGNALS:
        signal.signal(stop, handle)
    try:
        yield
    finally:
        for stop, before in previous.items():
            if signal.getsignal(stop) is handle and before is not None:
                signal.signal(stop, before)
