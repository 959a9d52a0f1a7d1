"""The demo database: the real 34 provinces and 3,321 communes, generated cells below them.

Names and codes come from the `vietnam-provinces` package (the 2025 administrative map).
Everything is deterministic, so the same command builds the same tree, ids included.

Built for a day (`build_demo(..., today=...)`, what `congress demo` does), the term and
every deadline are placed around that day, and each congress is given where it stands on
it (`Placement`): cells hold their congresses first, then communes, provinces, the centre
last. What officials recorded to bring each congress there is domain/demo_activity.py's.
Built without a day (the tests' demo), the deadlines are the fixed dates of `DEADLINES`.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from vietnam_provinces import Province, VietNamDivisionType, Ward

from models.accounts import add_user
from models.base import stamped_at
from models.congress import Congress, ReportDeadline, Term, default_milestone_templates
from models.congress_progress import LOCAL_TIMEZONE
from models.database import advance_id_sequence
from models.progress_summary import DUE_SOON_DAYS
from models.rollup_check import rebuild_statements
from models.text import search_key
from models.tree import Committee, CommitteeKind, child_path
from models.users import Role, User

DEFAULT_CELLS_PER_COMMUNE = 5
INSERT_BATCH_SIZE = 10_000
CURRENT_TERM_CODE = "2025-2030"
CENTRAL_CODE = "TW"
DEMO_PROVINCE_CODE = "T01"  # Hà Nội
# Deadlines by level: cells hold their congresses first, the centre last.
DEADLINES = {
    CommitteeKind.CENTRAL: date(2026, 1, 31),
    CommitteeKind.PROVINCE: date(2025, 10, 31),
    CommitteeKind.COMMUNE: date(2025, 8, 31),
    CommitteeKind.CELL: date(2025, 6, 30),
}

# The demo's levels, top down: a level's depth is its place here (the root is 1).
LEVELS = (CommitteeKind.CENTRAL, CommitteeKind.PROVINCE, CommitteeKind.COMMUNE, CommitteeKind.CELL)
# When each level's reports are due above. Built without a day: a month after the level's
# congresses. Built for a day, in days from it: the cells' a few days ago (so unapproved
# ones show as overdue), each level above after the one below it.
REPORTS_DUE_AFTER_CONGRESSES = timedelta(days=30)
REPORTS_DUE_IN_DAYS = {
    CommitteeKind.CELL: -3,
    CommitteeKind.COMMUNE: 10,
    CommitteeKind.PROVINCE: 30,
    CommitteeKind.CENTRAL: 60,
}


def report_deadlines(term_id: int, today: date | None) -> list[ReportDeadline]:
    """The demo term's report deadlines, one per level."""
    return [
        ReportDeadline(
            term_id=term_id,
            depth=depth,
            due_on=DEADLINES[kind] + REPORTS_DUE_AFTER_CONGRESSES
            if today is None
            else today + timedelta(days=REPORTS_DUE_IN_DAYS[kind]),
        )
        for depth, kind in enumerate(LEVELS, start=1)
    ]


# Built for a day: the accounts were opened this long before it, and everything officials
# recorded happened between then and the day before it.
ACCOUNTS_OPENED_DAYS_BEFORE = 200
# Golden ratio conjugate: the n-th committee of a level takes its standing at n times this
# (mod 1) along the level's mix, so even 34 provinces show every standing in proportion.
_SPREAD = 0.6180339887498949


class Standing(StrEnum):
    """Where a congress stands on the day the demo is built."""

    COMPLETED = "completed"  # held, results recorded and reported
    HELD = "held"  # held, the results not reported yet (recorded, unless held yesterday)
    DUE_SOON = "due_soon"  # preparing, the deadline within two weeks
    UPCOMING = "upcoming"  # preparing or not started, the deadline further ahead
    OVERDUE = "overdue"  # the deadline passed, stalled at some step


@dataclass(frozen=True, slots=True)
class Placement:
    """A congress's standing, and its deadline in days from the day the demo is built."""

    standing: Standing
    deadline_in_days: int


@dataclass(frozen=True, slots=True)
class LevelPlan:
    """A level's share of each standing, and the range its deadlines fall in for each."""

    mix: tuple[tuple[Standing, float], ...]
    deadlines: dict[Standing, tuple[int, int]]


# Cells' deadlines are mostly past and most of them held; communes' fall around the day,
# provinces' weeks ahead, the centre's months ahead. Overdue is everywhere a minority.
LEVEL_PLANS = {
    CommitteeKind.CELL: LevelPlan(
        mix=(
            (Standing.COMPLETED, 0.60),
            (Standing.HELD, 0.18),
            (Standing.DUE_SOON, 0.09),
            (Standing.UPCOMING, 0.06),
            (Standing.OVERDUE, 0.07),
        ),
        deadlines={
            Standing.COMPLETED: (-85, 0),
            Standing.HELD: (-30, 10),
            Standing.DUE_SOON: (0, DUE_SOON_DAYS),
            Standing.UPCOMING: (DUE_SOON_DAYS + 1, 35),
            Standing.OVERDUE: (-45, -1),
        },
    ),
    CommitteeKind.COMMUNE: LevelPlan(
        mix=(
            (Standing.COMPLETED, 0.20),
            (Standing.HELD, 0.15),
            (Standing.DUE_SOON, 0.28),
            (Standing.UPCOMING, 0.29),
            (Standing.OVERDUE, 0.08),
        ),
        deadlines={
            Standing.COMPLETED: (-35, 0),
            Standing.HELD: (-20, 10),
            Standing.DUE_SOON: (0, DUE_SOON_DAYS),
            Standing.UPCOMING: (DUE_SOON_DAYS + 1, 45),
            Standing.OVERDUE: (-21, -1),
        },
    ),
    CommitteeKind.PROVINCE: LevelPlan(
        mix=(
            (Standing.COMPLETED, 0.09),
            (Standing.HELD, 0.09),
            (Standing.DUE_SOON, 0.21),
            (Standing.UPCOMING, 0.52),
            (Standing.OVERDUE, 0.09),
        ),
        deadlines={
            Standing.COMPLETED: (-20, 0),
            Standing.HELD: (-12, 7),
            Standing.DUE_SOON: (0, DUE_SOON_DAYS),
            Standing.UPCOMING: (DUE_SOON_DAYS + 1, 75),
            Standing.OVERDUE: (-10, -1),
        },
    ),
    CommitteeKind.CENTRAL: LevelPlan(
        mix=((Standing.UPCOMING, 1.0),), deadlines={Standing.UPCOMING: (100, 140)}
    ),
}


@dataclass(frozen=True, slots=True)
class DemoTerm:
    code: str
    name: str
    starts_on: date
    ends_on: date

    @classmethod
    def fixed(cls) -> DemoTerm:
        return cls(CURRENT_TERM_CODE, "Nhiệm kỳ 2025-2030", date(2025, 1, 1), date(2030, 12, 31))

    @classmethod
    def around(cls, today: date) -> DemoTerm:
        """The five-year term whose congresses are under way on `today`: it began in the
        year a year before (2025-2030 for any day of 2026), so everything the demo records
        falls inside it, and so do the centre's deadline months ahead."""
        first = (today - timedelta(days=365)).year
        code = f"{first}-{first + 5}"
        return cls(code, f"Nhiệm kỳ {code}", date(first, 1, 1), date(first + 5, 12, 31))


def local_moment(day: date, minute_of_day: int) -> datetime:
    """A moment in Vietnam's time (the party's calendar), in UTC as everything is stored."""
    local = datetime.combine(day, time(), tzinfo=LOCAL_TIMEZONE) + timedelta(minutes=minute_of_day)
    return local.astimezone(UTC)


def accounts_opened_at(today: date) -> datetime:
    """When the demo's accounts were opened: at 08:00, months before `today`."""
    return local_moment(today - timedelta(days=ACCOUNTS_OPENED_DAYS_BEFORE), 8 * 60)


def demo_place_placements() -> dict[str, Placement]:
    """The demo users' places stand where each shows something: the centre months from its
    deadline, Hà Nội weeks, its first ward days, and that ward's cells one of each."""
    commune = demo_commune_code()
    return {
        CENTRAL_CODE: Placement(Standing.UPCOMING, 120),
        DEMO_PROVINCE_CODE: Placement(Standing.UPCOMING, 28),
        commune: Placement(Standing.DUE_SOON, 6),
        f"{commune}-001": Placement(Standing.COMPLETED, -35),
        f"{commune}-002": Placement(Standing.HELD, -12),
        f"{commune}-003": Placement(Standing.DUE_SOON, 5),
        f"{commune}-004": Placement(Standing.OVERDUE, -7),
        f"{commune}-005": Placement(Standing.COMPLETED, -50),
    }


def placement(code: str, kind: CommitteeKind, ordinal: int) -> Placement:
    """Where the congress of the `ordinal`-th committee (0 first) of its level stands: its
    standing from the level's mix, its deadline drawn (by its code) from that standing's
    range. A pure function: the builder and the activity compute the same placements."""
    plan = LEVEL_PLANS.get(kind, LEVEL_PLANS[CommitteeKind.COMMUNE])
    position = ((ordinal + 1) * _SPREAD) % 1.0
    standing = plan.mix[-1][0]
    for candidate, share in plan.mix:
        if position < share:
            standing = candidate
            break
        position -= share
    low, high = plan.deadlines[standing]
    return Placement(standing, random.Random(f"deadline {code}").randint(low, high))


class Placements:
    """The placements of the committees in tree order (ids ascending), counting each
    level's ordinals as they come; the demo users' places stand where they are put."""

    def __init__(self) -> None:
        self._ordinals: dict[CommitteeKind, int] = {}
        self._demo_places = demo_place_placements()

    def next(self, code: str, kind: CommitteeKind) -> Placement:
        ordinal = self._ordinals.get(kind, 0)
        self._ordinals[kind] = ordinal + 1
        return self._demo_places.get(code) or placement(code, kind, ordinal)


class DemoAlreadyBuiltError(Exception):
    """The database already holds a tree; the demo only builds into an empty one."""


@dataclass(frozen=True, slots=True)
class DemoUser:
    subject: str
    display_name: str
    role: Role
    committee_code: str


@dataclass(frozen=True, slots=True)
class CommitteeSeed:
    id: int
    parent_id: int | None
    code: str
    name: str
    kind: CommitteeKind
    path: str
    depth: int

    def as_row(self) -> dict[str, object]:
        return {
            "id": self.id,
            "parent_id": self.parent_id,
            "code": self.code,
            "name": self.name,
            "search_name": search_key(self.name),
            "kind": self.kind,
            "path": self.path,
            "depth": self.depth,
        }


def province_committee_name(province: Province) -> str:
    if province.division_type is VietNamDivisionType.THANH_PHO_TRUNG_UONG:
        return "Thành ủy " + province.name.removeprefix("Thành phố ")
    return "Tỉnh ủy " + province.name.removeprefix("Tỉnh ")


def demo_tree(
    cells_per_commune: int, communes_per_province: int | None = None
) -> Iterator[CommitteeSeed]:
    """Central, then each province followed by its communes, each commune by its cells;
    with `communes_per_province`, only each province's first communes (a smaller tree)."""
    next_id = 1

    def seed(
        parent: CommitteeSeed | None, code: str, name: str, kind: CommitteeKind
    ) -> CommitteeSeed:
        nonlocal next_id
        committee_id, next_id = next_id, next_id + 1
        path = child_path(parent.path if parent else None, committee_id)
        depth = parent.depth + 1 if parent else 1
        return CommitteeSeed(
            committee_id, parent.id if parent else None, code, name, kind, path, depth
        )

    wards_by_province: dict[int, list[Ward]] = {}
    for ward in Ward.iter_all():
        wards_by_province.setdefault(int(ward.province_code), []).append(ward)

    central = seed(None, CENTRAL_CODE, "Ban Chấp hành Trung ương", CommitteeKind.CENTRAL)
    yield central
    for province in sorted(Province.iter_all(), key=lambda p: int(p.code)):
        province_seed = seed(
            central,
            f"T{int(province.code):02d}",
            province_committee_name(province),
            CommitteeKind.PROVINCE,
        )
        yield province_seed
        for ward in sorted(
            wards_by_province.get(int(province.code), []), key=lambda w: int(w.code)
        )[:communes_per_province]:
            ward_code = f"X{int(ward.code):05d}"
            commune = seed(province_seed, ward_code, f"Đảng ủy {ward.name}", CommitteeKind.COMMUNE)
            yield commune
            for number in range(1, cells_per_commune + 1):
                yield seed(
                    commune,
                    f"{ward_code}-{number:03d}",
                    f"Chi bộ số {number} – {ward.name}",
                    CommitteeKind.CELL,
                )


def demo_commune_code() -> str:
    """The demo province's first commune, where the demo users below the province sit."""
    return f"X{min(int(w.code) for w in Ward.iter_all() if int(w.province_code) == 1):05d}"


# The roles the demo had first, in the order their subjects were numbered.
FIRST_ROLES = (Role.VIEWER, Role.REPORTER, Role.ADMIN)


def demo_users(cells_per_commune: int = DEFAULT_CELLS_PER_COMMUNE) -> list[DemoUser]:
    """One user per role at the centre, Hà Nội, its first commune and that commune's first cell."""
    first_commune = demo_commune_code()
    places = [
        (CENTRAL_CODE, "Trung ương"),
        (DEMO_PROVINCE_CODE, "Hà Nội"),
        (first_commune, "xã/phường"),
        (f"{first_commune}-001", "chi bộ"),
    ][: 4 if cells_per_commune > 0 else 3]
    users = []
    # Subjects by place, then role: the three first roles keep the serials they had before
    # the approver existed (1-12); the approvers come after (13-16).
    for serial, ((code, place), role) in enumerate(
        [
            *((place, role) for place in places for role in FIRST_ROLES),
            *((place, Role.APPROVER) for place in places),
        ],
        start=1,
    ):
        users.append(
            DemoUser(
                # 12 digits, shaped like a citizen identification number.
                subject=f"0010900{serial:05d}",
                display_name=f"Cán bộ {role.value} {place}",
                role=role,
                committee_code=code,
            )
        )
    return users


def demo_user_subject(role: Role, committee_code: str) -> str:
    """The subject of the demo user with `role` at the committee `committee_code`."""
    return next(
        user.subject
        for user in demo_users()
        if user.role is role and user.committee_code == committee_code
    )


async def stored_demo_users(engine: AsyncEngine) -> list[DemoUser]:
    """The demo users present in an existing database, to print their tokens again."""
    async with engine.connect() as connection:
        subjects = set(await connection.scalars(select(User.subject).where(User.is_active)))
    return [user for user in demo_users() if user.subject in subjects]


async def database_is_empty(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        return not await connection.scalar(select(func.count()).select_from(Committee))


async def build_demo(
    engine: AsyncEngine,
    cells_per_commune: int = DEFAULT_CELLS_PER_COMMUNE,
    progress: Callable[[int], None] | None = None,
    *,
    today: date | None = None,
    communes_per_province: int | None = None,
) -> list[DemoUser]:
    """Fill an empty, migrated database with the demo tree, term, congresses and users.

    With `today`, the term is the one around it and every deadline is placed relative to
    it (`placement`), ready for domain.demo_activity to record how each congress got
    there; without, the term is `CURRENT_TERM_CODE` and the deadlines `DEADLINES`.
    `communes_per_province` keeps only each province's first communes (tests)."""
    if not await database_is_empty(engine):
        raise DemoAlreadyBuiltError("the database already holds a committee tree")
    term = DemoTerm.fixed() if today is None else DemoTerm.around(today)
    async with engine.begin() as connection:
        term_id = await connection.scalar(
            insert(Term)
            .values(
                code=term.code,
                name=term.name,
                starts_on=term.starts_on,
                ends_on=term.ends_on,
                is_current=True,
                # The demo built for a day shows reports going up the tree level by level;
                # the bare tree (the tests') lets any report go up on its own.
                require_children_approved=today is not None,
            )
            .returning(Term.id)
        )
        assert term_id is not None
        committee_batch: list[dict[str, object]] = []
        congress_batch: list[dict[str, object]] = []
        placements = Placements() if today is not None else None
        for seed in demo_tree(cells_per_commune, communes_per_province):
            committee_batch.append(seed.as_row())
            if today is None or placements is None:
                deadline = DEADLINES.get(seed.kind)
            else:
                placed = placements.next(seed.code, seed.kind)
                deadline = today + timedelta(days=placed.deadline_in_days)
            congress_batch.append(
                {"committee_id": seed.id, "term_id": term_id, "deadline": deadline}
            )
            if len(committee_batch) >= INSERT_BATCH_SIZE:
                await _insert_batches(connection, committee_batch, congress_batch, progress)
        await _insert_batches(connection, committee_batch, congress_batch, progress)
        await advance_id_sequence(connection, "committee")
        for statement in rebuild_statements():
            await connection.execute(statement)
    users = demo_users(cells_per_commune)
    # Built for a day, the accounts are as old as the activity they record.
    with stamped_at(accounts_opened_at(today)) if today is not None else nullcontext():
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            session.add_all(default_milestone_templates(term_id))
            session.add_all(report_deadlines(term_id, today))
            codes = {user.committee_code for user in users}
            ids_by_code = dict(
                (
                    await session.execute(
                        select(Committee.code, Committee.id).where(Committee.code.in_(codes))
                    )
                ).all()
            )
            for user in users:
                await add_user(
                    session,
                    user.subject,
                    user.display_name,
                    [(ids_by_code[user.committee_code], user.role)],
                )
    return users


async def _insert_batches(
    connection: AsyncConnection,
    committees: list[dict[str, object]],
    congresses: list[dict[str, object]],
    progress: Callable[[int], None] | None,
) -> None:
    if not committees:
        return
    await connection.execute(insert(Committee), committees)
    await connection.execute(insert(Congress), congresses)
    if progress is not None:
        progress(len(committees))
    committees.clear()
    congresses.clear()


def demo_size(cells_per_commune: int, communes_per_province: int | None = None) -> int:
    """How many committees `demo_tree(cells_per_commune, communes_per_province)` yields."""
    provinces = sum(1 for _ in Province.iter_all())
    communes = Counter(int(ward.province_code) for ward in Ward.iter_all())
    kept = sum(min(count, communes_per_province or count) for count in communes.values())
    return 1 + provinces + kept * (1 + cells_per_commune)
