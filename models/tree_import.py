"""Import the committee tree from a CSV or JSON file, updating existing committees by code.

`models.tree_file.read_tree_file` parses and checks the file on its own; `import_tree` then checks the rows
against the committees already stored and only writes once every row has passed. It never
commits: the caller runs it inside one transaction, so a failure, even one in the middle of
writing, leaves the database as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, NoReturn, TypeVar, cast

from sqlalchemy import Table, bindparam, insert, select, text
from sqlalchemy import update as sql_update
from sqlalchemy.ext.asyncio import AsyncSession

from models.congress import Congress, Term
from models.database import advance_id_sequence
from models.rollups import add_contributions
from models.text import search_key
from models.tree import (
    Committee,
    child_path,
    path_depth,
)
from models.tree_file import (
    MAX_NAME_LENGTH,
    MAX_PATH_LENGTH,
    TreeImportError,
    TreeRow,
    index_by_code,
)
from models.tree_moves import lock_tree, move_subtree

# Rows per INSERT/UPDATE executemany, and so per progress step: large enough that a
# million-row file costs a few hundred round trips, small enough to keep memory flat.
BATCH_SIZE: Final = 5_000
# Each move is its own statement (and may rewrite a large subtree), so report more often.
MOVES_PER_PROGRESS_STEP: Final = 100
# Core table rather than the ORM entity: bulk statements skip per-object bookkeeping, and the
# ORM's session synchronisation cannot evaluate the path rewrite of a move anyway.
_COMMITTEE: Final = cast(Table, Committee.__table__)

_T = TypeVar("_T")


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
    row_by_code = index_by_code(rows)
    dialect_name = session.get_bind().dialect.name
    # The checks below read the stored tree and the writes rely on them (and on max(id)):
    # no structural change may run in between (see lock_tree).
    await lock_tree(session)
    if dialect_name == "postgresql":
        # Nor any other insert of committees: keep all writers of the table out until this
        # transaction ends. Readers are not blocked.
        await session.execute(text("LOCK TABLE committee IN SHARE ROW EXCLUSIVE MODE"))
    stored = await _load_stored(session, row_by_code)
    plan = _plan_import(rows, row_by_code, stored)

    # New units hold a congress in the current term, as units created through the API do.
    current_term = await session.scalar(
        select(Term.id).where(Term.is_current).order_by(Term.starts_on.desc()).limit(1)
    )
    for batch in _batches(plan.inserts, batch_size):
        await session.execute(insert(_COMMITTEE), batch)
        if current_term is not None:
            await session.execute(
                insert(Congress),
                [{"committee_id": row["id"], "term_id": current_term} for row in batch],
            )
            inserted = [row["id"] for row in batch]
            await add_contributions(
                session, (Congress.term_id == current_term) & Congress.committee_id.in_(inserted)
            )
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
    if plan.inserts:
        await advance_id_sequence(session, "committee")
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
