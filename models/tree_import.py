"""Import the committee tree from a CSV or JSON file, updating existing committees by code.

`read_tree_file` parses and checks the file on its own; `import_tree` then checks the rows
against the committees already stored and only writes once every row has passed. It never
commits: the caller runs it inside one transaction, so a failure, even one in the middle of
writing, leaves the database as it was.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NoReturn, TypeVar, cast

from sqlalchemy import Integer, String, Table, bindparam, case, func, insert, literal, select, text
from sqlalchemy import update as sql_update
from sqlalchemy.ext.asyncio import AsyncSession

from models.text import search_key
from models.tree import (
    Committee,
    CommitteeKind,
    child_path,
    is_in_subtree,
    path_depth,
    subtree_condition,
)

# Rows per INSERT/UPDATE executemany, and so per progress step: large enough that a
# million-row file costs a few hundred round trips, small enough to keep memory flat.
BATCH_SIZE: Final = 5_000
# Each move is its own statement (and may rewrite a large subtree), so report more often.
MOVES_PER_PROGRESS_STEP: Final = 100

REQUIRED_COLUMNS: Final = ("code", "parent_code", "name", "kind")

# Core table rather than the ORM entity: bulk statements skip per-object bookkeeping, and the
# ORM's session synchronisation cannot evaluate the path rewrite of a move anyway.
_COMMITTEE: Final = cast(Table, Committee.__table__)

_T = TypeVar("_T")


def _column_length(column_name: str) -> int:
    # The limits come from the table definition so the checks cannot drift from the schema.
    column_type = _COMMITTEE.c[column_name].type
    assert isinstance(column_type, String)
    assert column_type.length is not None
    return column_type.length


MAX_CODE_LENGTH: Final = _column_length("code")
MAX_NAME_LENGTH: Final = _column_length("name")
MAX_PATH_LENGTH: Final = _column_length("path")

# PostgreSQL refuses NUL in text and the others only ever come from a broken export.
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")


class TreeImportError(Exception):
    """A file or row the import refuses; str() names the row: `row 7 (code 'X1'): ...`.

    `line` is the row as a person counts it in the file (see `TreeRow.line`) and `code` the
    row's code when it has a usable one; both are None for problems with the whole file.
    """

    def __init__(self, message: str, *, line: int | None = None, code: str | None = None) -> None:
        self.message = message
        self.line = line
        self.code = code
        super().__init__(_describe(message, line, code))


def _describe(message: str, line: int | None, code: str | None) -> str:
    if line is None:
        return message
    if code is None:
        return f"row {line}: {message}"
    return f"row {line} (code {code!r}): {message}"


@dataclass(frozen=True, slots=True)
class TreeRow:
    """One committee as a tree file describes it.

    `line` is the row as a person counts it in the file: for CSV the line number in the file
    (the header is line 1), for JSON the 1-based index in the array. `parent_code` is None
    for a root. Creating a row checks its text fields, so every `TreeRow` fits the table.
    """

    line: int
    code: str
    parent_code: str | None
    name: str
    kind: CommitteeKind

    def __post_init__(self) -> None:
        _check_text(self, "code", self.code, MAX_CODE_LENGTH, code=None)
        _check_text(self, "name", self.name, MAX_NAME_LENGTH, code=self.code)
        if self.parent_code is not None:
            _check_text(self, "parent code", self.parent_code, MAX_CODE_LENGTH, code=self.code)


def _check_text(row: TreeRow, label: str, value: str, max_length: int, *, code: str | None) -> None:
    if not value:
        raise TreeImportError(f"missing {label}", line=row.line, code=code)
    if len(value) > max_length:
        raise TreeImportError(
            f"{label} is {len(value)} characters long, more than {max_length}",
            line=row.line,
            code=code,
        )
    if _CONTROL_CHARACTER.search(value):
        raise TreeImportError(f"{label} contains a control character", line=row.line, code=code)


def _parse_kind(kind_text: str, *, line: int, code: str) -> CommitteeKind:
    try:
        return CommitteeKind(kind_text)
    except ValueError:
        pass
    # Name the row's code only if it has one; a missing code is reported as such elsewhere.
    row_code = code or None
    if not kind_text:
        raise TreeImportError("missing kind", line=line, code=row_code)
    expected = ", ".join(kind.value for kind in CommitteeKind)
    raise TreeImportError(
        f"unknown kind {kind_text!r} (expected one of: {expected})", line=line, code=row_code
    )


def _make_row(line: int, code: str, parent_code: str, name: str, kind_text: str) -> TreeRow:
    """A row from stripped text fields; an empty parent code means a root."""
    kind = _parse_kind(kind_text, line=line, code=code)
    return TreeRow(line=line, code=code, parent_code=parent_code or None, name=name, kind=kind)


def read_tree_file(path: Path) -> list[TreeRow]:
    """Read and check every row of a `.csv` or `.json` tree file, without touching the database.

    CSV: UTF-8 (with or without BOM), a header row naming at least code, parent_code, name
    and kind (other columns are ignored), one committee per row; fully blank rows are
    skipped. JSON: an array of objects with those four keys, parent_code a string or null.
    Raises `TreeImportError` naming the first bad row, or the second of two rows that share a
    code; `OSError` if the file cannot be read.
    """
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise TreeImportError(f"unsupported file type {path.suffix!r}: expected .csv or .json")
    content = _decode(path.read_bytes())
    rows = _parse_csv(content) if suffix == ".csv" else _parse_json(content)
    _index_by_code(rows)
    return rows


def _decode(data: bytes) -> str:
    try:
        # "utf-8-sig" drops the byte order mark spreadsheet programs like to write.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise TreeImportError(f"line {line} of the file is not valid UTF-8") from None


def _parse_csv(content: str) -> list[TreeRow]:
    reader = csv.reader(io.StringIO(content, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise TreeImportError("the file is empty: expected a header row " + _columns_hint())
        positions = _column_positions(header)
        width = max(positions.values()) + 1
        rows: list[TreeRow] = []
        lines_read = reader.line_num
        for record in reader:
            # A quoted field may span lines: the row is named by the line it starts on.
            first_line, lines_read = lines_read + 1, reader.line_num
            if not any(field.strip() for field in record):
                continue
            fields = [field.strip() for field in record[:width]]
            fields += [""] * (width - len(fields))
            rows.append(
                _make_row(
                    first_line,
                    code=fields[positions["code"]],
                    parent_code=fields[positions["parent_code"]],
                    name=fields[positions["name"]],
                    kind_text=fields[positions["kind"]],
                )
            )
    except csv.Error as error:
        raise TreeImportError(f"unreadable CSV: {error}", line=reader.line_num) from None
    return rows


def _columns_hint() -> str:
    return "with columns " + ", ".join(REQUIRED_COLUMNS)


def _column_positions(header: list[str]) -> dict[str, int]:
    columns = [column.strip().lower() for column in header]
    missing = [column for column in REQUIRED_COLUMNS if column not in columns]
    if missing:
        raise TreeImportError(
            f"the header row lacks column(s) {', '.join(missing)}: expected a header row "
            + _columns_hint()
        )
    repeated = [column for column in REQUIRED_COLUMNS if columns.count(column) > 1]
    if repeated:
        raise TreeImportError(f"the header row repeats column(s) {', '.join(repeated)}")
    return {column: columns.index(column) for column in REQUIRED_COLUMNS}


def _parse_json(content: str) -> list[TreeRow]:
    try:
        document = json.loads(content)
    except json.JSONDecodeError as error:
        raise TreeImportError(
            f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    if not isinstance(document, list):
        raise TreeImportError(
            f"a JSON tree file must hold an array of objects, not {_json_type(document)}"
        )
    return [_json_row(index, item) for index, item in enumerate(document, start=1)]


def _json_row(line: int, item: object) -> TreeRow:
    if not isinstance(item, dict):
        raise TreeImportError(f"expected an object, got {_json_type(item)}", line=line)
    code = _json_string(item, "code", line=line, code=None)
    # parent_code must be present even for roots: a misspelt key would otherwise silently
    # turn every committee of the file into a root.
    if "parent_code" not in item:
        raise TreeImportError("missing key 'parent_code' (null for a root)", line=line, code=code)
    parent_code = (
        "" if item["parent_code"] is None else _json_string(item, "parent_code", line, code)
    )
    return _make_row(
        line,
        code=code,
        parent_code=parent_code,
        name=_json_string(item, "name", line=line, code=code),
        kind_text=_json_string(item, "kind", line=line, code=code),
    )


def _json_string(item: dict[str, Any], key: str, line: int, code: str | None) -> str:
    row_code = code or None
    if key not in item:
        raise TreeImportError(f"missing key {key!r}", line=line, code=row_code)
    value = item[key]
    if not isinstance(value, str):
        raise TreeImportError(
            f"{key} must be a string, got {_json_type(value)}", line=line, code=row_code
        )
    return value.strip()


def _json_type(value: object) -> str:
    # bool before int: in Python True is an int, in JSON it is not a number.
    for python_type, json_name in (
        (bool, "a boolean"),
        (int, "a number"),
        (float, "a number"),
        (str, "a string"),
        (list, "an array"),
        (dict, "an object"),
    ):
        if isinstance(value, python_type):
            return json_name
    return "null"


def _index_by_code(rows: Sequence[TreeRow]) -> dict[str, TreeRow]:
    row_by_code: dict[str, TreeRow] = {}
    for row in rows:
        first = row_by_code.setdefault(row.code, row)
        if first is not row:
            raise TreeImportError(
                f"duplicate code, first on row {first.line}", line=row.line, code=row.code
            )
    return row_by_code


@dataclass
class ImportReport:
    """What an import did, one count per row: the four counts add up to the number of rows.

    A row whose parent changed counts as `moved`, even if its name or kind changed too;
    `updated` is a changed name or kind under the same parent.
    """

    created: int = 0
    updated: int = 0
    moved: int = 0
    unchanged: int = 0


@dataclass
class _Stored:
    """The committees already in the database, as far as the import needs them."""

    # code -> (id, parent id)
    by_code: dict[str, tuple[int, int | None]]
    code_by_id: dict[int, str]
    # Codes of file rows whose stored name or kind differs from the file.
    content_changed: set[str]

    def parent_code(self, code: str) -> str | None:
        parent_id = self.by_code[code][1]
        return None if parent_id is None else self.code_by_id[parent_id]


@dataclass
class _Plan:
    """Everything import_tree will write, worked out before the first write."""

    report: ImportReport
    # Insert parameters, parents before children.
    inserts: list[dict[str, Any]]
    # (committee id, new parent id), in the order the moves must run.
    moves: list[tuple[int, int | None]]
    # Name/kind update parameters, with whether the row is counted here (not as a move).
    content_updates: list[tuple[bool, dict[str, Any]]]


async def import_tree(
    session: AsyncSession,
    rows: Sequence[TreeRow],
    progress: Callable[[int], None] | None = None,
    *,
    batch_size: int = BATCH_SIZE,
) -> ImportReport:
    """Create, update and move committees so the tree matches `rows`, matching them by code.

    Committees not in `rows` are left alone. Every row is checked against the file and the
    stored tree before anything is written: a duplicate code, a parent code found in neither,
    or parent links that would form a cycle (within the file, or together with stored links,
    e.g. moving a committee under its own descendant) raise `TreeImportError` naming the row.
    `progress(n)` is called after each batch with the number of rows just processed; the
    calls add up to `len(rows)`.

    Does not commit: run it in `async with session.begin():` so an error rolls everything
    back. Writes go through Core statements, so committees already loaded in `session` may
    be stale afterwards.
    """
    report_progress = progress or _ignore_progress
    row_by_code = _index_by_code(rows)
    dialect_name = session.get_bind().dialect.name
    if dialect_name == "postgresql":
        # The checks below read the stored tree and the writes rely on them (and on max(id)):
        # keep other writers out until this transaction ends. Readers are not blocked.
        await session.execute(text("LOCK TABLE committee IN SHARE ROW EXCLUSIVE MODE"))
    stored = await _load_stored(session, row_by_code)
    plan = _plan_import(rows, row_by_code, stored)

    for batch in _batches(plan.inserts, batch_size):
        await session.execute(insert(_COMMITTEE), batch)
        report_progress(len(batch))
    moved_since_report = 0
    for committee_id, new_parent_id in plan.moves:
        await move_subtree(session, committee_id, new_parent_id)
        moved_since_report += 1
        if moved_since_report == MOVES_PER_PROGRESS_STEP:
            report_progress(moved_since_report)
            moved_since_report = 0
    if moved_since_report:
        report_progress(moved_since_report)
    for update_batch in _batches(plan.content_updates, batch_size):
        await session.execute(_UPDATE_CONTENT, [parameters for _, parameters in update_batch])
        # Moved rows were counted with their move.
        counted_rows = sum(1 for counted, _ in update_batch if counted)
        if counted_rows:
            report_progress(counted_rows)
    if plan.report.unchanged:
        report_progress(plan.report.unchanged)
    if plan.inserts and dialect_name == "postgresql":
        # Ids were assigned here, not drawn from the sequence: move it past them so the next
        # ordinary insert does not collide. (setval is not undone by a rollback; a gap is fine.)
        await session.execute(
            text(
                "SELECT setval(pg_get_serial_sequence('committee', 'id'), "
                "(SELECT max(id) FROM committee))"
            )
        )
    return plan.report


def _ignore_progress(_rows_done: int) -> None:
    pass


_UPDATE_CONTENT: Final = (
    sql_update(_COMMITTEE)
    .where(_COMMITTEE.c.id == bindparam("committee_id"))
    .values(
        name=bindparam("new_name"),
        search_name=bindparam("new_search_name"),
        kind=bindparam("new_kind", type_=_COMMITTEE.c.kind.type),
    )
)


async def _load_stored(session: AsyncSession, row_by_code: dict[str, TreeRow]) -> _Stored:
    by_code: dict[str, tuple[int, int | None]] = {}
    code_by_id: dict[int, str] = {}
    content_changed: set[str] = set()
    # Streamed so the full table never sits in memory as result rows; name and kind are
    # compared on the way and dropped, only the tree links are kept.
    result = await session.stream(
        select(Committee.id, Committee.code, Committee.parent_id, Committee.name, Committee.kind)
    )
    async for chunk in result.partitions(BATCH_SIZE):
        for committee_id, code, parent_id, name, kind in chunk:
            by_code[code] = (committee_id, parent_id)
            code_by_id[committee_id] = code
            row = row_by_code.get(code)
            if row is not None and (row.name != name or row.kind != kind):
                content_changed.add(code)
    return _Stored(by_code=by_code, code_by_id=code_by_id, content_changed=content_changed)


def _plan_import(
    rows: Sequence[TreeRow], row_by_code: dict[str, TreeRow], stored: _Stored
) -> _Plan:
    report = ImportReport()
    new_rows: list[TreeRow] = []
    moved_rows: list[TreeRow] = []
    for row in rows:
        if row.parent_code is not None and not (
            row.parent_code in row_by_code or row.parent_code in stored.by_code
        ):
            raise TreeImportError(
                f"unknown parent code {row.parent_code!r}", line=row.line, code=row.code
            )
        if row.code not in stored.by_code:
            new_rows.append(row)
            report.created += 1
        elif row.parent_code != stored.parent_code(row.code):
            moved_rows.append(row)
            report.moved += 1
        elif row.code in stored.content_changed:
            report.updated += 1
        else:
            report.unchanged += 1

    def final_parent(code: str) -> str | None:
        row = row_by_code.get(code)
        return row.parent_code if row is not None else stored.parent_code(code)

    # Only a new row or a changed parent can close a cycle: the stored links alone form a tree.
    final_depth = _final_depths(new_rows + moved_rows, final_parent)

    # Shallowest first. New committees are inserted before any move, straight at their final
    # paths: no move's range can reach them, since a moving committee's old path ends in
    # "/<old parent>/<itself>/", which no final path contains. Moves then run by final depth:
    # a committee's new parent is shallower, so it has already moved (or never moves), sits
    # at its final path, and is outside the moving subtree.
    new_rows.sort(key=lambda row: (final_depth[row.code], row.line))
    moved_rows.sort(key=lambda row: (final_depth[row.code], row.line))
    next_id = max(stored.code_by_id, default=0) + 1
    new_id = {row.code: next_id + offset for offset, row in enumerate(new_rows)}

    def committee_id(code: str) -> int:
        assigned = new_id.get(code)
        return assigned if assigned is not None else stored.by_code[code][0]

    final_path = _FinalPaths(final_parent, committee_id)
    inserts = []
    for row in new_rows:
        path = final_path.of(row)
        search_name = search_key(row.name)
        if len(search_name) > MAX_NAME_LENGTH:
            raise TreeImportError(
                f"name is longer than {MAX_NAME_LENGTH} characters once made searchable",
                line=row.line,
                code=row.code,
            )
        inserts.append(
            {
                "id": new_id[row.code],
                "parent_id": None if row.parent_code is None else committee_id(row.parent_code),
                "code": row.code,
                "name": row.name,
                "search_name": search_name,
                "kind": row.kind,
                "depth": path_depth(path),
                "path": path,
            }
        )
    moves = []
    for row in moved_rows:
        final_path.of(row)  # only to check the length
        parent_id = None if row.parent_code is None else committee_id(row.parent_code)
        moves.append((committee_id(row.code), parent_id))
    moved_codes = {row.code for row in moved_rows}
    content_updates = [
        (
            row.code not in moved_codes,
            {
                "committee_id": committee_id(row.code),
                "new_name": row.name,
                "new_search_name": search_key(row.name),
                "new_kind": row.kind,
            },
        )
        for row in rows
        if row.code in stored.content_changed
    ]
    return _Plan(report=report, inserts=inserts, moves=moves, content_updates=content_updates)


def _final_depths(
    start_rows: Sequence[TreeRow], final_parent: Callable[[str], str | None]
) -> dict[str, int]:
    """Depth after the import of every committee above or at `start_rows`; raises on a cycle.

    Walks up the final parent links from each start row, memoising depths so each
    committee is visited once however many rows lie below it.
    """
    depth: dict[str, int] = {}
    for start in start_rows:
        chain: list[str] = []
        position_in_chain: dict[str, int] = {}
        code: str | None = start.code
        while code is not None and code not in depth:
            if code in position_in_chain:
                _raise_cycle(chain[position_in_chain[code] :], start_rows)
            position_in_chain[code] = len(chain)
            chain.append(code)
            code = final_parent(code)
        above = 0 if code is None else depth[code]
        for offset, walked in enumerate(reversed(chain), start=1):
            depth[walked] = above + offset
    return depth


def _raise_cycle(cycle: list[str], changed_rows: Sequence[TreeRow]) -> NoReturn:
    # Name a row that changed a parent link (a new or moved row), the earliest in the file:
    # that is the row someone has to fix; the cycle is listed starting from it.
    in_cycle = set(cycle)
    culprit = min((row for row in changed_rows if row.code in in_cycle), key=lambda r: r.line)
    start = cycle.index(culprit.code)
    ordered = [*cycle[start:], *cycle[:start], culprit.code]
    raise TreeImportError(
        "parent links form a cycle: "
        + " -> ".join(repr(code) for code in ordered)
        + " (-> leads to the parent)",
        line=culprit.line,
        code=culprit.code,
    )


class _FinalPaths:
    """Paths after the import, worked out from the final parent links and memoised."""

    def __init__(
        self, final_parent: Callable[[str], str | None], committee_id: Callable[[str], int]
    ) -> None:
        self._final_parent = final_parent
        self._committee_id = committee_id
        self._path: dict[str, str] = {}

    def of(self, row: TreeRow) -> str:
        chain: list[str] = []
        code: str | None = row.code
        while code is not None and code not in self._path:
            chain.append(code)
            code = self._final_parent(code)
        path = None if code is None else self._path[code]
        for walked in reversed(chain):
            path = child_path(path, self._committee_id(walked))
            self._path[walked] = path
        assert path is not None
        if len(path) > MAX_PATH_LENGTH:
            raise TreeImportError(
                f"the tree is too deep here: the path would exceed {MAX_PATH_LENGTH} characters",
                line=row.line,
                code=row.code,
            )
        return path


def _batches(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def move_subtree(session: AsyncSession, committee_id: int, new_parent_id: int | None) -> None:
    """Put a committee, with everything below it, under `new_parent_id` (None: make it a root).

    One UPDATE over the subtree's path range rewrites the path and depth of the committee
    and all its descendants, and the committee's parent. Raises ValueError if either
    committee does not exist or the new parent is the committee itself or below it. Does not
    commit; committees already loaded in `session` may be stale afterwards.
    """
    old_path = await session.scalar(select(Committee.path).where(Committee.id == committee_id))
    if old_path is None:
        raise ValueError(f"no committee with id {committee_id}")
    new_parent_path: str | None = None
    if new_parent_id is not None:
        new_parent_path = await session.scalar(
            select(Committee.path).where(Committee.id == new_parent_id)
        )
        if new_parent_path is None:
            raise ValueError(f"no committee with id {new_parent_id}")
        if is_in_subtree(new_parent_path, old_path):
            raise ValueError(
                f"cannot move committee {committee_id} under committee {new_parent_id}, "
                "which is itself or one of its descendants"
            )
    new_path = child_path(new_parent_path, committee_id)
    if new_path == old_path:
        return
    path = _COMMITTEE.c.path
    await session.execute(
        sql_update(_COMMITTEE)
        .where(subtree_condition(path, old_path))
        .values(
            # new prefix + the part of each path below the moved committee's old prefix
            path=literal(new_path, String) + func.substr(path, len(old_path) + 1),
            depth=_COMMITTEE.c.depth + (path_depth(new_path) - path_depth(old_path)),
            parent_id=case(
                (_COMMITTEE.c.id == committee_id, literal(new_parent_id, Integer)),
                else_=_COMMITTEE.c.parent_id,
            ),
        )
    )
