"""Failures of the database itself, not of a request: it cannot be reached or went away
mid-request, a lock or the connection pool was waited on past its bound, its disk is full.

Each is answered `UNAVAILABLE` (HTTP 503 with `Retry-After` when the whole request failed):
nothing was recorded, try again later. The answer says which of these it was in our words;
the driver's text and the SQL stay in the log, which records each kind of fault once per
incident and then how many requests it met, not a traceback per request.
"""

from __future__ import annotations

import errno
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

logger = logging.getLogger("congress.database")

# PostgreSQL's SQLSTATEs for a lock not granted in time, a full disk, and the classes of a
# connection that failed or a server shutting down or starting (not a request's mistake).
_LOCK_NOT_AVAILABLE = "55P03"
_DISK_FULL = "53100"
_OUT_OF_SPACE_CLASS = "53"
_CONNECTION_CLASS = "08"
_SHUTTING_DOWN_CLASS = "57P"
_NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ETIMEDOUT,
        errno.EPIPE,
    }
)
# A fault and the requests that met it are one incident until it has not been seen for this long.
INCIDENT_QUIET_SECONDS = 10.0
# While an incident goes on, how often the log says how many more requests met it.
COUNT_EVERY_SECONDS = 10.0


class FaultKind(StrEnum):
    UNREACHABLE = "unreachable"
    LOCKED = "locked"
    POOL_EXHAUSTED = "pool_exhausted"
    DISK_FULL = "disk_full"
    # No answer within the time a statement may take (PostgreSQL's driver's command
    # timeout), or within the request's time budget while it waited on the database.
    STALLED = "stalled"


_MESSAGES = {
    FaultKind.UNREACHABLE: "The database cannot be reached right now.",
    FaultKind.LOCKED: "The data is locked by other work for longer than a request may wait.",
    FaultKind.POOL_EXHAUSTED: "The server is busy: no database connection came free in time.",
    FaultKind.DISK_FULL: "The database's disk is full.",
    FaultKind.STALLED: "The database did not answer in time.",
}
# Seconds a client should wait before trying again, by kind: a lock or a busy pool clears
# sooner than a database that is down or full.
_RETRY_AFTER = {
    FaultKind.UNREACHABLE: 5,
    FaultKind.LOCKED: 2,
    FaultKind.POOL_EXHAUSTED: 2,
    FaultKind.DISK_FULL: 30,
    FaultKind.STALLED: 5,
}


@dataclass(frozen=True, slots=True)
class DatabaseFault:
    kind: FaultKind

    @property
    def message(self) -> str:
        """What the client reads: the kind of fault, and that nothing was recorded."""
        return f"{_MESSAGES[self.kind]} Nothing was recorded; please try again shortly."

    @property
    def retry_after_seconds(self) -> int:
        return _RETRY_AFTER[self.kind]


def database_fault(error: BaseException | None) -> DatabaseFault | None:
    """The database fault `error` (or what it was raised from) stands for, or None."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        kind = _kind_of(error)
        if kind is not None:
            return DatabaseFault(kind)
        error = error.__cause__ or error.__context__
    return None


def _kind_of(error: BaseException) -> FaultKind | None:
    if isinstance(error, PoolTimeoutError):
        return FaultKind.POOL_EXHAUSTED
    if isinstance(error, DBAPIError):
        return _dbapi_kind(error)
    if isinstance(error, TimeoutError) and _raised_by_asyncpg(error):
        return FaultKind.STALLED
    if _is_network_failure(error):
        return FaultKind.UNREACHABLE
    return None


def _raised_by_asyncpg(error: BaseException) -> bool:
    """Whether asyncpg raised it (its command timeout): a timeout of our own, such as the
    request's time budget, is not the database's fault."""
    traceback = error.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_globals.get("__name__", "").startswith("asyncpg"):
            return True
        traceback = traceback.tb_next
    return False


def _is_network_failure(error: BaseException) -> bool:
    """A socket that could not connect or was cut (the driver's connect raises these bare)."""
    return isinstance(error, ConnectionError) or (
        isinstance(error, OSError) and error.errno in _NETWORK_ERRNOS
    )


def _dbapi_kind(error: DBAPIError) -> FaultKind | None:
    original = error.orig
    state = str(getattr(original, "sqlstate", None) or getattr(original, "pgcode", None) or "")
    text = str(original).lower()
    if state == _LOCK_NOT_AVAILABLE or "database is locked" in text or "database is busy" in text:
        return FaultKind.LOCKED
    if state == _DISK_FULL or state.startswith(_OUT_OF_SPACE_CLASS) or "disk is full" in text:
        return FaultKind.DISK_FULL
    if error.connection_invalidated or state.startswith((_CONNECTION_CLASS, _SHUTTING_DOWN_CLASS)):
        return FaultKind.UNREACHABLE
    if isinstance(original, sqlite3.OperationalError) and "unable to open" in text:
        return FaultKind.UNREACHABLE
    # asyncpg's own errors for a connection that closed or never opened.
    if type(original).__name__ in {
        "ConnectionDoesNotExistError",
        "InterfaceError",
        "CannotConnectNowError",
        "ConnectionFailureError",
    } or (original is not None and _is_network_failure(original)):
        return FaultKind.UNREACHABLE
    return None


class _Incidents:
    """The log of faults: the first of each kind in an incident with its cause, then every
    COUNT_EVERY_SECONDS how many more requests met it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # kind -> (last seen, last logged, requests met since last logged)
        self._open: dict[FaultKind, tuple[float, float, int]] = {}

    def record(self, fault: DatabaseFault, error: BaseException, request_id: str | None) -> None:
        now = time.monotonic()
        with self._lock:
            open_incident = self._open.get(fault.kind)
            if open_incident is None or now - open_incident[0] > INCIDENT_QUIET_SECONDS:
                self._open[fault.kind] = (now, now, 0)
                starts, more = True, 0
            else:
                _seen, logged, count = open_incident
                count += 1
                starts = False
                if now - logged >= COUNT_EVERY_SECONDS:
                    self._open[fault.kind] = (now, now, 0)
                    more = count
                else:
                    self._open[fault.kind] = (now, logged, count)
                    more = 0
        if starts:
            logger.warning(
                "database %s (request %s): %s: %s",
                fault.kind.value,
                request_id or "-",
                type(error).__name__,
                _cause_text(error),
            )
        elif more:
            logger.warning(
                "database %s: %d more requests in the last %.0f s",
                fault.kind.value,
                more,
                COUNT_EVERY_SECONDS,
            )


def _cause_text(error: BaseException) -> str:
    original = getattr(error, "orig", None) or error
    return str(original).splitlines()[0][:300] if str(original) else type(original).__name__


incidents = _Incidents()


def note_fault(error: BaseException, request_id: str | None) -> DatabaseFault | None:
    """The database fault behind `error`, recorded in the incident log; None if it is none."""
    fault = database_fault(error)
    if fault is not None:
        incidents.record(fault, error, request_id)
    return fault
