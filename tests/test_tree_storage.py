"""Materialized paths: the helpers, and that a subtree read really is an index range scan."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.sql.expression import ClauseElement

from models import Committee, Role
from models.text import search_key
from models.tree import (
    child_path,
    path_depth,
    path_ids,
    path_prefixes,
    path_upper_bound,
    subtree_condition,
)
from permissions.scope import Scope
from permissions.viewer import ACTIVE_USER_WITH_GRANTS
from tests.conftest import DemoWorld, demo_user


def test_path_helpers() -> None:
    path = child_path(child_path(child_path(None, 1), 53), 1200)
    assert path == "/0000000001/0000000053/0000001200/"
    assert path_ids(path) == [1, 53, 1200]
    assert path_depth(path) == 3
    assert path_prefixes(path) == [child_path(None, 1), child_path(child_path(None, 1), 53), path]


def test_path_order_is_id_order_among_siblings() -> None:
    root = child_path(None, 1)
    siblings = [child_path(root, committee_id) for committee_id in (2, 10, 100, 1_000_000)]
    assert sorted(siblings) == siblings


def test_upper_bound_excludes_siblings_with_longer_ids() -> None:
    upper = path_upper_bound("/1/53/")
    assert upper > "/1/53/"
    assert upper > "/1/53/999999/"
    assert upper <= "/1/530/"
    assert upper <= "/1/54/"


def test_scope_keeps_only_outermost_roots() -> None:
    scope = Scope.from_paths(["/1/2/3/", "/1/2/", "/1/5/", "/1/50/"])
    assert scope.root_paths == ("/1/2/", "/1/5/", "/1/50/")
    assert scope.contains("/1/2/3/4/")
    assert not scope.contains("/1/")
    assert not scope.contains("/1/500/")
    assert scope.visible_lineage("/1/2/3/") == ["/1/2/", "/1/2/3/"]


def test_search_key_folds_case_accents_and_d() -> None:
    assert search_key("Thành ủy  Hà Nội") == "thanh uy ha noi"
    assert search_key("ĐẢNG ỦY Phường Đống Đa") == "dang uy phuong dong da"


async def plan_of(world: DemoWorld, statement: ClauseElement) -> tuple[str, str]:
    """The database's name and its plan for `statement`. PostgreSQL is told not to scan
    whole tables: the demo's are small enough that a scan may be cheaper, and what these
    tests check is that an index *can* serve the read."""
    async with world.engine.connect() as connection:
        compiled = statement.compile(
            connection.sync_connection, compile_kwargs={"literal_binds": True}
        )
        if connection.dialect.name == "postgresql":
            await connection.execute(text("SET enable_seqscan = off"))
            plan = "\n".join(await connection.scalars(text(f"EXPLAIN {compiled}")))
        else:
            rows = await connection.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
            plan = "\n".join(str(row[-1]) for row in rows)
        return connection.dialect.name, plan


async def test_subtree_read_is_an_index_range_scan(demo_world: DemoWorld) -> None:
    root_path = await demo_world.committee_path("T01")
    statement = select(Committee.id).where(subtree_condition(Committee.path, root_path))
    database, plan = await plan_of(demo_world, statement)
    if database == "postgresql":
        # It could not under a linguistic collation.
        assert "uq_committee_path" in plan, plan
    else:
        # SQLite names the unique constraint's index itself (sqlite_autoindex_...).
        assert "INDEX" in plan, plan
        assert "(path>? AND path<?)" in plan, plan


async def test_signing_in_finds_each_assignments_path_by_its_committee_key(
    demo_world: DemoWorld,
) -> None:
    """The read every request starts with probes the committee's key for each assignment,
    never a join that walks the committee table (bench/live.py met a merge join that took
    5.8 s at a million committees for a user assigned at a high id)."""
    statement = ACTIVE_USER_WITH_GRANTS.params(subject=demo_user(Role.VIEWER, "T01"))
    database, plan = await plan_of(demo_world, statement)
    if database == "postgresql":
        assert "Index Scan using pk_committee on committee" in plan, plan
        assert "Index Cond: (id = assignment.committee_id)" in plan, plan
        assert "Merge Join" not in plan, plan
    else:
        assert "SEARCH committee USING INTEGER PRIMARY KEY" in plan, plan
