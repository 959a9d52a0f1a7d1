"""`congress backup` under writes and `congress restore` into a new database, on both
databases (README, "Backups"): every write acknowledged before the backup began is in the
restored database, its rollups agree, the local issuer's key comes with it, and a restore
refuses while a server uses the database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

from models import Difficulty
from models.database import create_engine
from tests.databases import throwaway_database
from tests.served import CELL, CONGRESS, Served, serving

WRITERS = 3


def congress_command(
    data_dir: Path, database_url: str, *arguments: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "--data-dir",
            str(data_dir),
            "--database-url",
            database_url,
            *arguments,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


async def write_until(
    served: Served, committee_id: str, stop: asyncio.Event, acknowledged: list[tuple[float, str]]
) -> None:
    """Raise difficulties one after another; note each the server acknowledged, and when."""
    while not stop.is_set():
        title = f"backup-{uuid.uuid4().hex[:12]}"
        answer = await served.raise_difficulty(committee_id, title)
        if (
            answer.status_code == 200
            and answer.json()["data"]["raiseDifficulty"]["__typename"] == "DifficultyPayload"
        ):
            acknowledged.append((time.monotonic(), title))


async def difficulty_titles(database_url: str) -> set[str]:
    """Every difficulty's title in a (restored) database."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return set(await connection.scalars(select(Difficulty.title)))
    finally:
        await engine.dispose()


@asynccontextmanager
async def writing(served: Served, acknowledged: list[tuple[float, str]]) -> AsyncIterator[None]:
    """WRITERS writers raising difficulties until the block ends (then they finish)."""
    committee_id = (await served.post(CONGRESS, c=CELL)).json()["data"]["committee"]["id"]
    stop = asyncio.Event()
    writers = [
        asyncio.create_task(write_until(served, committee_id, stop, acknowledged))
        for _ in range(WRITERS)
    ]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*writers)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_backup_under_writes_restores_every_write_acknowledged_before_it(
    tmp_path: Path, backend: str
) -> None:
    serve_dir = tmp_path / "served"
    serve_dir.mkdir()
    archive = tmp_path / "congress.backup"
    acknowledged: list[tuple[float, str]] = []
    async with serving(backend, serve_dir) as served:
        async with writing(served, acknowledged):
            await asyncio.sleep(1.0)
            backup_began = time.monotonic()
            made = await asyncio.to_thread(
                congress_command, serve_dir, served.database_url, "backup", str(archive)
            )
            await asyncio.sleep(0.5)
        assert made.returncode == 0, made.stdout + made.stderr
        # A restore over the database the server uses is refused, and changes nothing.
        refused = await asyncio.to_thread(
            congress_command, serve_dir, served.database_url, "restore", str(archive)
        )
        assert refused.returncode != 0
        assert "A server is using this database" in refused.stderr
    before = {title for at, title in acknowledged if at < backup_began}
    assert len(before) >= WRITERS
    assert (archive.with_name(archive.name + ".signing-key.pem")).exists()

    restored_dir = tmp_path / "restored"
    async with throwaway_database(backend, restored_dir) as fresh_url:
        restored = await asyncio.to_thread(
            congress_command, restored_dir, fresh_url, "restore", str(archive)
        )
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert "Rollups agree with the congresses." in restored.stdout
        missing = before - await difficulty_titles(fresh_url)
        assert not missing, f"{len(missing)} acknowledged writes lost"
        key = (restored_dir / "local-issuer-key.pem").read_bytes()
        assert key == (serve_dir / "local-issuer-key.pem").read_bytes()


async def test_a_restore_refuses_a_file_that_is_not_a_backup(tmp_path: Path) -> None:
    bogus = tmp_path / "not-a-backup.db"
    bogus.write_bytes(b"this is not a database" * 100)
    refused = await asyncio.to_thread(
        congress_command, tmp_path, f"sqlite:///{tmp_path / 'target.db'}", "restore", str(bogus)
    )
    assert refused.returncode != 0
    assert "not a SQLite database" in refused.stderr


LITESTREAM = Path(sys.executable).with_name("litestream")
LITESTREAM_CONFIG = Path(__file__).parents[1] / "config/litestream.yml"


def start_replicating(environment: dict[str, str]) -> subprocess.Popen[bytes]:
    """`litestream replicate` with the shipped config, as an operator runs it."""
    return subprocess.Popen(
        [str(LITESTREAM), "replicate", "-config", str(LITESTREAM_CONFIG)],
        env={**os.environ, **environment},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_litestream_replicates_every_acknowledged_write(tmp_path: Path) -> None:
    """The shipped config/litestream.yml, beside a server under writes: the replica,
    restored into a new file, holds every write acknowledged, and its rollups agree."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    environment = {
        "CONGRESS_DATA_DIR": str(data_dir),
        "CONGRESS_REPLICA_DIR": str(tmp_path / "replica"),
    }
    acknowledged: list[tuple[float, str]] = []
    async with serving("sqlite-default", data_dir) as served:
        replicating = start_replicating(environment)
        try:
            async with writing(served, acknowledged):
                await asyncio.sleep(2.0)
            await asyncio.sleep(3.0)  # Litestream syncs every second
        finally:
            replicating.terminate()
            await asyncio.to_thread(replicating.wait, 30)
    restored = tmp_path / "restored.db"
    recovered = await asyncio.to_thread(
        subprocess.run,
        [str(LITESTREAM), "restore", "-config", str(LITESTREAM_CONFIG), "-o", str(restored),
         str(data_dir / "congress.db")],
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert recovered.returncode == 0, recovered.stderr
    url = f"sqlite+aiosqlite:///{restored}"
    checked = await asyncio.to_thread(congress_command, tmp_path, url, "check-rollups")
    assert checked.returncode == 0, checked.stdout
    titles = await difficulty_titles(url)
    written = {title for _, title in acknowledged}
    assert written
    assert not written - titles, f"{len(written - titles)} acknowledged writes not replicated"
