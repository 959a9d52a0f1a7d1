"""The `congress` command, run the way an operator runs it."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner, Result
from sqlalchemy import text

from cli.main import main
from config import Settings
from graph.app import token_verifier
from models.database import create_engine
from models.demo import demo_users
from models.migrate import head_revision
from permissions.tokens import LocalIssuer

VIEWER_QUERY = (
    "{ viewer { subject assignments { role committee { code } } } committees { totalCount } }"
)


def congress(data_dir: Path, database_url: str, *args: str) -> Result:
    return CliRunner().invoke(
        main, ["--data-dir", str(data_dir), "--database-url", database_url, *args]
    )


def printed_headers(output: str) -> list[dict[str, str]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith('{"Authorization"')]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_db_upgrade_reports_the_revision(empty_database_url: str, tmp_path: Path) -> None:
    result = congress(tmp_path, empty_database_url, "db", "upgrade")
    assert result.exit_code == 0, result.output
    assert f"is at revision {head_revision()}" in result.output


def test_demo_prints_a_token_for_every_demo_user(empty_database_url: str, tmp_path: Path) -> None:
    result = congress(tmp_path, empty_database_url, "demo", "--cells-per-commune", "1")
    assert result.exit_code == 0, result.output
    headers = printed_headers(result.output)
    assert len(headers) == len(demo_users()) == 16
    # Verified as the server verifies them: signature, assurance level and lifetime.
    verifier = token_verifier(Settings(data_dir=tmp_path, database_url=empty_database_url))
    subjects = [
        asyncio.run(verifier.verify(header["Authorization"].removeprefix("Bearer "))).subject
        for header in headers
    ]
    assert subjects == [user.subject for user in demo_users()]


def test_demo_twice_keeps_the_tree(empty_database_url: str, tmp_path: Path) -> None:
    first = congress(
        tmp_path, empty_database_url, "demo", "--cells-per-commune", "1", "--no-activity"
    )
    second = congress(
        tmp_path, empty_database_url, "demo", "--cells-per-commune", "1", "--no-activity"
    )
    assert first.exit_code == second.exit_code == 0
    assert "already holds a tree" in second.output
    assert len(printed_headers(second.output)) == 16


def test_the_data_dir_and_database_may_follow_the_subcommand(
    empty_database_url: str, tmp_path: Path
) -> None:
    # As a user types it: `congress demo --database-url ...`, and in a nested group.
    locations = ["--data-dir", str(tmp_path), "--database-url", empty_database_url]
    demo = CliRunner().invoke(
        main, ["demo", "--cells-per-commune", "1", "--no-activity", *locations]
    )
    assert demo.exit_code == 0, demo.output
    assert len(printed_headers(demo.output)) == 16
    listed = CliRunner().invoke(main, ["users", "list", *locations])
    assert listed.exit_code == 0, listed.output
    assert demo_users()[0].subject in listed.output
    # After the subcommand wins over before it.
    elsewhere = tmp_path / "elsewhere"
    before = ["--database-url", f"sqlite:///{elsewhere / 'other.db'}"]
    upgraded = CliRunner().invoke(
        main, [*before, "db", "upgrade", "--database-url", empty_database_url]
    )
    assert upgraded.exit_code == 0, upgraded.output
    assert not (elsewhere / "other.db").exists()


def test_token_for_an_active_user(empty_database_url: str, tmp_path: Path) -> None:
    congress(tmp_path, empty_database_url, "demo", "--cells-per-commune", "1", "--no-activity")
    subject = demo_users()[0].subject
    result = congress(tmp_path, empty_database_url, "token", subject, "--ttl", "600")
    assert result.exit_code == 0, result.output
    identity = asyncio.run(
        LocalIssuer.load_or_create(tmp_path / "local-issuer-key.pem").verify(result.output.strip())
    )
    assert identity.subject == subject
    assert identity.claims["exp"] - identity.claims["iat"] == 600


def test_a_token_longer_than_the_server_accepts_is_not_issued(
    empty_database_url: str, tmp_path: Path
) -> None:
    congress(tmp_path, empty_database_url, "demo", "--cells-per-commune", "1", "--no-activity")
    subject = demo_users()[0].subject
    result = congress(tmp_path, empty_database_url, "token", subject, "--ttl", str(25 * 3600))
    assert result.exit_code == 1
    assert "the server accepts at most 86400 s" in result.output


def test_token_for_an_unknown_user_is_refused(empty_database_url: str, tmp_path: Path) -> None:
    result = congress(tmp_path, empty_database_url, "token", "000000000000")
    assert result.exit_code == 1
    assert "No active user with subject '000000000000'" in result.output


def test_serve_answers_over_real_http(empty_database_url: str, tmp_path: Path) -> None:
    port = free_port()
    environment = {
        **os.environ,
        "CONGRESS_DATA_DIR": str(tmp_path),
        "CONGRESS_DATABASE_URL": empty_database_url,
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli",
            "serve",
            "--demo",
            "--no-activity",
            "--cells-per-commune",
            "1",
            "--port",
            str(port),
        ],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            try:
                if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not start within 60 s"
                time.sleep(0.2)
        central_admin = next(
            user
            for user in demo_users()
            if user.committee_code == "TW" and user.role.value == "admin"
        )
        token = LocalIssuer.load_or_create(tmp_path / "local-issuer-key.pem").issue(
            central_admin.subject, 600
        )
        response = httpx.post(
            f"{base_url}/graphql",
            json={"query": VIEWER_QUERY},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["viewer"]["subject"] == central_admin.subject
        assert data["committees"]["totalCount"] == 1 + 34 + 3321 * 2
        assert httpx.post(f"{base_url}/graphql", json={"query": VIEWER_QUERY}).status_code == 401
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_import_tree_loads_a_file_and_updates_it_on_rerun(
    empty_database_url: str, tmp_path: Path
) -> None:
    tree = tmp_path / "tree.csv"
    tree.write_text(
        "code,parent_code,name,kind\nTW,,Ban Chấp hành Trung ương,central\nT01,TW,Thành ủy Hà Nội,province\n",
        encoding="utf-8",
    )
    first = congress(tmp_path, empty_database_url, "import-tree", str(tree))
    assert first.exit_code == 0, first.output
    assert "2 created, 0 updated, 0 moved, 0 unchanged" in first.output
    second = congress(tmp_path, empty_database_url, "import-tree", str(tree))
    assert "0 created, 0 updated, 0 moved, 2 unchanged" in second.output


def test_import_tree_names_the_bad_row_and_changes_nothing(
    empty_database_url: str, tmp_path: Path
) -> None:
    tree = tmp_path / "tree.json"
    tree.write_text(
        json.dumps(
            [
                {"code": "TW", "parent_code": None, "name": "Trung ương", "kind": "central"},
                {"code": "T01", "parent_code": "T99", "name": "Hà Nội", "kind": "province"},
            ]
        ),
        encoding="utf-8",
    )
    result = congress(tmp_path, empty_database_url, "import-tree", str(tree))
    assert result.exit_code == 1
    assert "row 2 (code 'T01'): unknown parent code 'T99'" in result.output
    assert "Nothing was changed." in result.output
    # Nothing from the good first row was kept: importing it alone creates it.
    tree.write_text(
        json.dumps([{"code": "TW", "parent_code": None, "name": "Trung ương", "kind": "central"}])
    )
    retry = congress(tmp_path, empty_database_url, "import-tree", str(tree))
    assert "1 created, 0 updated, 0 moved, 0 unchanged" in retry.output


def test_check_rollups_finds_drift_and_repairs_it(empty_database_url: str, tmp_path: Path) -> None:
    # With the recorded activity: rollups that have counted something.
    congress(tmp_path, empty_database_url, "demo", "--cells-per-commune", "1")
    clean = congress(tmp_path, empty_database_url, "check-rollups")
    assert clean.exit_code == 0, clean.output
    assert "no drift" in clean.output

    async def corrupt() -> None:
        engine = create_engine(empty_database_url)
        async with engine.begin() as connection:
            await connection.execute(
                text("UPDATE progress_rollup SET value = value + 1 WHERE measure = 'total'")
            )
        await engine.dispose()

    asyncio.run(corrupt())
    drifted = congress(tmp_path, empty_database_url, "check-rollups")
    assert drifted.exit_code == 1
    assert "rollup counters differ" in drifted.output
    assert "total: stored" in drifted.output
    repaired = congress(tmp_path, empty_database_url, "check-rollups", "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert "Repaired" in repaired.output
    assert "no drift" in congress(tmp_path, empty_database_url, "check-rollups").output


def test_a_serving_worker_freezes_startup_and_collects_less_often(
    empty_database_url: str, tmp_path: Path
) -> None:
    """In a process of its own, as `congress serve` starts each worker (freezing would
    keep this test process's objects for good)."""
    probe = (
        "import gc\n"
        "from graph.app import create_app_from_env\n"
        "from graph.garbage_collection import OLDER_GENERATION_THRESHOLD as older\n"
        "from graph.garbage_collection import OLDEST_GENERATION_THRESHOLD as oldest\n"
        "from graph.garbage_collection import YOUNG_GENERATION_THRESHOLD as young\n"
        "assert gc.get_threshold() != (young, older, oldest)\n"
        "app = create_app_from_env()\n"
        "assert gc.get_freeze_count() > 10_000, gc.get_freeze_count()\n"
        "assert gc.get_threshold() == (young, older, oldest)\n"
        "assert app.old_garbage is not None\n"
        "print('tuned')\n"
    )
    environment = {
        **os.environ,
        "CONGRESS_DATA_DIR": str(tmp_path),
        "CONGRESS_DATABASE_URL": empty_database_url,
    }
    done = subprocess.run(
        [sys.executable, "-c", probe], env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "tuned"


def test_the_sqlite_install_serves_without_the_postgres_driver(tmp_path: Path) -> None:
    """The README's first command installs no extras: asyncpg (the `postgres` extra) must
    not be needed to import and build the app on SQLite, live half included."""
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'congress.db'}"
    program = (
        "import sys; sys.modules['asyncpg'] = None\n"  # importing it raises ImportError
        "from pathlib import Path\n"
        "from config import Settings\n"
        "from cli.main import main\n"
        "from graph.app import create_app\n"
        "from graph.live.hub import LiveHub\n"
        f"create_app(Settings(data_dir=Path({str(tmp_path)!r}), database_url={database_url!r}))\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )
    assert finished.returncode == 0, finished.stderr
