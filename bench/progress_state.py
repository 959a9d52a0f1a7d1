"""The progress benchmark's database: the demo tree with progress spread over every congress.

`congress demo` builds the tree with every congress not started. Recording progress one
mutation at a time would take hours at a million congresses, so the spread is written in
bulk with INSERT ... SELECT over the congress table, choosing each congress's stage by its
id modulo 10, and the rollups are then rebuilt once from that state (models.rollup_check).
The state is what the mutations would have left (status from models.congress_progress's
`derived_status`, `held_on` = the date of the milestone that marks the congress held,
versions counting one event per recorded change); the events and audit rows themselves are
left out, since no measured request reads them.
"""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import (
    Column,
    Date,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    case,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from models.base import UtcDateTime, utc_now
from models.congress import (
    DEFAULT_MILESTONES,
    Congress,
    CongressStatus,
    MilestoneStatus,
    MilestoneTemplate,
    Term,
    default_milestone_templates,
)
from models.congress_progress import derived_status
from models.database import create_engine, create_session_factory
from models.demo import build_demo, demo_size
from models.migrate import upgrade_database
from models.progress import CongressMilestone, CongressResult
from models.rollup_check import DriftReport, check_rollups, rebuild_statements
from models.tree import Committee, CommitteeKind
from tests.databases import POSTGRES_ADMIN_DSN

# Ignored by bench/.gitignore; each (backend, size) gets its own directory and is reused.
DATA_ROOT = Path(__file__).parent / ".data"
SQLITE_FILE_NAME = "congress.db"
RECORDED_BY = "bench"
# Held dates cycle through this many days from FIRST_HELD_ON (a prime, so the day a
# congress gets is independent of its stage, which also comes from its id).
DAY_SPREAD = 601
FIRST_HELD_ON = date(2025, 3, 1)
# Steps before the held one are dated this much apart, counting back from the held date.
DAYS_BETWEEN_STEPS = 14
DAYS_TO_REPORT = 7
HELD_POSITION = next(
    position
    for position, (code, _name) in enumerate(DEFAULT_MILESTONES, start=1)
    if code == "congress_held"
)


@dataclass(frozen=True, slots=True)
class Stage:
    """Where a congress stands: its first `done` steps done, the next one started if
    `started_next`, results recorded (right after the held step) if `results`."""

    done: int
    started_next: bool = False
    results: bool = False


# congress id % 10 -> stage: 30 % not started, 20 % in progress, 30 % held (two thirds of
# them with results), 20 % completed.
STAGES: tuple[Stage, ...] = (
    Stage(0),
    Stage(0),
    Stage(0),
    Stage(1, started_next=True),
    Stage(3),
    Stage(5),
    Stage(5, results=True),
    Stage(5, results=True),
    Stage(6, results=True),
    Stage(6, results=True),
)

_helpers = MetaData()
# (stage, step position) -> the step's status and the version that recorded it.
_STEP = Table(
    "bench_step",
    _helpers,
    Column("bucket", Integer, primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("status", String(16)),
    Column("version", Integer),
    prefixes=["TEMPORARY"],
)
# (day index, step position) -> the step's date: portable date arithmetic, done in Python.
_DAY = Table(
    "bench_day",
    _helpers,
    Column("n", Integer, primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("day", Date),
    prefixes=["TEMPORARY"],
)


@dataclass(frozen=True, slots=True)
class StageRecord:
    """What the app would have stored for a congress at a stage."""

    steps: dict[int, tuple[MilestoneStatus, int]]  # position -> (status, version)
    results_version: int | None
    version: int
    status: CongressStatus


def stage_record(stage: Stage) -> StageRecord:
    """Replay the stage's changes in the order an official records them, one version each."""
    version = 1
    steps: dict[int, tuple[MilestoneStatus, int]] = {}
    results_version = None
    for position in range(1, stage.done + 1):
        version += 1
        steps[position] = (MilestoneStatus.DONE, version)
        if position == HELD_POSITION and stage.results:
            version += 1
            results_version = version
    if stage.started_next:
        version += 1
        steps[stage.done + 1] = (MilestoneStatus.IN_PROGRESS, version)
    templates = default_milestone_templates(term_id=0)
    states = {templates[position - 1].code: status for position, (status, _) in steps.items()}
    return StageRecord(steps, results_version, version, derived_status(templates, states))


def step_day(n: int, position: int) -> date:
    held_on = FIRST_HELD_ON + timedelta(days=n)
    if position > HELD_POSITION:
        return held_on + timedelta(days=DAYS_TO_REPORT)
    return held_on - timedelta(days=DAYS_BETWEEN_STEPS * (HELD_POSITION - position))


@dataclass(frozen=True, slots=True)
class BenchDatabase:
    backend: str
    cells_per_commune: int
    url: str  # async SQLAlchemy URL
    data_dir: Path  # the server's data directory: its signing key and log


@dataclass(frozen=True, slots=True)
class Preparation:
    """How the database came to be: seconds spent building and spreading (None if reused)."""

    committees: int
    build_seconds: float | None
    spread_seconds: float | None


def bench_database(backend: str, cells_per_commune: int) -> BenchDatabase:
    data_dir = DATA_ROOT / f"{backend}-c{cells_per_commune}"
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{(data_dir / SQLITE_FILE_NAME).resolve()}"
    else:
        server = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].split("://", 1)[1]
        url = f"postgresql+asyncpg://{server}/{postgres_name(cells_per_commune)}"
    return BenchDatabase(backend, cells_per_commune, url, data_dir)


def postgres_name(cells_per_commune: int) -> str:
    return f"congress_bench_c{cells_per_commune}"


async def reset_database(database: BenchDatabase) -> None:
    """Forget a previous build: the SQLite directory, or the PostgreSQL database."""
    shutil.rmtree(database.data_dir, ignore_errors=True)
    if database.backend == "postgresql":
        name = postgres_name(database.cells_per_commune)
        admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def create_database_if_missing(database: BenchDatabase) -> None:
    database.data_dir.mkdir(parents=True, exist_ok=True)
    if database.backend != "postgresql":
        return  # the SQLite file is created on first connection
    name = postgres_name(database.cells_per_commune)
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def prepare(database: BenchDatabase) -> Preparation:
    """Build the tree and spread progress over it, or reuse what an earlier run built."""
    await create_database_if_missing(database)
    expected = demo_size(database.cells_per_commune)
    engine = create_engine(database.url)
    try:
        await upgrade_database(engine)
        committees, milestones = await stored_counts(engine)
        build_seconds = spread_seconds = None
        if committees == 0:
            started = time.perf_counter()
            await build_demo(engine, database.cells_per_commune)
            build_seconds = time.perf_counter() - started
        elif committees != expected:
            raise RuntimeError(
                f"{database.url} holds {committees:,} committees, not {expected:,}: "
                "run again with --rebuild"
            )
        if milestones == 0:
            started = time.perf_counter()
            await spread_progress(engine)
            spread_seconds = time.perf_counter() - started
        return Preparation(expected, build_seconds, spread_seconds)
    finally:
        await engine.dispose()


async def stored_counts(engine: AsyncEngine) -> tuple[int, int]:
    """(committees, recorded milestones): an empty, a built or a spread database."""
    async with engine.connect() as connection:
        committees = await connection.scalar(select(func.count()).select_from(Committee))
        milestones = await connection.scalar(select(func.count()).select_from(CongressMilestone))
    return int(committees or 0), int(milestones or 0)


async def spread_progress(engine: AsyncEngine) -> None:
    """Give every congress of the current term its stage, then rebuild the rollups: one
    transaction, so an interrupted spread leaves the tree as built."""
    records = {bucket: stage_record(stage) for bucket, stage in enumerate(STAGES)}
    async with engine.begin() as connection:
        term_id = await current_term_id(connection)
        await connection.run_sync(_helpers.create_all)
        await connection.execute(insert(_STEP), list(_step_rows(records)))
        await connection.execute(insert(_DAY), list(_day_rows()))
        await connection.execute(_insert_milestones(term_id))
        await connection.execute(_insert_results(term_id, records))
        await connection.execute(_update_congresses(term_id, records))
        await connection.run_sync(_helpers.drop_all)
        # The same statements `build_demo` and `check-rollups --repair` run.
        for statement in rebuild_statements():
            await connection.execute(statement)
    if engine.dialect.name == "postgresql":
        # A deployment's autovacuum would have vacuumed and analysed a million updated rows
        # by now (this machine's cluster runs with it off): without statistics the planner
        # guesses, and with a million dead rows in `congress` and the rollups every write
        # and read steps over them; the benchmark would measure either.
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("VACUUM ANALYZE"))


async def current_term_id(connection: AsyncConnection) -> int:
    term_id = await connection.scalar(select(Term.id).where(Term.is_current))
    if term_id is None:
        raise RuntimeError("the demo database has no current term")
    return int(term_id)


def _step_rows(records: dict[int, StageRecord]) -> Iterator[dict[str, Any]]:
    for bucket, record in records.items():
        for position, (status, version) in record.steps.items():
            yield {
                "bucket": bucket,
                "position": position,
                "status": status.value,
                "version": version,
            }


def _day_rows() -> Iterator[dict[str, Any]]:
    for n in range(DAY_SPREAD):
        for position in range(1, len(DEFAULT_MILESTONES) + 1):
            yield {"n": n, "position": position, "day": step_day(n, position)}


def _bucket() -> Any:
    return Congress.id % len(STAGES)


def _insert_milestones(term_id: int) -> Any:
    day_index = Congress.id % DAY_SPREAD
    rows = (
        select(
            Congress.id,
            MilestoneTemplate.code,
            _STEP.c.status,
            _DAY.c.day,
            _STEP.c.version,
            literal(RECORDED_BY, String),
            literal(utc_now(), UtcDateTime),
        )
        .select_from(Congress)
        .join(_STEP, _STEP.c.bucket == _bucket())
        .join(
            MilestoneTemplate,
            (MilestoneTemplate.term_id == Congress.term_id)
            & (MilestoneTemplate.position == _STEP.c.position),
        )
        .join(_DAY, (_DAY.c.n == day_index) & (_DAY.c.position == _STEP.c.position))
        .where(Congress.term_id == term_id)
    )
    columns = [
        "congress_id",
        "milestone_code",
        "status",
        "occurred_on",
        "version",
        "recorded_by_subject",
        "recorded_at",
    ]
    return insert(CongressMilestone).from_select(columns, rows)


def _insert_results(term_id: int, records: dict[int, StageRecord]) -> Any:
    """Plausible, valid results (present <= expected, parts <= elected <= present), varied
    by id so the sums are not a multiple of one row."""
    with_results = {b: r.results_version for b, r in records.items() if r.results_version}
    congress_id = Congress.id
    delegates_expected = 20 + congress_id % 31
    rows = select(
        congress_id,
        delegates_expected,
        delegates_expected - congress_id % 3,
        5 + congress_id % 9,
        congress_id % 5,
        congress_id % 4,
        congress_id % 3,
        congress_id % 2 == 0,
        1 + congress_id % 5,
        case(with_results, value=_bucket()),
        literal(RECORDED_BY, String),
        literal(utc_now(), UtcDateTime),
    ).where(Congress.term_id == term_id, _bucket().in_(list(with_results)))
    columns = [
        "congress_id",
        "delegates_expected",
        "delegates_present",
        "members_elected",
        "women",
        "under_40",
        "ethnic_minority",
        "secretary_directly_elected",
        "delegates_to_higher_congress",
        "version",
        "recorded_by_subject",
        "recorded_at",
    ]
    return insert(CongressResult).from_select(columns, rows)


def _update_congresses(term_id: int, records: dict[int, StageRecord]) -> Any:
    held_statuses = {CongressStatus.HELD, CongressStatus.COMPLETED}
    held_buckets = [b for b, r in records.items() if r.status in held_statuses]
    held_on = (
        select(_DAY.c.day)
        .where(
            _DAY.c.n == Congress.id % DAY_SPREAD,
            _DAY.c.position == HELD_POSITION,
            _bucket().in_(held_buckets),
        )
        .scalar_subquery()
    )
    return (
        update(Congress)
        .where(Congress.term_id == term_id)
        .values(
            status=case({b: r.status.value for b, r in records.items()}, value=_bucket()),
            version=case({b: r.version for b, r in records.items()}, value=_bucket()),
            held_on=held_on,
        )
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True, slots=True)
class TimedCheck:
    seconds: float
    report: DriftReport


async def timed_check(database: BenchDatabase) -> TimedCheck:
    """`check_rollups` without repair over the whole tree, as `congress check-rollups` runs it."""
    engine = create_engine(database.url)
    try:
        started = time.perf_counter()
        async with create_session_factory(engine)() as session, session.begin():
            report = await check_rollups(session, repair=False)
        return TimedCheck(time.perf_counter() - started, report)
    finally:
        await engine.dispose()


FLOOR_REPEATS = 2_000


async def statement_floor_ms(database: BenchDatabase) -> float:
    """Milliseconds of `SELECT 1` through an AsyncSession, as the server runs statements:
    what any statement costs before its SQL does anything (driver, thread hops, ORM)."""
    engine = create_engine(database.url)
    try:
        async with create_session_factory(engine)() as session:
            for _ in range(FLOOR_REPEATS // 10):  # connect and warm up
                await session.execute(select(literal(1)))
            started = time.perf_counter()
            for _ in range(FLOOR_REPEATS):
                await session.execute(select(literal(1)))
            return (time.perf_counter() - started) / FLOOR_REPEATS * 1000
    finally:
        await engine.dispose()


def not_started_cells_of(term_id: int) -> Select[int, str, str]:
    """Open cells whose congress in the term has not started (id, code, path), in id order:
    where a write bench records a first milestone that really changes something."""
    return (
        select(Committee.id, Committee.code, Committee.path)
        .join(Congress, Congress.committee_id == Committee.id)
        .where(
            Committee.kind == CommitteeKind.CELL,
            Committee.closed_at.is_(None),
            Congress.term_id == term_id,
            Congress.status == CongressStatus.NOT_STARTED,
        )
        .order_by(Committee.id)
    )


async def not_started_cells(database: BenchDatabase, count: int, seed: int = 2025) -> list[int]:
    """Ids of `count` cells whose congress has not started, spread over the whole tree (a
    run consumes them: the next run picks others)."""
    engine = create_engine(database.url)
    try:
        async with engine.connect() as connection:
            term_id = await current_term_id(connection)
            ids = [row.id for row in await connection.execute(not_started_cells_of(term_id))]
    finally:
        await engine.dispose()
    random.Random(seed).shuffle(ids)
    return ids[:count]
