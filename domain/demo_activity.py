"""The demo's activity: what officials recorded in the months before the demo was built.

`congress demo` builds the tree for a day (models/demo.py gives every congress its standing
on that day and a deadline around it), then `record_demo_activity` records how each congress
got there, as officials would have through the API:

- each congress's story (`congress_story`): its milestones done on their dates, the next one
  started, then the results and their report once it is held; each step recorded on the
  day it happened or a few days later, in office hours, and never later than the day
  before `today`;
- a few difficulties (`demo_difficulties`): raised at the demo ward and its cell, at another
  ward of Hà Nội and in Hồ Chí Minh City, commented, escalated to the province and to the
  centre, one resolved.

The demo users record at their places; every other commune and province has a reporter of
its own (`demo_reporter_subject`), and cells are recorded by their commune's reporter.

Two roads, the same rows:

- The demo users' congresses and every difficulty take the one write road: the unit of work
  with the policy's rules, then `models.milestone_batch`, `models.congress_progress` and
  `models.difficulties`, each write stamped with the moment it happened
  (`models.base.stamped_at`).
- The tens of thousands of other congresses are written in bulk (`_BulkWriter`): one row per
  change in a temporary table, from which a few statements write what the one road would
  have: the events, audit rows and change-feed rows (their JSON made by the database, in
  the shapes `record_milestones` and `record_results` give them), copied in the order the
  changes happened and between the one road's writes, so that ids and feed positions
  follow time as they would have; and the state the events leave (milestones, results,
  status, version, `held_on`), with the congress's status from `derived_status`.

The rollups are then rebuilt from the state, as `check-rollups --repair` does. All of it is
one transaction: an activity that fails leaves nothing behind. tests/test_demo_activity.py
replays every congress's events against its state, and records one story by both roads to
compare what each wrote.
"""

from __future__ import annotations

import bisect
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any, Final, Literal, cast

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    case,
    func,
    insert,
    literal_column,
    null,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from domain.milestone_writer import may_record
from domain.unit_of_work import UnitOfWork
from models.audit import AuditEntry
from models.base import PathString, stamped_at
from models.change_feed import ChangeFeedEntry, ChangeKind
from models.congress import (
    DEFAULT_MILESTONES,
    HELD_MILESTONE,
    Congress,
    CongressStatus,
    MilestoneStatus,
    MilestoneTemplate,
    Term,
)
from models.congress_progress import (
    RESULT_FIELDS,
    Results,
    derived_status,
    record_results,
    term_by_code,
)
from models.demo import (
    CENTRAL_CODE,
    DEMO_PROVINCE_CODE,
    Placement,
    Placements,
    Standing,
    accounts_opened_at,
    demo_commune_code,
    demo_place_placements,
    demo_users,
    local_moment,
    placement,
)
from models.difficulties import (
    Difficulty,
    DifficultyCategory,
    comment_difficulty,
    escalate_difficulty,
    raise_difficulty,
    resolve_difficulty,
)
from models.milestone_batch import MilestoneWrite, record_milestones
from models.progress import CongressEvent, CongressMilestone, CongressResult
from models.refusals import NO_COMMITTEE, NotVisible, Refusal
from models.rollup_check import rebuild_statements
from models.shielded_session import ShieldedSession
from models.text import search_key
from models.tree import Committee, CommitteeKind
from models.users import Assignment, Role, User
from permissions import policy
from permissions.viewer import Viewer, load_active_viewer

# Committees read, and congresses written in bulk, per round: bounded memory at any size.
CHUNK_SIZE: Final = 5_000
# SQLite's page cache while writing in bulk, in KiB.
BULK_CACHE_KIB: Final = 32 * 1024
MILESTONES: Final = tuple(code for code, _name in DEFAULT_MILESTONES)
HELD_POSITION: Final = MILESTONES.index(HELD_MILESTONE) + 1
# Office hours, in minutes of the day in Vietnam's time.
OFFICE_OPENS: Final = 7 * 60 + 30
OFFICE_CLOSES: Final = 17 * 60 + 30
LAST_MINUTE: Final = 24 * 60 - 1
# Days between two steps of a congress's preparation, by level: a cell prepares in weeks,
# the centre over most of a year.
STEP_SPACING: Final = {
    CommitteeKind.CELL: (5, 10),
    CommitteeKind.COMMUNE: (7, 14),
    CommitteeKind.PROVINCE: (10, 20),
    CommitteeKind.CENTRAL: (35, 50),
}
# Who signs a plan, by level: "Kế hoạch số 12-KH/ĐU".
PLAN_SIGNATURE: Final = {
    CommitteeKind.CELL: "CB",
    CommitteeKind.COMMUNE: "ĐU",
    CommitteeKind.PROVINCE: "TU",
    CommitteeKind.CENTRAL: "TW",
}
# Delegates expected, most absent, members elected, delegates to the congress above.
RESULT_SIZES: Final = {
    CommitteeKind.CELL: ((8, 45), 3, (1, 5), (1, 4)),
    CommitteeKind.COMMUNE: ((120, 300), 12, (15, 33), (8, 25)),
    CommitteeKind.PROVINCE: ((300, 450), 10, (45, 81), (10, 30)),
    CommitteeKind.CENTRAL: ((1500, 1600), 20, (180, 200), (0, 0)),
}
# The generated reporters' subjects: 0990 and the committee id in eight digits, twelve
# digits like the demo users' (0010900xxxxx).
REPORTER_SUBJECT_PREFIX: Final = "0990"
# The difficulties' steps sort after the congresses' changes of the same minute (those are
# ordered by congress id times 64 plus version).
DIFFICULTY_SEQUENCE_BASE: Final = 1 << 40


class DemoActivityError(Exception):
    """The database is not a demo built for this day, or already holds activity."""


# What a story is made of.


@dataclass(frozen=True, slots=True)
class MilestoneStep:
    milestone: str
    status: MilestoneStatus
    occurred_on: date
    note: str | None = None


@dataclass(frozen=True, slots=True)
class ResultsStep:
    results: Results


Step = MilestoneStep | ResultsStep


@dataclass(frozen=True, slots=True)
class Recorded:
    """A step and the minute it was recorded (since 1970, UTC)."""

    minute: int
    step: Step

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.minute * 60, UTC)


class _Draws(random.Random):
    """Draws from one seed; `between` is `randint` at a tenth of its cost."""

    def between(self, low: int, high: int) -> int:
        return low + int(self.random() * (high - low + 1))


def congress_story(
    code: str, kind: CommitteeKind, placed: Placement, today: date
) -> list[Recorded]:
    """What was recorded about the congress of committee `code` up to `today`, in order, so
    that it stands as `placed` says. Deterministic: drawn from the code alone."""
    draws = _Draws(f"story {code}")
    spacing = draws.between(*STEP_SPACING.get(kind, STEP_SPACING[CommitteeKind.COMMUNE]))
    deadline = placed.deadline_in_days
    held: int | None = None
    stalled_after = HELD_POSITION
    if placed.standing in (Standing.COMPLETED, Standing.HELD):
        # A completed congress was held at least four days ago, to have reported since.
        latest = -4 if placed.standing is Standing.COMPLETED else -1
        if deadline < latest and draws.random() < 0.2:
            held = min(deadline + draws.between(1, 10), latest)  # late
        else:
            held = min(deadline, latest) - draws.between(0, 12)
        planned = held
    elif placed.standing is Standing.OVERDUE:
        planned = deadline - draws.between(0, 4)
        stalled_after = (1, 2, 3, 3, 4, 4)[draws.between(0, 5)]
    elif placed.standing is Standing.DUE_SOON:
        planned = max(deadline - draws.between(0, 2), 0)
    else:
        planned = deadline - draws.between(0, 5)
    # The day (from today) each step is reached, `spacing` days apart, the congress last.
    reached = [planned - (HELD_POSITION - p) * spacing + draws.between(-2, 2) for p in (1, 2, 3, 4)]
    reached.append(planned)
    done = HELD_POSITION if held is not None else 0
    while done < min(HELD_POSITION - 1, stalled_after) and reached[done] <= -1:
        done += 1
    steps: list[tuple[int, Step]] = []
    for position in range(1, done + 1):
        note = None
        if position == 1 and draws.random() < 0.6:
            signature = PLAN_SIGNATURE.get(kind, "ĐU")
            note = f"Kế hoạch số {draws.between(1, 60)}-KH/{signature}"
        day = reached[position - 1]
        steps.append((day, _milestone(position, MilestoneStatus.DONE, today, day, note)))
    if held is None and done < HELD_POSITION - 1:
        started = reached[done] - draws.between(2, spacing)
        if done:
            started = max(started, reached[done - 1] + 1)
        if started <= -1 and draws.random() < 0.8:
            steps.append(
                (started, _milestone(done + 1, MilestoneStatus.IN_PROGRESS, today, started))
            )
    if held is not None:
        results_day = held + draws.between(0, 3)
        if results_day <= -1:
            steps.append((results_day, ResultsStep(demo_results(kind, draws))))
            if placed.standing is Standing.COMPLETED:
                reported = min(results_day + draws.between(0, 4), -1)
                last = len(MILESTONES)
                steps.append((reported, _milestone(last, MilestoneStatus.DONE, today, reported)))
    return list(_recording_times(steps, today, draws))


def _milestone(
    position: int, status: MilestoneStatus, today: date, day: int, note: str | None = None
) -> MilestoneStep:
    return MilestoneStep(MILESTONES[position - 1], status, _day(today, day), note)


@cache
def _local_midnight_minute(day: date) -> int:
    """Midnight of `day` in Vietnam's time, in minutes since 1970 (UTC)."""
    return int(local_moment(day, 0).timestamp()) // 60


@cache
def _day(today: date, days: int) -> date:
    return today + timedelta(days=days)


def _recording_times(
    steps: Sequence[tuple[int, Step]], today: date, draws: _Draws
) -> Iterator[Recorded]:
    """Each step recorded on its day or a few days later (never on `today` or after), in
    office hours, each after the one before it."""
    # Vietnam keeps no summer time: a day there is 24 hours from its midnight.
    midnight = _local_midnight_minute(today)
    previous_day, previous_minute = -(10**6), 0
    for occurred, step in steps:
        draw = draws.random()
        lag = 0 if draw < 0.55 else 1 if draw < 0.8 else draws.between(2, 5)
        day = max(min(occurred + lag, -1), previous_day)
        if day == previous_day:
            minute = min(previous_minute + draws.between(3, 40), LAST_MINUTE)
        else:
            minute = draws.between(OFFICE_OPENS, OFFICE_CLOSES)
        previous_day, previous_minute = day, minute
        yield Recorded(midnight + day * 24 * 60 + minute, step)


def demo_results(kind: CommitteeKind, draws: _Draws) -> Results:
    """Plausible results for a congress at the level `kind`, within every rule of
    `check_results` (present <= expected, elected <= present, each part <= elected)."""
    expected_range, most_absent, elected_range, higher_range = RESULT_SIZES.get(
        kind, RESULT_SIZES[CommitteeKind.COMMUNE]
    )
    expected = draws.between(*expected_range)
    present = expected - draws.between(0, most_absent)
    elected = min(draws.between(*elected_range), present)

    def part(low: float, high: float) -> int:
        return min(round(elected * draws.uniform(low, high)), elected)

    return Results(
        delegates_expected=expected,
        delegates_present=present,
        members_elected=elected,
        women=part(0.1, 0.35),
        under_40=part(0.05, 0.25),
        ethnic_minority=part(0.0, 0.15),
        secretary_directly_elected=draws.random() < 0.85,
        delegates_to_higher_congress=draws.between(*higher_range),
    )


# The difficulties.


@dataclass(frozen=True, slots=True)
class DemoDifficulty:
    key: str
    raised_at: str  # committee code
    title: str
    description: str
    category: DifficultyCategory


@dataclass(frozen=True, slots=True)
class DifficultyStep:
    """One step of a difficulty: `verb` raise, comment, escalate or resolve, by the reporter
    of the committee `by`, on `day` (from today) at `minute` (Vietnam's time); `text` is the
    comment or the resolution."""

    difficulty: str
    verb: Literal["raise", "comment", "escalate", "resolve"]
    day: int
    minute: int
    by: str
    text: str = ""


def demo_difficulties(
    with_cells: bool, second_commune: str, other_commune: str
) -> tuple[dict[str, DemoDifficulty], list[DifficultyStep]]:
    """The demo's difficulties and their steps in the order they happened. `second_commune`
    is another ward of the demo province, `other_commune` a ward of another province. Each
    one still open below the centre was last acted on yesterday: left alone for
    CONGRESS_ESCALATE_AFTER_SECONDS (3 days by default), it climbs a level by itself."""
    commune = demo_commune_code()
    cell = f"{commune}-001" if with_cells else commune
    other_cell = f"{other_commune}-001" if with_cells else other_commune
    province, centre = DEMO_PROVINCE_CODE, CENTRAL_CODE
    category = DifficultyCategory
    difficulties = [
        DemoDifficulty(
            "merger", second_commune,
            "Vướng mắc về cơ cấu cấp ủy sau khi sắp xếp đơn vị hành chính",
            "Phường mới hình thành từ ba phường cũ; chưa có hướng dẫn về số lượng và cơ cấu "
            "cấp ủy viên khóa mới.",
            category.ORGANISATION,
        ),
        DemoDifficulty(
            "hall", cell, "Thiếu địa điểm tổ chức đại hội chi bộ",
            "Nhà văn hóa tổ dân phố đang sửa chữa đến hết tháng.", category.FACILITIES,
        ),
        DemoDifficulty(
            "women", commune, "Thiếu nhân sự nữ trong danh sách đề cử cấp ủy khóa mới",
            "Danh sách đề cử mới đạt 12% cấp ủy viên nữ, chưa đạt chỉ tiêu 15%.",
            category.PERSONNEL,
        ),
        DemoDifficulty(
            "printing", other_cell, "Tài liệu đại hội chưa được in kịp",
            "Đơn vị in ấn của phường quá tải trong tháng đại hội.", category.DOCUMENTS,
        ),
        DemoDifficulty(
            "budget", commune, "Kinh phí tổ chức đại hội phường chưa được cấp đủ",
            "Dự toán được duyệt mới đáp ứng 70% nhu cầu.", category.OTHER,
        ),
        DemoDifficulty(
            "calendar", province, "Lịch đại hội trùng với kỳ họp Hội đồng nhân dân thành phố",
            "Đề nghị lùi đại hội Đảng bộ thành phố một tuần.", category.OTHER,
        ),
    ]  # fmt: skip
    steps = [
        DifficultyStep("merger", "raise", -14, 8 * 60 + 5, second_commune),
        DifficultyStep("merger", "escalate", -12, 10 * 60 + 20, second_commune),
        DifficultyStep(
            "merger", "comment", -10, 15 * 60 + 10, province,
            "Thành ủy đề nghị Trung ương hướng dẫn cơ cấu cấp ủy các phường mới thành lập.",
        ),
        DifficultyStep("merger", "escalate", -9, 9 * 60, province),
        DifficultyStep("hall", "raise", -9, 8 * 60 + 40, cell),
        DifficultyStep(
            "hall", "comment", -8, 10 * 60 + 15, commune,
            "Đảng ủy phường đề nghị Ủy ban nhân dân phường bố trí hội trường tầng 2.",
        ),
        DifficultyStep("women", "raise", -6, 9 * 60 + 10, commune),
        DifficultyStep(
            "hall", "resolve", -6, 15 * 60 + 30, commune,
            "Ủy ban nhân dân phường đã bố trí hội trường; đại hội chi bộ tổ chức đúng kế hoạch.",
        ),
        DifficultyStep(
            "women", "comment", -4, 14 * 60, commune,
            "Đã rà soát lại nguồn cán bộ nữ; vẫn thiếu hai người so với chỉ tiêu.",
        ),
        DifficultyStep("printing", "raise", -4, 9 * 60 + 20, other_commune),
        DifficultyStep("women", "escalate", -3, 16 * 60 + 20, commune),
        DifficultyStep(
            "merger", "comment", -2, 10 * 60 + 45, centre,
            "Ban Tổ chức Trung ương đang tổng hợp, sẽ có hướng dẫn chung cho các địa phương.",
        ),
        DifficultyStep(
            "women", "comment", -1, 9 * 60 + 30, province,
            "Ban Tổ chức Thành ủy đang xem xét, sẽ trả lời phường trong tuần này.",
        ),
        DifficultyStep("budget", "raise", -1, 11 * 60, commune),
        DifficultyStep("calendar", "raise", -1, 14 * 60 + 30, province),
    ]  # fmt: skip
    if other_cell != other_commune:  # from the cell to its ward, then on to the province
        steps.append(DifficultyStep("printing", "escalate", -1, 10 * 60 + 5, other_commune))
    steps.append(DifficultyStep("printing", "escalate", -1, 16 * 60 + 10, other_commune))
    steps.sort(key=lambda step: (step.day, step.minute))
    return {difficulty.key: difficulty for difficulty in difficulties}, steps


# Who records.


@dataclass(frozen=True, slots=True)
class Official:
    """A reporter; `demo_user` when one of the demo's twelve users, whose writes take the
    one road."""

    user_id: int
    subject: str
    demo_user: bool


def demo_reporter_subject(committee_id: int) -> str:
    """The generated reporter of a commune or province where no demo user reports."""
    return f"{REPORTER_SUBJECT_PREFIX}{committee_id:08d}"


def reporter_name(committee_name: str) -> str:
    place = committee_name
    for prefix in ("Đảng ủy ", "Thành ủy ", "Tỉnh ủy "):
        place = place.removeprefix(prefix)
    return f"Cán bộ reporter {place}"


async def _open_accounts(
    connection: AsyncConnection, today: date
) -> tuple[dict[int, Official], dict[str, int]]:
    """Every committee's own reporter, by committee id: the demo users at their places, a
    generated one at every other commune and province (cells have none of their own: their
    commune's records for them); and the ids of those committees, by code."""
    above_cells = (
        await connection.execute(
            select(Committee.id, Committee.code, Committee.name)
            .where(Committee.kind != CommitteeKind.CELL)
            .order_by(Committee.id)
        )
    ).all()
    demo_reporters = {
        user.committee_code: user.subject for user in demo_users() if user.role is Role.REPORTER
    }
    opened = accounts_opened_at(today)
    generated = [
        (committee_id, demo_reporter_subject(committee_id), reporter_name(name))
        for committee_id, code, name in above_cells
        if code not in demo_reporters
    ]
    if generated:
        await connection.execute(
            insert(User),
            [
                {
                    "subject": subject,
                    "display_name": name,
                    "search_name": search_key(name),
                    "is_active": True,
                    "version": 1,
                    "created_at": opened,
                }
                for _id, subject, name in generated
            ],
        )
    user_ids = dict((await connection.execute(select(User.subject, User.id))).all())
    if generated:
        await connection.execute(
            insert(Assignment),
            [
                {
                    "user_id": user_ids[subject],
                    "committee_id": committee_id,
                    "role": Role.REPORTER,
                    "created_at": opened,
                }
                for committee_id, subject, _name in generated
            ],
        )
    officials = {
        committee_id: Official(user_ids[subject], subject, demo_user=False)
        for committee_id, subject, _name in generated
    }
    ids_by_code = {code: committee_id for committee_id, code, _name in above_cells}
    demo_places = await connection.execute(
        select(Committee.code, Committee.id).where(Committee.code.in_(demo_reporters))
    )
    for code, committee_id in demo_places:
        subject = demo_reporters[code]
        if subject in user_ids:  # a demo without cells has no users at a cell
            officials[committee_id] = Official(user_ids[subject], subject, demo_user=True)
            ids_by_code[code] = committee_id
    return officials, ids_by_code


# The bulk road.

# The columns of congress_result that hold results, in `Results`' order.
_RESULT_COLUMNS: Final = tuple(result.name for result in fields(Results))
_HELPERS = MetaData()
# Waiting to be copied, one row per change written in bulk: `segment` says between which
# two writes of the one road it happened; `milestone` is null for results; `status` is
# the congress's after it; `last` marks a milestone's last change (the state it leaves).
_CHANGES = Table(
    "demo_staged_change",
    _HELPERS,
    Column("segment", Integer, nullable=False),
    Column("recorded_minute", Integer, nullable=False),  # minutes since 1970, UTC
    Column("congress_id", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("milestone", String(64)),
    Column("milestone_status", String(16)),
    Column("occurred_on", Date),
    Column("note", String(2000)),
    Column("status", String(16), nullable=False),
    Column("last", Boolean, nullable=False),
    Index("ix_demo_staged_change_order", "segment", "recorded_minute", "congress_id", "version"),
    prefixes=["TEMPORARY"],
)
# Each congress written in bulk: where it is, who recorded it, and the state it ends in.
_CONGRESSES = Table(
    "demo_staged_congress",
    _HELPERS,
    Column("congress_id", Integer, primary_key=True),
    Column("committee_id", Integer, nullable=False),
    Column("committee_path", PathString, nullable=False),
    Column("user_id", Integer, nullable=False),
    Column("subject", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("held_on", Date),
    prefixes=["TEMPORARY"],
)
# The results recorded (once, in the demo's stories) on a congress written in bulk.
_RESULTS = Table(
    "demo_staged_results",
    _HELPERS,
    Column("congress_id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("recorded_minute", Integer, nullable=False),
    *(
        Column(name, Boolean if name == "secretary_directly_elected" else Integer)
        for name in _RESULT_COLUMNS
    ),
    prefixes=["TEMPORARY"],
)
# Where each kind of change goes, as the one road names it.
_EVENT_KINDS: Final = ("milestone", "results")
_AUDIT_ACTIONS: Final = ("congress.milestone", "congress.results")
_FEED_KINDS: Final = (ChangeKind.MILESTONE.value, ChangeKind.RESULTS.value)


def _sequence(congress_id: int, version: int) -> int:
    """A congress change's place among the changes of one moment (its congress, then its
    version), comparable with the difficulties' steps."""
    return congress_id * 64 + version


def _quoted(text: str) -> ColumnElement[str]:
    # Inline: PostgreSQL cannot type a bound parameter passed to json_build_object.
    return literal_column(f"'{text}'", String)


@dataclass(slots=True)
class _Chunk:
    """The rows of a chunk of stories, for the temporary tables."""

    tables: dict[Table, list[tuple[Any, ...]]]
    segments: Counter[int]


@dataclass(slots=True)
class _BulkWriter:
    """Stories written without the one road, by the rules it follows: a chunk of stories
    at a time becomes rows (`rows_of`) in the temporary tables (`insert`); once every
    chunk is in, the state they leave is written from there (`write_state`), and their
    changes are copied segment by segment (`copy`)."""

    connection: AsyncConnection
    term_id: int
    templates: list[MilestoneTemplate]
    # The one road's writes, (minute, sequence) in order: the segments' bounds.
    road_keys: list[tuple[int, int]]
    statuses: dict[tuple[tuple[str, MilestoneStatus], ...], CongressStatus] = field(
        default_factory=dict
    )
    changes: int = 0
    # How many changes each segment holds: an empty one costs no statement.
    segments: Counter[int] = field(default_factory=Counter)
    sqlite: bool = field(init=False)

    def __post_init__(self) -> None:
        self.sqlite = self.connection.dialect.name == "sqlite"

    def rows_of(self, stories: Sequence[BulkStory]) -> _Chunk:
        """The rows of the stories, as the one road would leave them."""
        changes: list[tuple[Any, ...]] = []
        congresses: list[tuple[Any, ...]] = []
        results: list[tuple[Any, ...]] = []
        segments: Counter[int] = Counter()
        day = self._day
        for item in stories:
            story, congress_id = item.story, item.congress_id
            if not story:
                continue
            last_change = {
                step.milestone: index
                for index, recorded in enumerate(story)
                if isinstance(step := recorded.step, MilestoneStep)
            }
            states: dict[str, MilestoneStatus] = {}
            held_on: date | None = None
            status = CongressStatus.NOT_STARTED
            for index, recorded in enumerate(story):
                version = index + 2
                step = recorded.step
                segment = bisect.bisect_left(
                    self.road_keys, (recorded.minute, _sequence(congress_id, version))
                )
                segments[segment] += 1
                if isinstance(step, MilestoneStep):
                    states[step.milestone] = step.status
                    if step.milestone == HELD_MILESTONE:
                        done = step.status is MilestoneStatus.DONE
                        held_on = step.occurred_on if done else None
                    status = self._status(states)
                    changes.append(
                        (
                            segment, recorded.minute, congress_id, version,
                            step.milestone, step.status.value, day(step.occurred_on),
                            step.note, status.value, last_change[step.milestone] == index,
                        )
                    )  # fmt: skip
                else:
                    changes.append(
                        (
                            segment, recorded.minute, congress_id, version,
                            None, None, None, None, status.value, False,
                        )
                    )  # fmt: skip
                    outcome = step.results
                    results.append(
                        (
                            congress_id, version, recorded.minute,
                            *(getattr(outcome, name) for name in _RESULT_COLUMNS),
                        )
                    )  # fmt: skip
            congresses.append(
                (
                    congress_id, item.committee_id, item.committee_path, item.official.user_id,
                    item.official.subject, status.value, len(story) + 1, day(held_on),
                )
            )  # fmt: skip
        tables = {_CHANGES: changes, _CONGRESSES: congresses, _RESULTS: results}
        return _Chunk(tables, segments)

    def _status(self, states: dict[str, MilestoneStatus]) -> CongressStatus:
        """`derived_status`, asked once for each sequence of the milestones' states."""
        key = tuple(states.items())
        status = self.statuses.get(key)
        if status is None:
            status = self.statuses[key] = derived_status(self.templates, states)
        return status

    def recorded_at(self, minute: Any) -> Any:
        """The moment of a staged `recorded_minute`, as the moment columns hold it: in
        SQLite, the UTC wall time as SQLAlchemy writes it (models.base.UtcMoment)."""
        if self.sqlite:
            return func.strftime("%Y-%m-%d %H:%M:%S.000000", minute * 60, "unixepoch")
        return func.to_timestamp(minute * 60)

    def _day(self, day: date | None) -> Any:
        return day.isoformat() if day is not None and self.sqlite else day

    async def write_state(self) -> None:
        """What the changes leave: each milestone's last change, the results, and each
        congress's version, status and held_on after its last change."""
        s, c, r = _CHANGES.c, _CONGRESSES.c, _RESULTS.c
        await self.connection.execute(
            insert(CongressMilestone).from_select(
                ["congress_id", "milestone_code", "status", "occurred_on", "note", "version",
                 "recorded_by_subject", "recorded_at"],
                select(s.congress_id, s.milestone, s.milestone_status, s.occurred_on, s.note,
                       s.version, c.subject, self.recorded_at(s.recorded_minute))
                .join(_CONGRESSES, c.congress_id == s.congress_id)
                .where(s.last),
            )
        )  # fmt: skip
        await self.connection.execute(
            insert(CongressResult).from_select(
                [*_RESULT_COLUMNS, "congress_id", "version", "recorded_by_subject", "recorded_at"],
                select(*(r[name] for name in _RESULT_COLUMNS), r.congress_id, r.version,
                       c.subject, self.recorded_at(r.recorded_minute))
                .join(_CONGRESSES, c.congress_id == r.congress_id),
            )
        )  # fmt: skip
        congress = cast(Table, Congress.__table__)
        await self.connection.execute(
            update(congress)
            .values(status=c.status, version=c.version, held_on=c.held_on)
            .where(congress.c.id == c.congress_id)
        )

    async def insert(self, chunk: _Chunk) -> None:
        """The chunk into the temporary tables, through the driver: at tens of thousands of
        rows, SQLAlchemy's handling of each parameter would cost more than the database
        does."""
        for table, rows in chunk.tables.items():
            if not rows:
                continue
            columns = [column.name for column in table.columns]
            if self.sqlite:
                await self.connection.exec_driver_sql(
                    f"INSERT INTO {table.name} ({', '.join(columns)}) "
                    f"VALUES ({', '.join('?' for _ in columns)})",
                    rows,
                )
            else:
                driver = (await self.connection.get_raw_connection()).driver_connection
                assert driver is not None
                # asyncpg's COPY, in binary: the fastest way in, the types as they are.
                await driver.copy_records_to_table(table.name, records=rows, columns=columns)
        self.changes += len(chunk.tables[_CHANGES])
        self.segments.update(chunk.segments)

    async def copy(self, segment: int) -> None:
        """Append the segment's changes to the event, audit and feed tables, in the order
        they happened."""
        if not self.segments[segment]:
            return
        s, c, r = _CHANGES.c, _CONGRESSES.c, _RESULTS.c
        recorded_at = self.recorded_at(s.recorded_minute)
        json_object = func.json_object if self.sqlite else func.json_build_object

        def pairs(*named: tuple[str, Any]) -> Any:
            return json_object(*(part for key, value in named for part in (_quoted(key), value)))

        milestone = (
            ("milestone", s.milestone),
            ("status", s.milestone_status),
            ("occurredOn", s.occurred_on),
            ("note", s.note),
        )
        secretary: Any = r.secretary_directly_elected
        if self.sqlite:  # 0 and 1 in SQLite; false and true in JSON
            secretary = case((secretary, func.json("true")), else_=func.json("false"))
        # The payload's keys as `record_results` names them, in its order.
        results = tuple(
            ("secretaryDirectlyElected", secretary)
            if name == "secretary_directly_elected"
            else (RESULT_FIELDS[name], r[name])
            for name in _RESULT_COLUMNS
        )
        version = (("version", s.version),)
        is_milestone = s.milestone.is_not(None)

        def either(milestone_value: Any, results_value: Any) -> Any:
            return case((is_milestone, milestone_value), else_=results_value)

        change = (("congressId", s.congress_id), *version, ("status", s.status))
        staged = _CHANGES.join(_CONGRESSES, c.congress_id == s.congress_id).outerjoin(
            _RESULTS, (r.congress_id == s.congress_id) & (r.version == s.version)
        )

        def rows(*columns: Any) -> Any:
            return (
                select(*columns)
                .select_from(staged)
                .where(s.segment == segment)
                .order_by(s.recorded_minute, s.congress_id, s.version)
            )

        await self.connection.execute(
            insert(CongressEvent).from_select(
                ["congress_id", "version", "kind", "payload", "recorded_by_user_id",
                 "recorded_by_subject", "recorded_at", "request_id"],
                rows(s.congress_id, s.version, either(*map(_quoted, _EVENT_KINDS)),
                     either(pairs(*milestone), pairs(*results)), c.user_id, c.subject,
                     recorded_at, null()),
            )
        )  # fmt: skip
        await self.connection.execute(
            insert(AuditEntry).from_select(
                ["occurred_at", "actor_user_id", "actor_subject", "action", "committee_id",
                 "target_type", "target_id", "before", "after", "request_id"],
                rows(recorded_at, c.user_id, c.subject, either(*map(_quoted, _AUDIT_ACTIONS)),
                     c.committee_id, _quoted("Congress"), s.congress_id, null(),
                     either(pairs(*milestone, *version), pairs(*results, *version)), null()),
            )
        )  # fmt: skip
        await self.connection.execute(
            insert(ChangeFeedEntry).from_select(
                ["recorded_at", "kind", "committee_id", "committee_path", "term_id", "payload"],
                rows(recorded_at, either(*map(_quoted, _FEED_KINDS)), c.committee_id,
                     c.committee_path, literal_column(str(self.term_id), Integer),
                     either(pairs(*change, ("milestone", s.milestone),
                                  ("milestoneStatus", s.milestone_status)),
                            pairs(*change))),
            )
        )  # fmt: skip


# The one road.


@dataclass(frozen=True, slots=True)
class RoadWrite:
    """A write through the one road: who makes it, when, and the change itself."""

    minute: int  # since 1970, UTC
    seq: int
    official: Official
    change: Callable[[UnitOfWork], Awaitable[None]]

    @property
    def key(self) -> tuple[int, int]:
        return self.minute, self.seq

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.minute * 60, UTC)


def _visible(viewer: Viewer, committee: Committee | None) -> Committee | None:
    """The committee if the viewer's scope holds it, as the API's loaders answer."""
    if committee is None or not viewer.scope.contains(committee.path):
        return None
    return committee


def milestone_change(committee_id: int, step: MilestoneStep) -> Callable[[UnitOfWork], Any]:
    """`recordMilestone`'s change, as the worker's milestone writer makes it."""

    async def change(unit: UnitOfWork) -> None:
        write = MilestoneWrite(
            unit.actor, committee_id, may_record(unit), None, step.milestone, step.status,
            step.occurred_on, step.note, None,
        )  # fmt: skip
        [outcome] = await record_milestones(unit.session, [write])
        if isinstance(outcome, Refusal):
            raise outcome

    return change


def results_change(committee_id: int, results: Results) -> Callable[[UnitOfWork], Any]:
    """`recordResults`'s change, as graph.resolvers.progress makes it."""

    async def change(unit: UnitOfWork) -> None:
        committee = _visible(unit.viewer, await unit.session.get(Committee, committee_id))
        if committee is None:
            raise NotVisible(NO_COMMITTEE, field="committeeId")
        policy.may_record_progress(unit.viewer, committee)
        term = await term_by_code(unit.session, None)
        await record_results(
            unit.session, unit.actor, committee=committee, term=term, results=results,
            expected_version=None,
        )  # fmt: skip

    return change


def difficulty_change(
    step: DifficultyStep,
    difficulty: DemoDifficulty,
    committee_ids: dict[str, int],
    raised: dict[str, int],
) -> Callable[[UnitOfWork], Any]:
    """A difficulty's step as graph.resolvers.difficulties makes it: the policy's rule on
    what the viewer can see, then models.difficulties."""

    async def change(unit: UnitOfWork) -> None:
        session, viewer = unit.session, unit.viewer
        if step.verb == "raise":
            at = committee_ids[difficulty.raised_at]
            committee = _visible(viewer, await session.get(Committee, at))
            if committee is None:
                raise NotVisible(NO_COMMITTEE, field="committeeId")
            policy.may_raise_difficulty(viewer, committee)
            row = await raise_difficulty(
                session, unit.actor, committee=committee, title=difficulty.title,
                description=difficulty.description, category=difficulty.category,
            )  # fmt: skip
            raised[difficulty.key] = row.id
            return
        found = await session.get(Difficulty, raised[difficulty.key])
        assert found is not None
        raised_at = _visible(viewer, await session.get(Committee, found.committee_id))
        if raised_at is None:
            raise NotVisible("No difficulty found.", field="difficultyId")
        handled_at = _visible(viewer, await session.get(Committee, found.handling_committee_id))
        if step.verb == "comment":
            policy.may_comment_difficulty(viewer, raised_at)
            await comment_difficulty(session, unit.actor, difficulty=found, body=step.text)
        elif step.verb == "escalate":
            policy.may_escalate_difficulty(viewer, handled_at)
            await escalate_difficulty(session, unit.actor, difficulty=found)
        else:
            policy.may_resolve_difficulty(viewer, handled_at)
            await resolve_difficulty(session, unit.actor, difficulty=found, resolution=step.text)

    return change


async def write_on_the_road(
    sessions: async_sessionmaker[ShieldedSession], write: RoadWrite
) -> None:
    """One write through the unit of work, as its official, stamped when it happened."""
    with stamped_at(write.at):
        async with sessions() as session:
            viewer = await load_active_viewer(session, write.official.subject)
            assert viewer is not None, write.official.subject
            unit = UnitOfWork(session, viewer)
            outcome = await unit.run(lambda: write.change(unit))
    if isinstance(outcome, Refusal):
        raise DemoActivityError(f"the demo's own write was refused: {outcome.message}")


def story_writes(
    committee_id: int, congress_id: int, official: Official, story: Sequence[Recorded]
) -> list[RoadWrite]:
    """A congress's story as writes through the one road."""
    writes = []
    for version, recorded in enumerate(story, start=2):
        step = recorded.step
        change = (
            milestone_change(committee_id, step)
            if isinstance(step, MilestoneStep)
            else results_change(committee_id, step.results)
        )
        writes.append(RoadWrite(recorded.minute, _sequence(congress_id, version), official, change))
    return writes


# The whole activity.


@dataclass(frozen=True, slots=True)
class ActivitySummary:
    congress_changes: int  # milestones and results recorded, by both roads
    one_road_writes: int  # of those and of the difficulties' steps, through the one road
    difficulties: int


@dataclass(frozen=True, slots=True)
class _Place:
    committee_id: int
    code: str
    kind: CommitteeKind
    path: str
    parent_id: int | None
    congress_id: int
    deadline: date | None


def _place_columns(term_id: int) -> Any:
    return select(
        Committee.id, Committee.code, Committee.kind, Committee.path, Committee.parent_id,
        Congress.id, Congress.deadline,
    ).join(Congress, (Congress.committee_id == Committee.id) & (Congress.term_id == term_id))  # fmt: skip


async def record_demo_activity(
    engine: AsyncEngine,
    today: date,
    progress: Callable[[int], None] | None = None,
) -> ActivitySummary:
    """Record the demo's activity up to the day before `today` into a demo built for that
    day (`build_demo(..., today=today)`) that holds none yet, in one transaction: all of
    it or, should anything fail, none. `progress` is told how many congresses each round
    dealt with."""
    async with engine.connect() as connection, _roomy_cache(connection):
        term_id = await _current_term_id(connection)
        officials, ids_by_code = await _open_accounts(connection, today)
        road, on_the_road = await _road_writes(connection, term_id, today, officials)
        difficulties, script = await _difficulty_writes(connection, officials, ids_by_code, today)

        placements = Placements()

        def stories_of(places: Sequence[_Place]) -> list[BulkStory]:
            """The stories of the places whose congresses are not on the one road."""
            stories = []
            for place in places:
                placed = placements.next(place.code, place.kind)
                _check_deadline(place, placed, today)
                if place.committee_id in on_the_road:
                    continue
                official = officials.get(place.committee_id) or officials[place.parent_id or 0]
                story = congress_story(place.code, place.kind, placed, today)
                stories.append(
                    BulkStory(place.congress_id, place.committee_id, place.path, official, story)
                )
            return stories

        async def bulk_stories() -> AsyncIterator[list[BulkStory]]:
            after_id = 0
            while places := await _places(connection, term_id, after_id):
                after_id = places[-1].committee_id
                yield stories_of(places)
                if progress is not None:
                    progress(len(places))

        changes = await write_activity(connection, term_id, bulk_stories(), road + script)
        await connection.commit()
    return ActivitySummary(
        congress_changes=changes + len(road),
        one_road_writes=len(road) + len(script),
        difficulties=difficulties,
    )


@dataclass(frozen=True, slots=True)
class BulkStory:
    """A congress's story to write in bulk, with where it is and who recorded it."""

    congress_id: int
    committee_id: int
    committee_path: str
    official: Official
    story: Sequence[Recorded]


async def write_activity(
    connection: AsyncConnection,
    term_id: int,
    bulk: AsyncIterator[Sequence[BulkStory]],
    road: Sequence[RoadWrite],
) -> int:
    """Write the stories of `bulk` (chunk after chunk, in congress order) in bulk and make
    the `road`'s writes through the one road, all in the connection's transaction (the
    caller commits) and in the order they happened; then rebuild the rollups. Returns how
    many changes went in bulk."""
    road = sorted(road, key=lambda write: write.key)
    writer = _BulkWriter(
        connection, term_id, await _templates(connection, term_id), [w.key for w in road]
    )
    await connection.run_sync(_HELPERS.create_all)
    async for stories in bulk:
        await writer.insert(writer.rows_of(stories))
    await writer.write_state()
    # Each write of the one road in a savepoint of this transaction: its unit of work
    # commits and rolls back there, and the whole activity commits once, at the end.
    sessions = async_sessionmaker(
        bind=connection,
        class_=ShieldedSession,
        expire_on_commit=False,
        join_transaction_mode="create_savepoint",
    )
    for segment, write in enumerate(road):
        await writer.copy(segment)
        await write_on_the_road(sessions, write)
    await writer.copy(len(road))
    # The statements `check-rollups --repair` runs: what every congress counts for now.
    for statement in rebuild_statements():
        await connection.execute(statement)
    await connection.run_sync(_HELPERS.drop_all)
    return writer.changes


@asynccontextmanager
async def _roomy_cache(connection: AsyncConnection) -> AsyncIterator[None]:
    """On SQLite, a page cache that holds the indexes the bulk writes go through (the
    default 2 MB made each insert wait on pages evicted a moment before: twice as slow),
    given back afterwards; the connection returns to the pool as it came."""
    if connection.dialect.name != "sqlite":
        yield
        return
    sizes = {
        schema: await connection.scalar(text(f"PRAGMA {schema}.cache_size"))
        for schema in ("main", "temp")
    }
    for schema in sizes:
        await connection.exec_driver_sql(f"PRAGMA {schema}.cache_size=-{BULK_CACHE_KIB}")
    try:
        yield
    finally:
        for schema, size in sizes.items():
            await connection.exec_driver_sql(f"PRAGMA {schema}.cache_size={int(size or 0)}")


def _check_deadline(place: _Place, placed: Placement, today: date) -> None:
    if place.deadline != today + timedelta(days=placed.deadline_in_days):
        raise DemoActivityError(
            f"{place.code}'s deadline is not where a demo built for {today} has it: "
            "record the activity of the day the demo was built for."
        )


async def _current_term_id(connection: AsyncConnection) -> int:
    """The current term, checked to have nothing recorded yet."""
    term_id = await connection.scalar(select(Term.id).where(Term.is_current))
    if term_id is None:
        raise DemoActivityError("there is no current term: build the demo first")
    if await connection.scalar(select(func.count()).select_from(CongressEvent)):
        raise DemoActivityError("the database already holds recorded progress")
    return int(term_id)


async def _templates(connection: AsyncConnection, term_id: int) -> list[MilestoneTemplate]:
    """The term's milestones (detached copies, for `derived_status`): the demo's."""
    rows = await connection.execute(
        select(MilestoneTemplate.code, MilestoneTemplate.position, MilestoneTemplate.marks_held)
        .where(MilestoneTemplate.term_id == term_id)
        .order_by(MilestoneTemplate.position)
    )
    templates = [
        MilestoneTemplate(code=code, position=position, marks_held=marks_held)
        for code, position, marks_held in rows
    ]
    if tuple(template.code for template in templates) != MILESTONES:
        raise DemoActivityError("the current term's milestones are not the demo's")
    return templates


async def _places(connection: AsyncConnection, term_id: int, after_id: int) -> list[_Place]:
    rows = await connection.execute(
        _place_columns(term_id)
        .where(Committee.id > after_id)
        .order_by(Committee.id)
        .limit(CHUNK_SIZE)
    )
    return [_Place(*row) for row in rows]


async def _road_writes(
    connection: AsyncConnection, term_id: int, today: date, officials: dict[int, Official]
) -> tuple[list[RoadWrite], set[int]]:
    """The stories of the congresses the demo users record (at their places, and the cells
    of the demo ward), as writes through the one road; and those committees' ids."""
    demo_ids = [committee_id for committee_id, o in officials.items() if o.demo_user]
    rows = await connection.execute(
        _place_columns(term_id)
        .where(
            Committee.id.in_(demo_ids)
            | ((Committee.kind == CommitteeKind.CELL) & Committee.parent_id.in_(demo_ids))
        )
        .order_by(Committee.id)
    )
    demo_places = demo_place_placements()
    writes: list[RoadWrite] = []
    committees: set[int] = set()
    for place in (_Place(*row) for row in rows):
        placed = demo_places.get(place.code)
        if placed is None:  # past the cells the demo's placements name
            ordinal = await connection.scalar(
                select(func.count())
                .select_from(Committee)
                .where(Committee.kind == place.kind, Committee.id < place.committee_id)
            )
            placed = placement(place.code, place.kind, int(ordinal or 0))
        official = officials.get(place.committee_id) or officials[place.parent_id or 0]
        story = congress_story(place.code, place.kind, placed, today)
        writes.extend(story_writes(place.committee_id, place.congress_id, official, story))
        committees.add(place.committee_id)
    return writes, committees


async def _difficulty_writes(
    connection: AsyncConnection,
    officials: dict[int, Official],
    ids_by_code: dict[str, int],
    today: date,
) -> tuple[int, list[RoadWrite]]:
    """The difficulties' steps as writes through the one road, and how many are raised."""
    second_commune, other_commune = await _difficulty_places(connection, ids_by_code)
    with_cells = await connection.scalar(
        select(func.count())
        .select_from(Committee)
        .where(Committee.parent_id == ids_by_code[other_commune])
    )
    difficulties, steps = demo_difficulties(bool(with_cells), second_commune, other_commune)
    codes = {difficulty.raised_at for difficulty in difficulties.values()}
    committee_ids = dict(
        (
            await connection.execute(
                select(Committee.code, Committee.id).where(Committee.code.in_(codes))
            )
        ).all()
    )
    raised: dict[str, int] = {}
    writes = [
        RoadWrite(
            _local_midnight_minute(today) + step.day * 24 * 60 + step.minute,
            DIFFICULTY_SEQUENCE_BASE + number,
            officials[ids_by_code[step.by]],
            difficulty_change(step, difficulties[step.difficulty], committee_ids, raised),
        )
        for number, step in enumerate(steps)
    ]
    return len(difficulties), writes


async def _difficulty_places(
    connection: AsyncConnection, ids_by_code: dict[str, int]
) -> tuple[str, str]:
    """Another ward of the demo province, and the first ward of Hồ Chí Minh City (or of
    the last province, should the map change)."""

    async def first_child(parent_code: str, besides: str = "") -> str:
        code = await connection.scalar(
            select(Committee.code)
            .where(Committee.parent_id == ids_by_code[parent_code], Committee.code != besides)
            .order_by(Committee.id)
            .limit(1)
        )
        assert code is not None, parent_code
        return code

    provinces = sorted(
        code for code in ids_by_code if code.startswith("T") and code != CENTRAL_CODE
    )
    other_province = "T79" if "T79" in ids_by_code else provinces[-1]
    return (
        await first_child(DEMO_PROVINCE_CODE, demo_commune_code()),
        await first_child(other_province),
    )
