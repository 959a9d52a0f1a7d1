"""Backups that restore (`congress backup`, `congress restore`, README "Backups").

A copy of `congress.db` taken while the server runs lacks what is still in its write-ahead
log: SQLite's online backup API copies a consistent snapshot, WAL included, while writers
go on. PostgreSQL's is `pg_dump -Fc`, restored with `pg_restore`.

A restore must not pull a database out from under a server: a serving process marks the
database as in use (`ServingMark`: on SQLite a shared lock on a file beside it, on
PostgreSQL its connections' `application_name`), and a restore refuses while any mark is held.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from pathlib import Path
from typing import IO

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

# The application_name of a serving engine's PostgreSQL connections.
SERVING_APPLICATION_NAME = "congress serve"


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


def sqlite_path(url: str | URL) -> Path | None:
    """The database file of a SQLite URL; None for another database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _serving_lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".serving")


class ServingMark:
    """Held by a serving process for its life: the database is in use. On SQLite, a shared
    lock on `<database>.serving` (every worker holds one; the system lets them go when a
    process ends, however it ends). PostgreSQL needs none here: the serving engine's
    connections say who they are (SERVING_APPLICATION_NAME)."""

    def __init__(self, database_url: str) -> None:
        self._path = sqlite_path(database_url)
        self._file: IO[bytes] | None = None

    def hold(self) -> None:
        if self._path is None:
            return
        self._file = _serving_lock_path(self._path).open("ab")
        fcntl.flock(self._file, fcntl.LOCK_SH)

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing lets the lock go
            self._file = None


async def in_use_by_a_server(engine: AsyncEngine) -> bool:
    """Whether a `congress serve` process uses the engine's database now."""
    path = sqlite_path(engine.url)
    if path is not None:
        lock_path = _serving_lock_path(path)
        if not lock_path.exists():
            return False
        with lock_path.open("ab") as probe:
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(probe, fcntl.LOCK_UN)
        return False
    async with engine.connect() as connection:
        serving = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = :name AND pid <> pg_backend_pid()"
            ),
            {"name": SERVING_APPLICATION_NAME},
        )
    return bool(serving)


def backup_sqlite(database: Path, target: Path) -> None:
    """A consistent copy of `database` at `target`, taken while writers go on (SQLite's
    online backup API: the pages as of one moment, what the WAL holds included), written
    beside the target first so a half-written copy never has its name."""
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    _copy_sqlite(database, partial)
    os.replace(partial, target)


def check_sqlite_file(path: Path) -> None:
    """Refuse a file that is not a sound SQLite database of this application."""
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            verdict = connection.execute("PRAGMA integrity_check").fetchone()
            has_tree = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'committee'"
            ).fetchone()
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path} is not a SQLite database: {error}.") from error
    if verdict is None or verdict[0] != "ok":
        raise BackupError(f"{path} fails SQLite's integrity check: {verdict}.")
    if has_tree is None:
        raise BackupError(f"{path} holds no congress-monitor tables.")


def restore_sqlite(source: Path, database: Path) -> None:
    """`database` becomes a copy of `source` (through the backup API, so its own WAL and
    shared memory are reset with it)."""
    database.parent.mkdir(parents=True, exist_ok=True)
    _copy_sqlite(source, database)


def _copy_sqlite(source: Path, target: Path) -> None:
    """`target` becomes `source` as of one moment (SQLite's online backup API)."""
    reading = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        writing = sqlite3.connect(target)
        try:
            reading.backup(writing)
        finally:
            writing.close()
    finally:
        reading.close()


def libpq_url(url: str | URL) -> str:
    """The URL as PostgreSQL's own tools take it (no `+asyncpg`)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def pg_dump_command(url: str | URL, target: Path) -> list[str]:
    return ["pg_dump", "--format=custom", "--no-owner", f"--file={target}", libpq_url(url)]


def pg_restore_commands(url: str | URL, source: Path) -> tuple[list[str], list[str]]:
    """The check of the archive (its table of contents), then the restore over what is there."""
    check = ["pg_restore", "--list", str(source)]
    restore = [
        "pg_restore",
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",
        f"--dbname={libpq_url(url)}",
        str(source),
    ]
    return check, restore


def key_backup_path(target: Path) -> Path:
    """Where a backup keeps the local issuer's signing key, beside the database's copy."""
    return target.with_name(target.name + ".signing-key.pem")
