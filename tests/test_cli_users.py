"""`congress users ...`: the first admin, then accounts from the command line, all audited."""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy import select

from cli.main import main
from models import AuditEntry
from models.database import create_engine

TREE = "code,parent_code,name,kind\nTW,,Trung ương,central\nT01,TW,Thành ủy Hà Nội,province\n"


def congress(data_dir: Path, database_url: str, *args: str) -> Result:
    return CliRunner().invoke(
        main, ["--data-dir", str(data_dir), "--database-url", database_url, *args]
    )


def with_tree(data_dir: Path, database_url: str) -> None:
    tree = data_dir / "tree.csv"
    tree.write_text(TREE, encoding="utf-8")
    assert congress(data_dir, database_url, "import-tree", str(tree)).exit_code == 0


async def audit_actions(database_url: str) -> list[tuple[str, str | None]]:
    engine = create_engine(database_url)
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(AuditEntry.action, AuditEntry.actor_subject).order_by(AuditEntry.id)
        )
        actions = [(action, actor) for action, actor in rows]
    await engine.dispose()
    return actions


def test_bootstrap_creates_the_first_admin_once(empty_database_url: str, tmp_path: Path) -> None:
    with_tree(tmp_path, empty_database_url)
    first = congress(
        tmp_path, empty_database_url, "users", "bootstrap", "001000000001", "Nguyễn Văn Quản Trị"
    )
    assert first.exit_code == 0, first.output
    assert "Created admin 001000000001 at TW" in first.output
    token = congress(tmp_path, empty_database_url, "token", "001000000001")
    assert token.exit_code == 0
    again = congress(
        tmp_path, empty_database_url, "users", "bootstrap", "001000000002", "Someone Else"
    )
    assert again.exit_code == 1
    assert "TW already has an admin" in again.output


def test_users_commands_change_and_list_accounts_with_an_audit_trail(
    empty_database_url: str, tmp_path: Path
) -> None:
    with_tree(tmp_path, empty_database_url)
    steps = [
        (
            "users",
            "create",
            "001000000005",
            "Trần Thị Bình",
            "--committee",
            "T01",
            "--role",
            "reporter",
        ),
        ("users", "grant", "001000000005", "--committee", "TW", "--role", "viewer"),
        ("users", "revoke", "001000000005", "--committee", "TW"),
        ("users", "deactivate", "001000000005"),
    ]
    for step in steps:
        result = congress(tmp_path, empty_database_url, *step)
        assert result.exit_code == 0, (step, result.output)
    listing = congress(tmp_path, empty_database_url, "users", "list", "--search", "tran thi binh")
    assert listing.output.split() == [
        "001000000005",
        "inactive",
        "Trần",
        "Thị",
        "Bình",
        "reporter@T01",
    ]
    actions = asyncio.run(audit_actions(empty_database_url))
    assert [action for action, _ in actions] == [
        "user.create",
        "role.grant",
        "role.revoke",
        "user.deactivate",
    ]
    assert all(actor is not None and actor.startswith("cli:") for _, actor in actions)


def test_users_commands_refuse_bad_input_clearly(empty_database_url: str, tmp_path: Path) -> None:
    with_tree(tmp_path, empty_database_url)
    bad_subject = congress(
        tmp_path,
        empty_database_url,
        "users",
        "create",
        "has space",
        "X",
        "--committee",
        "T01",
        "--role",
        "viewer",
    )
    assert bad_subject.exit_code == 1
    assert "The subject must be" in bad_subject.output
    unknown_committee = congress(
        tmp_path,
        empty_database_url,
        "users",
        "create",
        "0010",
        "X",
        "--committee",
        "NOPE",
        "--role",
        "viewer",
    )
    assert "No committee with code 'NOPE'" in unknown_committee.output
    bad_role = congress(
        tmp_path,
        empty_database_url,
        "users",
        "create",
        "0010",
        "X",
        "--committee",
        "T01",
        "--role",
        "king",
    )
    assert bad_role.exit_code == 2
    unknown_user = congress(tmp_path, empty_database_url, "users", "deactivate", "999")
    assert "No user with subject '999'" in unknown_user.output
