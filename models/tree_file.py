"""Read a committee tree from a CSV or JSON file into checked rows (`congress import-tree`).

Every problem is reported as a `TreeImportError` naming the row, before the database is
touched; `models.tree_import` then checks the rows against the stored tree and writes them.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast

from sqlalchemy import String, Table

from models.tree import Committee, CommitteeKind

_COMMITTEE: Final = cast(Table, Committee.__table__)

REQUIRED_COLUMNS: Final = ("code", "parent_code", "name", "kind")


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
    index_by_code(rows)
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


def index_by_code(rows: Sequence[TreeRow]) -> dict[str, TreeRow]:
    """Rows by code; a code that appears twice is refused, naming both rows."""
    row_by_code: dict[str, TreeRow] = {}
    for row in rows:
        first = row_by_code.setdefault(row.code, row)
        if first is not row:
            raise TreeImportError(
                f"duplicate code, first on row {first.line}", line=row.line, code=row.code
            )
    return row_by_code
