"""What wakes a worker's live hub when another connection commits to the change feed.

A wakeup only says "read the feed now"; the feed is the truth (graph/live/hub.py), so a
lost one delays rows until the hub's safety poll, it never loses them. Each watcher runs
for the hub's life on one connection of its own, outside the engine's pool: its cost does
not depend on the number of listeners, and it never holds a pooled connection.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)

Wake = Callable[[], None]

# The channel the change feed's trigger notifies (migration 0009).
CHANNEL = "change_feed"
# How the listening connection shows in pg_stat_activity.
APPLICATION_NAME = "congress-live-hub"
# Reconnecting after the connection dropped: doubling from the first delay up to the last.
RECONNECT_FIRST_SECONDS = 0.2
RECONNECT_MAX_SECONDS = 10.0
# A connection that only listens sends nothing, so a dead network path would go unnoticed;
# a ping this often finds it (the safety poll delivers meanwhile).
PING_SECONDS = 30.0
PING_TIMEOUT_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 10.0
CLOSE_TIMEOUT_SECONDS = 2.0


async def listen_for_notifications(dsn: str, wake: Wake) -> None:
    """LISTEN on the feed's channel until cancelled, calling `wake` for each notification;
    reconnect with a bounded backoff whenever the connection drops or cannot be made."""
    backoff = RECONNECT_FIRST_SECONDS
    while True:
        try:
            await _listen_until_lost(dsn, wake)
            backoff = RECONNECT_FIRST_SECONDS  # it was up: the next drop starts afresh
            log.warning("live hub: the LISTEN connection dropped; reconnecting")
        except Exception as error:  # whatever it was, the remedy is a new connection
            log.warning("live hub: cannot LISTEN (%r); retrying in %.1f s", error, backoff)
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, RECONNECT_MAX_SECONDS)


async def _listen_until_lost(dsn: str, wake: Wake) -> None:
    # Here, not at the top: asyncpg is the `postgres` extra, and a SQLite install (the
    # README's first command) serves without it.
    import asyncpg

    connection = await asyncpg.connect(
        dsn,
        timeout=CONNECT_TIMEOUT_SECONDS,
        server_settings={"application_name": APPLICATION_NAME},
    )
    try:
        lost = asyncio.Event()

        def on_notification(*_: Any) -> None:
            wake()

        def on_termination(_connection: Any) -> None:
            lost.set()

        connection.add_termination_listener(on_termination)
        await connection.add_listener(CHANNEL, on_notification)
        # Rows committed while no one listened (before the first connection, or between a
        # drop and now) sent notifications nobody heard.
        wake()
        while not lost.is_set():
            try:
                # Not wait_for, which can lose a cancellation on Python 3.11 (hub.py).
                async with asyncio.timeout(PING_SECONDS):
                    await lost.wait()
            except TimeoutError:
                try:
                    await connection.fetchval("SELECT 1", timeout=PING_TIMEOUT_SECONDS)
                except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                    return
    finally:
        await _close(connection)


async def _close(connection: Any) -> None:
    if connection.is_closed():
        return
    try:
        await connection.close(timeout=CLOSE_TIMEOUT_SECONDS)
    except BaseException:
        # A dead peer (or a second cancellation): drop the socket without a goodbye.
        connection.terminate()
        raise


async def poll_data_version(path: str, poll_seconds: float, wake: Wake) -> None:
    """Every `poll_seconds`, read `PRAGMA data_version` on a connection of our own until
    cancelled, and call `wake` when it changed: it changes whenever another connection
    (another worker, or this worker's pool) committed. A tick costs one pragma in one
    thread of our own, whatever the number of listeners; sqlite3 is used from that one
    thread only, as it requires."""
    thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="live-hub-data-version")
    loop = asyncio.get_running_loop()
    try:
        connection = await loop.run_in_executor(thread, _connect, path)
        try:
            seen = await loop.run_in_executor(thread, _data_version, connection)
            while True:
                await asyncio.sleep(poll_seconds)
                try:
                    version = await loop.run_in_executor(thread, _data_version, connection)
                except sqlite3.Error as error:
                    log.warning("live hub: PRAGMA data_version failed (%s)", error)
                    continue
                if version != seen:
                    seen = version
                    wake()
        finally:
            # Queued behind a pragma still running, if cancelled during one.
            await loop.run_in_executor(thread, connection.close)
    finally:
        thread.shutdown(wait=False)


def _connect(path: str) -> sqlite3.Connection:
    # Autocommit: the pragma never leaves a read transaction open (which would hold back
    # WAL checkpoints).
    return sqlite3.connect(path, isolation_level=None)


def _data_version(connection: sqlite3.Connection) -> int:
    row = connection.execute("PRAGMA data_version").fetchone()
    return int(row[0])
