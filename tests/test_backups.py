"""`congress backup` under writes and `congress restore` into a new database, on both
databases (README, "Backups"): every write acknowledged before the backup began is in the
restored database, its rollups agree, the local issuer's key comes with it, and a restore
refuses while a server uses the database."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from models import Difficulty
from models.database import create_engine
from tests.databases import throwaway_database
from tests.served import CELL, CONGRESS, Served, serving

RAISE = """mutation($input: RaiseDifficultyInput!) { raiseDifficulty(input: $input) {
  __typename } }"""
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
        answer = await served.post(
            RAISE,
            input={
                "committeeId": committee_id,
                "title": title,
                "description": "",
                "category": "OTHER",
                "idempotencyKey": str(uuid.uuid4()),
            },
        )
        if (
            answer.status_code == 200
            and answer.json()["data"]["raiseDifficulty"]["__typename"] == "DifficultyPayload"
        ):
            acknowledged.append((time.monotonic(), title))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_backup_under_writes_restores_every_write_acknowledged_before_it(
    tmp_path: Path, backend: str
) -> None:
    serve_dir = tmp_path / "served"
    serve_dir.mkdir()
    archive = tmp_path / "congress.backup"
    acknowledged: list[tuple[float, str]] = []
    async with serving(backend, serve_dir) as served:
        committee_id = (await served.post(CONGRESS, c=CELL)).json()["data"]["committee"]["id"]
        stop = asyncio.Event()
        writers = [
            asyncio.create_task(write_until(served, committee_id, stop, acknowledged))
            for _ in range(WRITERS)
        ]
        await asyncio.sleep(1.0)
        backup_began = time.monotonic()
        made = await asyncio.to_thread(
            congress_command, serve_dir, served.database_url, "backup", str(archive)
        )
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*writers)
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
        engine = create_engine(fresh_url)
        try:
            async with engine.connect() as connection:
                titles = set(await connection.scalars(select(Difficulty.title)))
        finally:
            await engine.dispose()
        missing = before - titles
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
