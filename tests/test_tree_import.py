"""`congress import-tree`: reading tree files and importing them, by code, in one transaction."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from models.tree import Committee, CommitteeKind, child_path
from models.tree_file import TreeImportError, TreeRow, read_tree_file
from models.tree_import import ImportReport, import_tree
from models.tree_moves import move_subtree
from tests.tree_checks import Snapshot, StoredCommittee, assert_paths_follow_parent_links, snapshot

# (code, parent_code, name, kind) as a file row holds them; "" parent_code for a root.
FileRow = tuple[str, str, str, str]

HEADER = ("code", "parent_code", "name", "kind")
BASE_TREE: list[FileRow] = [
    ("TW", "", "Trung ương", "central"),
    ("HN", "TW", "Thành ủy Hà Nội", "province"),
    ("HN-BD", "HN", "Đảng ủy phường Ba Đình", "commune"),
    ("HN-BD-1", "HN-BD", "Chi bộ 1", "cell"),
    ("HN-BD-2", "HN-BD", "Chi bộ 2", "cell"),
    ("HP", "TW", "Thành ủy Hải Phòng", "province"),
    ("HP-LC", "HP", "Đảng ủy phường Lê Chân", "commune"),
]


def write_csv(directory: Path, rows: list[FileRow], name: str = "tree.csv") -> Path:
    path = directory / name
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def write_json(directory: Path, document: Any, name: str = "tree.json") -> Path:
    path = directory / name
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def as_json_objects(rows: list[FileRow]) -> list[dict[str, str | None]]:
    return [
        {"code": code, "parent_code": parent or None, "name": name, "kind": kind}
        for code, parent, name, kind in rows
    ]


def replaced(rows: list[FileRow], code: str, **changes: str) -> list[FileRow]:
    """`rows` with the row of `code` given a new parent_code and/or name."""
    result = []
    for row in rows:
        if row[0] == code:
            row = (
                row[0],
                changes.get("parent_code", row[1]),
                changes.get("name", row[2]),
                row[3],
            )
        result.append(row)
    return result


async def import_file(
    engine: AsyncEngine,
    path: Path,
    progress: Callable[[int], None] | None = None,
    batch_size: int = 5_000,
) -> ImportReport:
    """Read and import `path` the way the CLI does: one transaction around both."""
    async with AsyncSession(engine) as session, session.begin():
        return await import_tree(session, read_tree_file(path), progress, batch_size=batch_size)


def by_code(committees: Snapshot) -> dict[str, StoredCommittee]:
    return {committee.code: committee for committee in committees}


@pytest.fixture
async def tree_engine(empty_engine: AsyncEngine, tmp_path: Path) -> AsyncEngine:
    """A database that already holds BASE_TREE, so "unchanged" means something."""
    await import_file(empty_engine, write_csv(tmp_path, BASE_TREE, name="base.csv"))
    return empty_engine


async def test_csv_import_creates_the_tree(empty_engine: AsyncEngine, tmp_path: Path) -> None:
    report = await import_file(empty_engine, write_csv(tmp_path, BASE_TREE))

    assert report == ImportReport(created=len(BASE_TREE))
    committees = await snapshot(empty_engine)
    assert sorted(c.code for c in committees) == sorted(row[0] for row in BASE_TREE)
    assert_paths_follow_parent_links(committees)
    assert by_code(committees)["HN"].search_name == "thanh uy ha noi"
    assert by_code(committees)["HN-BD"].kind == CommitteeKind.COMMUNE


async def test_json_import_creates_the_tree(empty_engine: AsyncEngine, tmp_path: Path) -> None:
    report = await import_file(empty_engine, write_json(tmp_path, as_json_objects(BASE_TREE)))

    assert report == ImportReport(created=len(BASE_TREE))
    committees = await snapshot(empty_engine)
    assert len(committees) == len(BASE_TREE)
    assert_paths_follow_parent_links(committees)
    assert by_code(committees)["HN-BD"].search_name == "dang uy phuong ba dinh"


async def test_reimporting_the_same_file_changes_nothing(
    tree_engine: AsyncEngine, tmp_path: Path
) -> None:
    before = await snapshot(tree_engine)

    report = await import_file(tree_engine, write_csv(tmp_path, BASE_TREE))

    assert report == ImportReport(unchanged=len(BASE_TREE))
    assert await snapshot(tree_engine) == before


async def test_reimport_renames_and_moves_by_code(tree_engine: AsyncEngine, tmp_path: Path) -> None:
    before = by_code(await snapshot(tree_engine))
    rows = replaced(BASE_TREE, "HN-BD", parent_code="HP")
    rows = replaced(rows, "HN-BD-1", name="Chi bộ Một")

    report = await import_file(tree_engine, write_csv(tmp_path, rows))

    assert report == ImportReport(updated=1, moved=1, unchanged=len(BASE_TREE) - 2)
    committees = await snapshot(tree_engine)
    assert len(committees) == len(BASE_TREE)
    assert_paths_follow_parent_links(committees)
    after = by_code(committees)
    assert after["HN-BD"].parent_id == before["HP"].id
    assert after["HN-BD-2"].path.startswith(after["HP"].path)
    assert (after["HN-BD-1"].name, after["HN-BD-1"].search_name) == ("Chi bộ Một", "chi bo mot")
    assert {c.code: c.id for c in committees} == {code: c.id for code, c in before.items()}


async def test_reimport_can_swap_a_parent_and_its_child(
    tree_engine: AsyncEngine, tmp_path: Path
) -> None:
    rows = replaced(BASE_TREE, "HN-BD", parent_code="HN-BD-1")
    rows = replaced(rows, "HN-BD-1", parent_code="HN")

    report = await import_file(tree_engine, write_csv(tmp_path, rows))

    assert report.moved == 2
    committees = await snapshot(tree_engine)
    assert_paths_follow_parent_links(committees)
    after = by_code(committees)
    assert after["HN-BD-2"].parent_id == after["HN-BD"].id
    assert after["HN-BD"].parent_id == after["HN-BD-1"].id


async def test_reimport_mixes_new_committees_and_moves(
    tree_engine: AsyncEngine, tmp_path: Path
) -> None:
    rows = replaced(BASE_TREE, "HN-BD", parent_code="HP")
    rows = replaced(rows, "HP-LC", parent_code="QN")  # under a committee the file creates
    rows += [
        ("HN-BD-3", "HN-BD", "Chi bộ 3", "cell"),  # inside a subtree that moves
        ("QN", "TW", "Tỉnh ủy Quảng Ninh", "province"),
    ]

    report = await import_file(tree_engine, write_csv(tmp_path, rows))

    assert report == ImportReport(created=2, moved=2, unchanged=len(BASE_TREE) - 2)
    committees = await snapshot(tree_engine)
    assert len(committees) == len(BASE_TREE) + 2
    assert_paths_follow_parent_links(committees)
    after = by_code(committees)
    assert after["HN-BD-3"].path.startswith(after["HP"].path)
    assert after["HP-LC"].parent_id == after["QN"].id


BAD_FILES = [
    pytest.param(
        "tree.csv",
        "code,parent_code,name,kind\nX,Y,Chi bộ X,cell\nY,X,Chi bộ Y,cell\n",
        "row 2 (code 'X'): parent links form a cycle: 'X' -> 'Y' -> 'X'",
        id="cycle-in-file",
    ),
    pytest.param(
        "tree.csv",
        "code,parent_code,name,kind\nHP,TW,Thành ủy Hải Phòng,province\n"
        "HN,HN-BD-1,Thành ủy Hà Nội,province\n",
        "row 3 (code 'HN'): parent links form a cycle: 'HN' -> 'HN-BD-1' -> 'HN-BD' -> 'HN'",
        id="cycle-with-stored-tree",
    ),
    pytest.param(
        "tree.csv",
        "code,parent_code,name,kind\nNEW,HN,Chi bộ mới,cell\nLOST,NOPE,Chi bộ lạc,cell\n",
        "row 3 (code 'LOST'): unknown parent code 'NOPE'",
        id="unknown-parent",
    ),
    pytest.param(
        "tree.csv",
        "code,parent_code,name,kind\nA,HN,Chi bộ A,cell\nB,HN,Chi bộ B,cell\nA,HP,Chi bộ A2,cell\n",
        "row 4 (code 'A'): duplicate code, first on row 2",
        id="duplicate-code",
    ),
    pytest.param(
        "tree.csv",
        "code,parent_code,name,kind\nA,HN,Chi bộ A,cell\nB,HN,,cell\n",
        "row 3 (code 'B'): missing name",
        id="missing-name",
    ),
    pytest.param(
        "tree.csv",
        "code,parent_code,name,kind\nA,HN,Chi bộ A,cell\nB,HN,Làng B,village\n",
        "row 3 (code 'B'): unknown kind 'village'",
        id="unknown-kind",
    ),
    pytest.param(
        "tree.csv",
        f"code,parent_code,name,kind\nA,HN,Chi bộ A,cell\n{'C' * 65},HN,Chi bộ dài,cell\n",
        "row 3: code is 65 characters long, more than 64",
        id="code-too-long",
    ),
    pytest.param(
        "tree.json",
        '[{"code": "A", "parent_code": "HN", "name": "Chi bộ A", "kind": "cell"},'
        ' {"code": "B", "parent_code": "HN", "name": 5, "kind": "cell"}]',
        "row 2 (code 'B'): name must be a string, got a number",
        id="json-wrong-type",
    ),
    pytest.param(
        "tree.json",
        '[{"code": "A", "name": "Chi bộ A", "kind": "cell"}]',
        "row 1 (code 'A'): missing key 'parent_code'",
        id="json-missing-key",
    ),
]


@pytest.mark.parametrize(("file_name", "content", "expected_message"), BAD_FILES)
async def test_bad_file_names_the_row_and_changes_nothing(
    tree_engine: AsyncEngine, tmp_path: Path, file_name: str, content: str, expected_message: str
) -> None:
    before = await snapshot(tree_engine)
    path = tmp_path / file_name
    path.write_text(content, encoding="utf-8")

    with pytest.raises(TreeImportError) as error:
        await import_file(tree_engine, path)

    assert str(error.value).startswith(expected_message)
    assert await snapshot(tree_engine) == before


async def test_failure_in_the_middle_of_writing_changes_nothing(
    tree_engine: AsyncEngine, tmp_path: Path
) -> None:
    before = await snapshot(tree_engine)
    new_cells = [(f"HN-BD-C{n}", "HN-BD", f"Chi bộ C{n}", "cell") for n in range(25)]
    rows = replaced(BASE_TREE, "HP-LC", parent_code="HN") + new_cells
    batches_written: list[int] = []

    def fail_after_first_batch(rows_done: int) -> None:
        batches_written.append(rows_done)
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        await import_file(
            tree_engine, write_csv(tmp_path, rows), fail_after_first_batch, batch_size=10
        )

    assert batches_written == [10]
    assert await snapshot(tree_engine) == before


async def test_progress_adds_up_to_the_number_of_rows(
    tree_engine: AsyncEngine, tmp_path: Path
) -> None:
    rows = replaced(BASE_TREE, "HN-BD", parent_code="HP", name="Phường Ba Đình")
    rows = replaced(rows, "HP-LC", name="Phường Lê Chân")
    rows += [(f"HP-C{n}", "HP-LC", f"Chi bộ {n}", "cell") for n in range(5)]
    steps: list[int] = []

    await import_file(tree_engine, write_csv(tmp_path, rows), steps.append, batch_size=2)

    assert sum(steps) == len(rows)
    assert all(step > 0 for step in steps)


async def test_committee_added_after_import_gets_a_fresh_id(tree_engine: AsyncEngine) -> None:
    async with AsyncSession(tree_engine) as session, session.begin():
        highest_id = await session.scalar(select(func.max(Committee.id)))
        new_id = await session.scalar(
            insert(Committee)
            .values(
                code="LATER",
                name="Later",
                search_name="later",
                kind=CommitteeKind.PROVINCE,
                depth=1,
                path="/later/",
            )
            .returning(Committee.id)
        )

    assert highest_id is not None
    assert new_id == highest_id + 1


async def test_move_subtree_refuses_a_move_under_its_own_descendant(
    tree_engine: AsyncEngine,
) -> None:
    before = await snapshot(tree_engine)
    ids = {c.code: c.id for c in before}

    async with AsyncSession(tree_engine) as session, session.begin():
        with pytest.raises(ValueError, match="descendant"):
            await move_subtree(session, ids["HN"], ids["HN-BD-1"])

    assert await snapshot(tree_engine) == before


async def test_move_subtree_carries_the_whole_subtree(tree_engine: AsyncEngine) -> None:
    ids = {c.code: c.id for c in await snapshot(tree_engine)}

    async with AsyncSession(tree_engine) as session, session.begin():
        await move_subtree(session, ids["HN-BD"], ids["HP-LC"])

    committees = await snapshot(tree_engine)
    assert_paths_follow_parent_links(committees)
    assert by_code(committees)["HN-BD-1"].depth == 5


async def test_move_subtree_to_the_top_makes_a_root(tree_engine: AsyncEngine) -> None:
    ids = {c.code: c.id for c in await snapshot(tree_engine)}

    async with AsyncSession(tree_engine) as session, session.begin():
        await move_subtree(session, ids["HN"], None)

    committees = await snapshot(tree_engine)
    assert_paths_follow_parent_links(committees)
    assert by_code(committees)["HN"].path == child_path(None, ids["HN"])


def test_csv_accepts_bom_extra_columns_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "tree.csv"
    path.write_text(
        "\ufeffname,code,note,kind,parent_code\r\n"
        "Trung ương,TW,gốc,central,\r\n"
        "\r\n"
        '" Thành ủy, Hà Nội ", HN ,,province,TW\r\n',
        encoding="utf-8",
    )

    assert read_tree_file(path) == [
        TreeRow(line=2, code="TW", parent_code=None, name="Trung ương", kind=CommitteeKind.CENTRAL),
        TreeRow(
            line=4,
            code="HN",
            parent_code="TW",
            name="Thành ủy, Hà Nội",
            kind=CommitteeKind.PROVINCE,
        ),
    ]


def test_csv_without_a_required_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tree.csv"
    path.write_text("code,name,kind\nTW,Trung ương,central\n", encoding="utf-8")

    with pytest.raises(TreeImportError, match="lacks column"):
        read_tree_file(path)
