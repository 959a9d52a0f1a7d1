"""The demo database: the real 34 provinces and 3,321 communes, generated cells below them.

Names and codes come from the `vietnam-provinces` package (the 2025 administrative map).
Everything is deterministic, so the same command builds the same tree, ids included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from vietnam_provinces import Province, VietNamDivisionType, Ward

from models.accounts import add_user
from models.congress import Congress, Term, default_milestone_templates
from models.database import advance_id_sequence
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


def demo_tree(cells_per_commune: int) -> Iterator[CommitteeSeed]:
    """Central, then each province followed by its communes, each commune by its cells."""
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
        ):
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


def demo_users(cells_per_commune: int = DEFAULT_CELLS_PER_COMMUNE) -> list[DemoUser]:
    """One user per role at the centre, Hà Nội, its first commune and that commune's first cell."""
    first_commune = f"X{min(int(w.code) for w in Ward.iter_all() if int(w.province_code) == 1):05d}"
    places = [
        (CENTRAL_CODE, "Trung ương"),
        (DEMO_PROVINCE_CODE, "Hà Nội"),
        (first_commune, "xã/phường"),
        (f"{first_commune}-001", "chi bộ"),
    ][: 4 if cells_per_commune > 0 else 3]
    users = []
    for place_number, (code, place) in enumerate(places):
        for role_number, role in enumerate(Role):
            serial = place_number * len(Role) + role_number + 1
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
) -> list[DemoUser]:
    """Fill an empty, migrated database with the demo tree, term, congresses and users."""
    if not await database_is_empty(engine):
        raise DemoAlreadyBuiltError("the database already holds a committee tree")
    async with engine.begin() as connection:
        term_id = await connection.scalar(
            insert(Term)
            .values(
                code=CURRENT_TERM_CODE,
                name="Nhiệm kỳ 2025-2030",
                starts_on=date(2025, 1, 1),
                ends_on=date(2030, 12, 31),
                is_current=True,
            )
            .returning(Term.id)
        )
        assert term_id is not None
        committee_batch: list[dict[str, object]] = []
        congress_batch: list[dict[str, object]] = []
        for seed in demo_tree(cells_per_commune):
            committee_batch.append(seed.as_row())
            congress_batch.append(
                {"committee_id": seed.id, "term_id": term_id, "deadline": DEADLINES.get(seed.kind)}
            )
            if len(committee_batch) >= INSERT_BATCH_SIZE:
                await _insert_batches(connection, committee_batch, congress_batch, progress)
        await _insert_batches(connection, committee_batch, congress_batch, progress)
        await advance_id_sequence(connection, "committee")
        for statement in rebuild_statements():
            await connection.execute(statement)
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        session.add_all(default_milestone_templates(term_id))
        users = demo_users(cells_per_commune)
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


def demo_size(cells_per_commune: int) -> int:
    """How many committees `demo_tree(cells_per_commune)` yields."""
    provinces = sum(1 for _ in Province.iter_all())
    communes = sum(1 for _ in Ward.iter_all())
    return 1 + provinces + communes * (1 + cells_per_commune)
