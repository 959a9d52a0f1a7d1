"""The demo built for a day, as `congress demo` builds it: a realistic mix at every level,
recorded as officials would have recorded it through the API (an event, an audit row and
a feed row behind every change, the state what the events built, the rollups exact),
difficulties in the inboxes of a ward, a province and the centre, and the same database
from the same inputs."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from config import Settings
from domain.demo_activity import (
    BulkStory,
    MilestoneStep,
    Official,
    ResultsStep,
    congress_story,
    record_demo_activity,
    story_writes,
    write_activity,
)
from domain.demo_reports import record_demo_reports
from graph.global_ids import GlobalId
from models import (
    AuditEntry,
    ChangeFeedEntry,
    Committee,
    CommitteeKind,
    Congress,
    CongressEvent,
    CongressMilestone,
    CongressReport,
    CongressResult,
    CongressStatus,
    Difficulty,
    DifficultyEvent,
    DifficultyEventKind,
    DifficultyStatus,
    MilestoneStatus,
    MilestoneTemplate,
    ReportState,
    Role,
    Term,
    User,
)
from models.base import Base
from models.congress import HELD_MILESTONE
from models.congress_progress import derived_status, local_today
from models.database import create_engine
from models.demo import (
    CENTRAL_CODE,
    DEMO_PROVINCE_CODE,
    Placement,
    Standing,
    accounts_opened_at,
    build_demo,
    demo_commune_code,
    demo_user_subject,
    local_moment,
)
from models.migrate import upgrade_database
from models.progress_summary import DUE_SOON_DAYS
from models.rollup_check import check_rollups
from permissions.tokens import LocalIssuer
from tests.api import GraphQLClient, app_client
from tests.databases import throwaway_database

# A day in the past (the one road refuses dates in the future), fixed so any failure
# can be built again as it was.
TODAY = date(2026, 3, 2)
# Every level, each province with its first twelve wards: a sixteenth of the demo's size,
# built in about a second.
CELLS_PER_COMMUNE = 2
COMMUNES_PER_PROVINCE = 12
COMMUNE = demo_commune_code()
LEVELS = (CommitteeKind.CELL, CommitteeKind.COMMUNE, CommitteeKind.PROVINCE)
HELD = (CongressStatus.HELD, CongressStatus.COMPLETED)


subject_of = demo_user_subject


async def build(engine: AsyncEngine) -> None:
    """What `congress demo` does, for TODAY (on a smaller tree)."""
    await upgrade_database(engine)
    await build_demo(
        engine, CELLS_PER_COMMUNE, today=TODAY, communes_per_province=COMMUNES_PER_PROVINCE
    )
    await record_demo_activity(engine, TODAY)


Dump = dict[str, list[tuple[Any, ...]]]


async def table_dump(engine: AsyncEngine) -> Dump:
    """Every row of every table, in key order."""
    dump: Dump = {}
    async with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            ordered = select(table).order_by(*table.primary_key.columns)
            dump[table.name] = [tuple(row) for row in await connection.execute(ordered)]
    return dump


@dataclass(frozen=True)
class ActivityWorld:
    backend: str
    url: str
    engine: AsyncEngine
    dump: Dump | None  # as built, before anything else ran on it (SQLite)


@pytest.fixture(scope="module")
async def world(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ActivityWorld]:
    directory = tmp_path_factory.mktemp(f"activity-{backend}")
    async with throwaway_database(backend, directory) as url:
        engine = create_engine(url)
        await build(engine)
        dump = await table_dump(engine) if backend == "sqlite" else None
        yield ActivityWorld(backend, url, engine, dump)
        await engine.dispose()


async def rows(connection: AsyncConnection, statement: Any) -> list[Any]:
    return list(await connection.execute(statement))


def local_midnight(day: date) -> datetime:
    return local_moment(day, 0)


async def test_every_level_shows_held_started_due_soon_and_overdue_congresses(
    world: ActivityWorld,
) -> None:
    async with world.engine.connect() as connection:
        congresses = await rows(
            connection,
            select(Committee.kind, Congress.status, Congress.deadline, Congress.held_on).join(
                Congress, Congress.committee_id == Committee.id
            ),
        )
    counts: dict[CommitteeKind, Counter[str]] = defaultdict(Counter)
    for kind, status, deadline, held_on in congresses:
        count = counts[kind]
        count["total"] += 1
        count["held"] += status in HELD
        count["completed"] += status is CongressStatus.COMPLETED
        count["in progress"] += status is CongressStatus.IN_PROGRESS
        if held_on is None and deadline < TODAY:
            count["overdue"] += 1
        if held_on is None and TODAY <= deadline <= TODAY + timedelta(days=DUE_SOON_DAYS):
            count["due soon"] += 1
    for level in LEVELS:
        count = counts[level]
        for figure in ("held", "completed", "in progress", "due soon", "overdue"):
            assert count[figure] > 0, (level, count)
        assert count["overdue"] < count["total"] / 5, (level, count)
    # Cells hold first, provinces later, the centre months from its deadline.
    assert counts[CommitteeKind.CELL]["held"] > counts[CommitteeKind.CELL]["total"] * 0.6
    assert counts[CommitteeKind.PROVINCE]["held"] < counts[CommitteeKind.PROVINCE]["total"] / 3
    [(_kind, centre_status, centre_deadline, _held)] = [
        row for row in congresses if row[0] is CommitteeKind.CENTRAL
    ]
    assert centre_status is CongressStatus.IN_PROGRESS
    assert centre_deadline > TODAY + timedelta(days=60)


async def test_the_rollups_agree_with_the_congresses(world: ActivityWorld) -> None:
    async with AsyncSession(world.engine) as session, session.begin():
        report = await check_rollups(session, repair=False)
    assert report.counters_wrong == 0, report.sample


async def test_the_state_is_what_the_events_built_and_each_has_its_audit_and_feed_row(
    world: ActivityWorld,
) -> None:
    async with world.engine.connect() as connection:
        [term_id] = await connection.scalars(select(Term.id).where(Term.is_current))
        templates = [
            MilestoneTemplate(code=code, marks_held=marks_held)
            for code, marks_held in await rows(
                connection,
                select(MilestoneTemplate.code, MilestoneTemplate.marks_held)
                .where(MilestoneTemplate.term_id == term_id)
                .order_by(MilestoneTemplate.position),
            )
        ]
        congresses = {
            row.id: row
            for row in await rows(
                connection,
                select(Congress, Committee.path)
                .join(Committee, Committee.id == Congress.committee_id)
                .with_only_columns(
                    Congress.id, Congress.committee_id, Congress.version, Congress.status,
                    Congress.held_on, Committee.path,
                ),
            )
        }  # fmt: skip
        events = await rows(
            connection,
            select(CongressEvent).order_by(CongressEvent.congress_id, CongressEvent.version),
        )
        milestones = {
            (row.congress_id, row.milestone_code): row
            for row in await rows(connection, select(CongressMilestone))
        }
        results = {row.congress_id: row for row in await rows(connection, select(CongressResult))}
        audits = {
            (row.target_id, row.after["version"]): row
            for row in await rows(
                connection, select(AuditEntry).where(AuditEntry.target_type == "Congress")
            )
        }
        feed = {
            (row.payload["congressId"], row.payload["version"]): row
            for row in await rows(
                connection,
                select(ChangeFeedEntry).where(ChangeFeedEntry.kind.in_(["MILESTONE", "RESULTS"])),
            )
        }
        users = dict(await rows(connection, select(User.subject, User.id)))
    by_congress: dict[int, list[Any]] = defaultdict(list)
    for event in events:
        by_congress[event.congress_id].append(event)
    opened, midnight = accounts_opened_at(TODAY), local_midnight(TODAY)
    for congress_id, congress in congresses.items():
        history = by_congress.get(congress_id, [])
        assert [e.version for e in history] == list(range(2, congress.version + 1))
        states: dict[str, MilestoneStatus] = {}
        held_on = None
        for event in history:
            assert opened < event.recorded_at < midnight
            assert event.recorded_at.utcoffset() == timedelta(0)
            assert users[event.recorded_by_subject] == event.recorded_by_user_id
            if event.kind == "milestone":
                code = event.payload["milestone"]
                states[code] = MilestoneStatus(event.payload["status"])
                if code == HELD_MILESTONE:
                    held_on = event.payload["occurredOn"] if states[code] == "done" else None
            else:
                assert event.kind == "results"
            audit = audits.pop((congress_id, event.version))
            assert (audit.action, audit.actor_user_id, audit.actor_subject) == (
                f"congress.{event.kind}",
                event.recorded_by_user_id,
                event.recorded_by_subject,
            )
            assert (audit.committee_id, audit.occurred_at) == (
                congress.committee_id,
                event.recorded_at,
            )
            assert audit.after == {**event.payload, "version": event.version}
            change = feed.pop((congress_id, event.version))
            assert (change.kind, change.committee_id, change.committee_path, change.term_id) == (
                event.kind.upper(),
                congress.committee_id,
                congress.path,
                term_id,
            )
            assert change.recorded_at == event.recorded_at
            assert change.payload["status"] == derived_status(templates, states).value
            if event.kind == "milestone":
                assert change.payload["milestone"] == event.payload["milestone"]
                assert change.payload["milestoneStatus"] == event.payload["status"]
        assert congress.status is derived_status(templates, states)
        assert (congress.held_on.isoformat() if congress.held_on else None) == held_on
        last_of = {e.payload["milestone"]: e for e in history if e.kind == "milestone"}
        for code, event in last_of.items():
            # Every milestone recorded (done ones included) has the event that set it.
            state = milestones.pop((congress_id, code))
            assert (state.status.value, state.occurred_on.isoformat(), state.note) == (
                event.payload["status"],
                event.payload["occurredOn"],
                event.payload["note"],
            )
            assert (state.version, state.recorded_at) == (event.version, event.recorded_at)
            assert state.recorded_by_subject == event.recorded_by_subject
        results_events = [e for e in history if e.kind == "results"]
        if results_events:
            stored = results.pop(congress_id)
            assert stored.version == results_events[-1].version
            assert stored.members_elected == results_events[-1].payload["membersElected"]
            assert (
                stored.secretary_directly_elected
                is results_events[-1].payload["secretaryDirectlyElected"]
            )
    assert milestones == {}
    assert results == {}
    assert audits == {}
    assert feed == {}


async def test_ids_and_feed_positions_follow_time(world: ActivityWorld) -> None:
    async with world.engine.connect() as connection:
        for moments in (
            select(CongressEvent.recorded_at).order_by(CongressEvent.id),
            select(AuditEntry.occurred_at).order_by(AuditEntry.id),
            select(ChangeFeedEntry.recorded_at).order_by(ChangeFeedEntry.position),
            select(DifficultyEvent.at).order_by(DifficultyEvent.id),
        ):
            found = list(await connection.scalars(moments))
            assert found
            assert found == sorted(found)
        if world.backend == "sqlite":  # the bulk copies were checked as they went
            assert await rows(connection, text("PRAGMA foreign_key_check")) == []


async def test_difficulties_wait_in_a_ward_a_province_and_the_centre(world: ActivityWorld) -> None:
    async with world.engine.connect() as connection:
        codes = dict(await rows(connection, select(Committee.id, Committee.code)))
        difficulties = await rows(connection, select(Difficulty))
        events = await rows(connection, select(DifficultyEvent))
        audits = await connection.scalar(
            select(text("count(*)"))
            .select_from(AuditEntry)
            .where(AuditEntry.target_type == "Difficulty")
        )
        feed = await connection.scalar(
            select(text("count(*)"))
            .select_from(ChangeFeedEntry)
            .where(ChangeFeedEntry.kind.like("DIFFICULTY%"))
        )
    inbox = Counter(
        codes[d.handling_committee_id] for d in difficulties if d.status is DifficultyStatus.OPEN
    )
    assert inbox[COMMUNE] >= 1
    assert inbox[DEMO_PROVINCE_CODE] >= 2
    assert inbox[CENTRAL_CODE] == 1
    escalated_to = {
        codes[e.to_committee_id] for e in events if e.kind is DifficultyEventKind.ESCALATED
    }
    assert {DEMO_PROVINCE_CODE, CENTRAL_CODE, "T79"} < escalated_to  # and a ward
    kinds = Counter(e.kind for e in events)
    assert kinds[DifficultyEventKind.COMMENTED] >= 3
    assert kinds[DifficultyEventKind.RESOLVED] == 1
    assert [d.status for d in difficulties].count(DifficultyStatus.RESOLVED) == 1
    # One event, one audit row and one feed row per step; versions count the steps.
    assert audits == feed == len(events)
    steps = Counter(e.difficulty_id for e in events)
    assert all(d.version == steps[d.id] for d in difficulties)
    # Acted on within the days automatic escalation waits (3 by default), so a demo served
    # the day it is built shows them where the script left them.
    for difficulty in difficulties:
        assert difficulty.last_activity_at < local_midnight(TODAY)
        if (
            difficulty.status is DifficultyStatus.OPEN
            and codes[difficulty.handling_committee_id] != CENTRAL_CODE
        ):
            assert difficulty.last_activity_at > local_midnight(TODAY - timedelta(days=2))


async def test_the_same_day_and_size_build_the_same_database(
    world: ActivityWorld, tmp_path: Path
) -> None:
    """On SQLite only, for time: the writes are the same statements on both databases, and
    `test_ids_and_feed_positions_follow_time` checks PostgreSQL's order."""
    if world.dump is None:
        pytest.skip("built twice on SQLite only")
    async with throwaway_database(world.backend, tmp_path) as url:
        engine = create_engine(url)
        try:
            await build(engine)
            again = await table_dump(engine)
        finally:
            await engine.dispose()
    assert again.keys() == world.dump.keys()
    for table, built in world.dump.items():
        assert again[table] == built, table


async def test_the_same_stories_write_the_same_rows_by_either_road(
    backend: str, tmp_path: Path
) -> None:
    """Stories written in bulk and the same stories through the one road (on other
    congresses) leave the same events, audit rows, feed rows and state: a completed
    congress with its results, and a stalled one with a note and a step in progress."""
    stories = [
        congress_story(code, CommitteeKind.COMMUNE, placed, TODAY)
        for code, placed in (
            ("X99999", Placement(Standing.COMPLETED, -10)),
            ("X99902", Placement(Standing.OVERDUE, -5)),
        )
    ]
    steps = [recorded.step for story in stories for recorded in story]
    assert any(isinstance(step, ResultsStep) for step in steps)
    assert {step.status for step in steps if isinstance(step, MilestoneStep)} == {
        MilestoneStatus.DONE,
        MilestoneStatus.IN_PROGRESS,
    }
    assert any(step.note for step in steps if isinstance(step, MilestoneStep))
    async with throwaway_database(backend, tmp_path) as url:
        engine = create_engine(url)
        try:
            await upgrade_database(engine)
            await build_demo(engine, 0, today=TODAY, communes_per_province=2)
            async with engine.connect() as connection:
                places = await rows(
                    connection,
                    select(Committee.id, Committee.path, Congress.id)
                    .join(Congress, Congress.committee_id == Committee.id)
                    .where(Committee.kind == CommitteeKind.COMMUNE)
                    .order_by(Committee.id)
                    .limit(4),
                )
                [term_id] = await connection.scalars(select(Term.id).where(Term.is_current))
                subject = subject_of(Role.REPORTER, CENTRAL_CODE)
                user_id = await connection.scalar(select(User.id).where(User.subject == subject))
                assert user_id is not None
                official = Official(user_id, subject, demo_user=True)
                by_road, in_bulk = places[:2], places[2:]

                async def bulk() -> AsyncIterator[list[BulkStory]]:
                    yield [
                        BulkStory(congress_id, committee_id, path, official, story)
                        for (committee_id, path, congress_id), story in zip(
                            in_bulk, stories, strict=True
                        )
                    ]

                road = [
                    write
                    for (committee_id, _path, congress_id), story in zip(
                        by_road, stories, strict=True
                    )
                    for write in story_writes(committee_id, congress_id, official, story)
                ]
                await write_activity(connection, term_id, bulk(), road)
                await connection.commit()
                written = [
                    (
                        await story_rows(connection, road_place[0], road_place[2]),
                        await story_rows(connection, bulk_place[0], bulk_place[2]),
                    )
                    for road_place, bulk_place in zip(by_road, in_bulk, strict=True)
                ]
            async with AsyncSession(engine) as session, session.begin():
                assert (await check_rollups(session, repair=False)).counters_wrong == 0
        finally:
            await engine.dispose()
    for through_road, in_bulk_rows in written:
        assert through_road["events"]  # the story was written
        for table, found in through_road.items():
            assert in_bulk_rows[table] == found, table


async def story_rows(
    connection: AsyncConnection, committee_id: int, congress_id: int
) -> dict[str, list[Any]]:
    """A congress's rows, with its own ids (and its committee's) left out."""

    def without(table: Table, *names: str) -> list[Any]:
        return [column for column in table.columns if column.name not in names]

    feed = await rows(
        connection,
        select(*without(ChangeFeedEntry.__table__, "position", "committee_id", "committee_path"))  # type: ignore[arg-type]
        .where(ChangeFeedEntry.committee_id == committee_id)
        .order_by(ChangeFeedEntry.position),
    )
    return {
        "congress": await rows(
            connection,
            select(Congress.version, Congress.status, Congress.held_on).where(
                Congress.id == congress_id
            ),
        ),
        "events": await rows(
            connection,
            select(*without(CongressEvent.__table__, "id", "congress_id"))  # type: ignore[arg-type]
            .where(CongressEvent.congress_id == congress_id)
            .order_by(CongressEvent.version),
        ),
        "audit": await rows(
            connection,
            select(*without(AuditEntry.__table__, "id", "committee_id", "target_id"))  # type: ignore[arg-type]
            .where(AuditEntry.target_id == congress_id, AuditEntry.target_type == "Congress")
            .order_by(AuditEntry.id),
        ),
        "feed": [
            (*row[:-1], {k: v for k, v in row[-1].items() if k != "congressId"}) for row in feed
        ],
        "milestones": await rows(
            connection,
            select(*without(CongressMilestone.__table__, "congress_id"))  # type: ignore[arg-type]
            .where(CongressMilestone.congress_id == congress_id)
            .order_by(CongressMilestone.milestone_code),
        ),
        "results": await rows(
            connection,
            select(*without(CongressResult.__table__, "congress_id")).where(  # type: ignore[arg-type]
                CongressResult.congress_id == congress_id
            ),
        ),
    }


SUMMARY = """query($province: ID!, $ward: ID!) {
  committee(code: "T01") { progress { total congressesHeld congressesCompleted inProgress
    notStarted overdue dueSoon results { congressesReporting membersElected } } }
  difficulties(handledAt: $province, status: OPEN) { totalCount
    nodes { title committee { code } handlingCommittee { code } } }
  recentProgress(under: $ward, first: 5) { totalCount nodes { kind recordedAt recordedBy } }
}"""


async def test_the_province_viewer_reads_the_summary_over_http(
    world: ActivityWorld, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=world.url, rate_limits=())
    async with world.engine.connect() as connection:
        ids = dict(
            await rows(
                connection,
                select(Committee.code, Committee.id).where(
                    Committee.code.in_([DEMO_PROVINCE_CODE, COMMUNE])
                ),
            )
        )
        province_path = await connection.scalar(
            select(Committee.path).where(Committee.code == DEMO_PROVINCE_CODE)
        )
        below = await rows(
            connection,
            select(Congress.status, Congress.deadline, Congress.held_on)
            .join(Committee, Committee.id == Congress.committee_id)
            .where(Committee.path.startswith(str(province_path))),
        )
    async with app_client(settings, world.engine) as http:
        client = GraphQLClient(http, LocalIssuer.load_or_create(settings.signing_key_path))
        data = await client.query(
            subject_of(Role.VIEWER, DEMO_PROVINCE_CODE),
            SUMMARY,
            province=str(GlobalId("Committee", ids[DEMO_PROVINCE_CODE])),
            ward=str(GlobalId("Committee", ids[COMMUNE])),
        )
    progress = data["committee"]["progress"]
    # The API judges overdue and due soon on its own day, today, not the day it was built.
    day = local_today()
    expected = {
        "total": len(below),
        "congressesHeld": sum(status in HELD for status, _d, _h in below),
        "congressesCompleted": sum(status is CongressStatus.COMPLETED for status, _d, _h in below),
        "inProgress": sum(status is CongressStatus.IN_PROGRESS for status, _d, _h in below),
        "notStarted": sum(status is CongressStatus.NOT_STARTED for status, _d, _h in below),
        "overdue": sum(held is None and deadline < day for _s, deadline, held in below),
        "dueSoon": sum(
            held is None and day <= deadline <= day + timedelta(days=DUE_SOON_DAYS)
            for _s, deadline, held in below
        ),
    }
    assert {name: progress[name] for name in expected} == expected
    assert min(expected["congressesHeld"], expected["inProgress"]) > 0
    assert progress["results"]["membersElected"] > 0
    inbox = data["difficulties"]
    assert inbox["totalCount"] >= 2
    assert {(n["committee"]["code"], n["handlingCommittee"]["code"]) for n in inbox["nodes"]} >= {
        (COMMUNE, DEMO_PROVINCE_CODE),
        (DEMO_PROVINCE_CODE, DEMO_PROVINCE_CODE),
    }
    recent = data["recentProgress"]["nodes"]
    assert recent
    assert all(
        datetime.fromisoformat(node["recordedAt"]) < local_midnight(TODAY) for node in recent
    )
    newest = datetime.fromisoformat(recent[0]["recordedAt"])
    assert newest > local_midnight(TODAY) - timedelta(days=7)  # the ward was busy this week


async def test_the_demo_has_reports_in_every_state_waiting_at_the_ward_and_province(
    backend: str, tmp_path: Path
) -> None:
    async with throwaway_database(backend, tmp_path) as url:
        engine = create_engine(url)
        try:
            await build(engine)
            assert await record_demo_reports(engine, TODAY) >= 7
            async with engine.connect() as connection:
                states = set(await connection.scalars(select(CongressReport.state)))
                async with AsyncSession(bind=connection) as session:
                    assert (await check_rollups(session, repair=False)).counters_wrong == 0
            assert states == {
                ReportState.SUBMITTED,
                ReportState.APPROVED,
                ReportState.RETURNED,
                ReportState.REOPENED,
            }
            settings = Settings(data_dir=tmp_path, database_url=url, rate_limits=())
            async with app_client(settings, engine) as http:
                client = GraphQLClient(http, LocalIssuer.load_or_create(settings.signing_key_path))
                for code in (COMMUNE, "T01"):
                    data = await client.query(
                        subject_of(Role.APPROVER, code),
                        """query($code: String!) { committee(code: $code) {
                             pendingApprovals { totalCount } } }""",
                        code=code,
                    )
                    assert data["committee"]["pendingApprovals"]["totalCount"] >= 1, code
        finally:
            await engine.dispose()
