"""Progress exports: `GET /reports/progress.csv` and `GET /reports/progress.xlsx`.

One row per open committee at one depth below `under`, each with the summary of its subtree in
a term: the same numbers as the GraphQL field `Committee.progress(term)`, read by the same
loader under the same scope. The routes sit behind the same authentication as `/graphql`
(graph.app), so a request arrives here with its session and Viewer.

Query parameters:
- `under` (required): a committee's global id, as in GraphQL, or its code. Missing and
  invisible committees are the same 404.
- `term`: a term code; the current term if omitted.
- `depth`: the absolute depth of the rows (the root is 1), from `under`'s own depth down;
  the level just below `under` if omitted.

The rows are read in keyset pages of EXPORT_PAGE_SIZE committees, so a national export never
holds the tree in memory: the CSV is sent page by page as it is read, the spreadsheet is built
by openpyxl's write-only mode into an anonymous temporary file and then sent from it.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from graph.authentication import SESSION_STATE_KEY, VIEWER_STATE_KEY
from graph.global_ids import row_id_of
from graph.progress_loaders import ProgressLoaders, SubtreeKey
from graph.report_columns import CellValue, Column, ColumnKind, ReportRow, progress_columns
from graph.resolvers.committees import COMMITTEE_TYPE
from models import Committee
from models.congress_progress import term_by_code
from models.database import begin_read_snapshot
from models.refusals import Invalid
from models.tree import MAX_DEPTH
from permissions import visible, visible_progress
from permissions.scope import Scope
from permissions.viewer import Viewer

# Committees per keyset page: each page costs three statements (committees, counters, deadlines).
EXPORT_PAGE_SIZE = 500
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Excel reads a CSV as the local code page unless it starts with a byte order mark.
UTF8_BOM = "\ufeff"
SHEET_TITLE = "Tiến độ đại hội"
FILE_CHUNK_BYTES = 64 * 1024
# A spreadsheet evaluates a cell starting with one of these as a formula: a committee named
# "=HYPERLINK(...)" by a careless or hostile admin must stay text in the centre's export.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_UNSAFE_FILENAME_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class ProgressReport:
    """What one export is about, checked against the viewer's scope before any row is sent.
    Plain values, not rows: the session's snapshot ends before the response does."""

    under_code: str
    under_path: str
    term_id: int
    term_code: str
    depth: int
    columns: list[Column]

    def filename(self, extension: str) -> str:
        stem = f"tien-do-dai-hoi_{self.under_code}_{self.term_code}_cap-{self.depth}"
        return f"{_UNSAFE_FILENAME_CHARACTERS.sub('_', stem)}.{extension}"


class ReportRefused(Exception):
    """A request the export answers with an error, shaped like a GraphQL error."""

    def __init__(self, status_code: int, code: str, argument: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.argument = argument
        self.message = message

    def response(self) -> JSONResponse:
        error = {
            "message": self.message,
            "extensions": {"code": self.code, "argument": self.argument},
        }
        return JSONResponse({"errors": [error]}, status_code=self.status_code)


def _bad_parameter(argument: str, message: str) -> ReportRefused:
    return ReportRefused(400, "BAD_USER_INPUT", argument, message)


def _under_not_found() -> ReportRefused:
    # One answer for a committee that does not exist and one the viewer cannot see.
    return ReportRefused(404, "NOT_FOUND", "under", "No committee found for `under`.")


async def progress_csv(request: Request) -> Response:
    session, viewer = _session_and_viewer(request)
    try:
        report = await _progress_report(session, viewer, request)
    except ReportRefused as refused:
        return refused.response()
    return StreamingResponse(
        _csv_chunks(session, viewer.scope, report),
        media_type=CSV_MEDIA_TYPE,
        headers={"content-disposition": _attachment(report.filename("csv"))},
    )


async def progress_xlsx(request: Request) -> Response:
    session, viewer = _session_and_viewer(request)
    try:
        report = await _progress_report(session, viewer, request)
    except ReportRefused as refused:
        return refused.response()
    workbook_file = await _write_workbook(session, viewer.scope, report)
    size = workbook_file.seek(0, os.SEEK_END)
    workbook_file.seek(0)
    return StreamingResponse(
        _file_chunks(workbook_file),
        media_type=XLSX_MEDIA_TYPE,
        headers={
            "content-disposition": _attachment(report.filename("xlsx")),
            "content-length": str(size),
        },
    )


def _session_and_viewer(request: Request) -> tuple[AsyncSession, Viewer]:
    session: AsyncSession = getattr(request.state, SESSION_STATE_KEY)
    viewer: Viewer = getattr(request.state, VIEWER_STATE_KEY)
    return session, viewer


def _attachment(filename: str) -> str:
    return f'attachment; filename="{filename}"'


async def _progress_report(
    session: AsyncSession, viewer: Viewer, request: Request
) -> ProgressReport:
    """The export's parameters, checked in an order that reveals nothing out of scope: the
    syntax first, then `under` (404 if not visible), then what depends on `under`."""
    parameters = request.query_params
    under_argument = parameters.get("under", "").strip()
    if not under_argument:
        raise _bad_parameter("under", "`under` is required: a committee's id or code.")
    depth_argument = parameters.get("depth", "").strip()
    depth: int | None = None
    if depth_argument:
        # Digits only, and few of them: int() of a long enough string is an error of its own.
        if depth_argument.isascii() and depth_argument.isdigit() and len(depth_argument) <= 9:
            depth = int(depth_argument)
        if depth is None or not 1 <= depth <= MAX_DEPTH:
            raise _bad_parameter(
                "depth", f"`depth` must be a whole number from 1 (the root) to {MAX_DEPTH}."
            )
    term_code = parameters.get("term", "").strip() or None

    await begin_read_snapshot(session)
    try:
        term = await term_by_code(session, term_code)
    except Invalid as refusal:
        raise _bad_parameter("term", f"`term`: {refusal.message}") from refusal
    under = await _committee_named(session, viewer.scope, under_argument)
    if under is None:
        raise _under_not_found()
    depth = under.depth + 1 if depth is None else depth
    if not under.depth <= depth <= MAX_DEPTH:
        raise _bad_parameter(
            "depth",
            f"`depth` must be from {under.depth} (the depth of `under`) to {MAX_DEPTH}, "
            f"not {depth}.",
        )
    templates = (await visible.milestone_templates(session, [term.id]))[term.id]
    return ProgressReport(
        under_code=under.code,
        under_path=under.path,
        term_id=term.id,
        term_code=term.code,
        depth=depth,
        columns=progress_columns(templates),
    )


async def _committee_named(session: AsyncSession, scope: Scope, argument: str) -> Committee | None:
    """The visible committee with this global id or, failing that, this code."""
    row_id = row_id_of(argument, COMMITTEE_TYPE)
    if row_id is not None:
        return (await visible.committees_by_ids(session, scope, [row_id])).get(row_id)
    return (await visible.committees_by_codes(session, scope, [argument])).get(argument)


async def _row_pages(
    session: AsyncSession, scope: Scope, report: ProgressReport
) -> AsyncIterator[list[ReportRow]]:
    """The report's rows in path order, a keyset page at a time."""
    # The loader the GraphQL field uses, so both compute "today" and fold the rollups alike;
    # cleared after each page, so its cache never holds more than one page.
    summaries = ProgressLoaders(session, scope).subtree_progress
    after_path: str | None = None
    while True:
        committees = await visible_progress.committees_at_depth(
            session,
            scope,
            report.under_path,
            report.depth,
            after_path=after_path,
            limit=EXPORT_PAGE_SIZE,
        )
        if not committees:
            return
        found = await summaries.load_many(
            [SubtreeKey(committee.id, committee.path, report.term_id) for committee in committees]
        )
        summaries.clear_all()
        reports = await visible.committee_reports(
            session, scope, [committee.id for committee in committees], report.term_id
        )
        yield [
            ReportRow(committee, summary.overall, reports.get(committee.id))
            for committee, summary in zip(committees, found, strict=True)
        ]
        if len(committees) < EXPORT_PAGE_SIZE:
            return
        after_path = committees[-1].path


async def _value_pages(
    session: AsyncSession, scope: Scope, report: ProgressReport
) -> AsyncIterator[list[list[CellValue]]]:
    async for rows in _row_pages(session, scope, report):
        yield [[column.value(row) for column in report.columns] for row in rows]
    # Done reading: release the snapshot now rather than when the response has gone out.
    await session.rollback()


async def _csv_chunks(
    session: AsyncSession, scope: Scope, report: ProgressReport
) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(UTF8_BOM)
    writer.writerow([column.header for column in report.columns])
    async for values in _value_pages(session, scope, report):
        writer.writerows(
            [
                _csv_cell(column.kind, value)
                for column, value in zip(report.columns, row, strict=True)
            ]
            for row in values
        )
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        # No rows at all: the header alone.
        yield buffer.getvalue().encode()


def _csv_cell(kind: ColumnKind, value: CellValue) -> CellValue:
    if kind is ColumnKind.RATE:
        return f"{value:.4f}"
    if kind is ColumnKind.TEXT and str(value).startswith(_FORMULA_STARTS):
        # OWASP's advice for CSV: a leading apostrophe keeps a spreadsheet from evaluating it.
        return f"'{value}"
    return value


async def _write_workbook(session: AsyncSession, scope: Scope, report: ProgressReport) -> IO[bytes]:
    """The report as an .xlsx in an anonymous temporary file (gone once closed), positioned
    anywhere. Write-only mode streams the rows to disk, so memory stays bounded; the
    spreadsheet work runs in a thread so the server keeps answering meanwhile."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(SHEET_TITLE)
    for index, column in enumerate(report.columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    # Keep the header and the committee's code and name in view while scrolling.
    sheet.freeze_panes = "C2"
    header_font = Font(bold=True)
    header_alignment = Alignment(wrap_text=True, vertical="top")
    header = []
    for column in report.columns:
        cell = WriteOnlyCell(sheet, value=column.header)
        cell.font = header_font
        cell.alignment = header_alignment
        header.append(cell)
    sheet.append(header)

    def append_rows(values: list[list[CellValue]]) -> None:
        for row in values:
            sheet.append(
                [
                    _spreadsheet_cell(sheet, column.kind, value)
                    for column, value in zip(report.columns, row, strict=True)
                ]
            )

    # Outlives this function: the response closes it once sent (or dropped).
    workbook_file = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115
    try:
        async for values in _value_pages(session, scope, report):
            await run_in_threadpool(append_rows, values)
        await run_in_threadpool(workbook.save, workbook_file)
    except BaseException:
        workbook_file.close()
        raise
    return workbook_file


def _spreadsheet_cell(sheet: Any, kind: ColumnKind, value: CellValue) -> Any:
    if kind is ColumnKind.TEXT:
        cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", str(value)))
        # Text stays text, even if it starts with "=" (openpyxl would write a formula).
        cell.data_type = "s"
        return cell
    if kind is ColumnKind.RATE:
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "0.0%"
        return cell
    return value


async def _file_chunks(file: IO[bytes]) -> AsyncIterator[bytes]:
    try:
        while chunk := await run_in_threadpool(file.read, FILE_CHUNK_BYTES):
            yield chunk
    finally:
        file.close()
