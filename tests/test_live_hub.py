"""The per-worker live hub (graph/live/hub.py): each committed feed row reaches the
listeners whose subtrees contain it, once, in order, after a replay from their cursor, and
another worker's commit wakes it without polling the feed per listener."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from graph.live.hub import (
    FeedChange,
    FellBehind,
    HubStopped,
    Listener,
    ListenerEnded,
    LiveHub,
    ResyncRequired,
)
from graph.live.wakeups import APPLICATION_NAME
from models.change_feed import append_change, changes_after
from models.database import create_engine
from models.migrate import downgrade_database, upgrade_database
from models.tree import path_depth
from tests.conftest import SIBLING_PROVINCE_CODE, DemoWorld, demo_cell_code

# How long to wait for a row that must come: only a failing test waits this long.
ARRIVES_WITHIN_SECONDS = 5.0
# How long to watch for a row that must not come: routing is synchronous per batch, so
# once a row reached one listener every other listener already has it too.
QUIET_FOR_SECONDS = 0.2
# Long enough that a row arriving fast cannot have come from the safety poll.
NO_SAFETY_POLL_SECONDS = 30.0
CHECK_EVERY_SECONDS = 0.02


@asynccontextmanager
async def running(engine: AsyncEngine, **options: Any) -> AsyncIterator[LiveHub]:
    hub = LiveHub(engine, **options)
    await hub.start()
    try:
        yield hub
    finally:
        await hub.stop()


async def append(engine: AsyncEngine, where: dict[str, Any], *kinds: str) -> None:
    """Append one row per kind at `where`, in one transaction."""
    async with AsyncSession(engine) as session, session.begin():
        for kind in kinds:
            append_change(session, kind=kind, term_id=None, payload={"kind": kind}, **where)


async def place(world: DemoWorld, code: str) -> dict[str, Any]:
    return {
        "committee_id": await world.committee_id(code),
        "committee_path": await world.committee_path(code),
    }


async def receive(listener: Listener, count: int) -> list[FeedChange]:
    return [await asyncio.wait_for(listener.next(), ARRIVES_WITHIN_SECONDS) for _ in range(count)]


async def assert_quiet(listener: Listener) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(listener.next(), QUIET_FOR_SECONDS)


async def until(condition: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(round(ARRIVES_WITHIN_SECONDS / CHECK_EVERY_SECONDS)):
        if await condition():
            return
        await asyncio.sleep(CHECK_EVERY_SECONDS)
    raise AssertionError(f"still not so after {ARRIVES_WITHIN_SECONDS} s")


async def until_read(hub: LiveHub, position: int) -> None:
    """Wake the hub and wait until it has read and fanned out the rows up to `position`."""

    async def has_read() -> bool:
        return hub.position >= position

    hub.wake()
    await until(has_read)


async def test_a_row_reaches_the_listeners_above_it_and_not_a_sibling_province(
    fresh_world: DemoWorld,
) -> None:
    cell = await place(fresh_world, demo_cell_code())
    province = await fresh_world.committee_path("T01")
    sibling = await fresh_world.committee_path(SIBLING_PROVINCE_CODE)
    async with running(fresh_world.engine) as hub:
        above = hub.listen([province])
        at_the_cell = hub.listen([cell["committee_path"]])
        beside = hub.listen([sibling])
        await append(fresh_world.engine, cell, "MILESTONE")
        [change] = await receive(above, 1)
        assert (change.kind, change.committee_path) == ("MILESTONE", cell["committee_path"])
        assert change.committee_id == cell["committee_id"]
        assert change.payload == {"kind": "MILESTONE"}
        assert change.position == hub.position
        assert await receive(at_the_cell, 1) == [change]
        await assert_quiet(beside)
        await assert_quiet(above)


async def test_replay_after_a_cursor_then_live_rows_each_once_in_order(
    fresh_world: DemoWorld,
) -> None:
    cell = await place(fresh_world, demo_cell_code())
    elsewhere = await place(fresh_world, SIBLING_PROVINCE_CODE)
    province = await fresh_world.committee_path("T01")
    async with running(fresh_world.engine) as hub:
        start = hub.position
        await append(fresh_world.engine, cell, "SEEN")
        await until_read(hub, start + 1)
        cursor = hub.position
        await append(fresh_world.engine, cell, "BEFORE-1")
        await append(fresh_world.engine, elsewhere, "OUT-OF-SCOPE")
        await append(fresh_world.engine, cell, "BEFORE-2")
        await until_read(hub, start + 4)
        listener = hub.listen([province], after=cursor)
        # Committed after listen() and read by the hub before the listener's replay read
        # (made by its first next()) runs: the database then holds them too, and they must
        # come once, from the queue.
        await append(fresh_world.engine, cell, "DURING-1", "DURING-2")
        await until_read(hub, start + 6)
        received = await receive(listener, 4)
        await append(fresh_world.engine, cell, "AFTER")
        received += await receive(listener, 1)
        assert [change.kind for change in received] == [
            "BEFORE-1",
            "BEFORE-2",
            "DURING-1",
            "DURING-2",
            "AFTER",
        ]
        positions = [change.position for change in received]
        assert positions == sorted(positions)
        assert positions[0] > cursor
        await assert_quiet(listener)


async def test_a_cursor_ahead_of_this_hub_skips_the_rows_already_seen(
    fresh_world: DemoWorld, backend: str
) -> None:
    """A subscriber that saw rows through another worker comes back through this one,
    which has not read them yet."""
    cell = await place(fresh_world, demo_cell_code())
    province = await fresh_world.committee_path("T01")
    slow = {"poll_seconds": NO_SAFETY_POLL_SECONDS, "safety_poll_seconds": NO_SAFETY_POLL_SECONDS}
    async with running(fresh_world.engine, **slow) as hub:
        start = hub.position
        await append(fresh_world.engine, cell, "SEEN-ELSEWHERE")
        await append(fresh_world.engine, cell, "NEW")
        async with AsyncSession(fresh_world.engine) as session:
            seen, _new = await changes_after(session, start, 2)
        listener = hub.listen([province], after=seen.position)
        if backend == "sqlite":  # nothing woke this hub (on PostgreSQL NOTIFY may have)
            assert hub.position < seen.position
        hub.wake()
        assert [change.kind for change in await receive(listener, 1)] == ["NEW"]
        await assert_quiet(listener)


async def test_a_cursor_too_far_behind_requires_a_resync(fresh_world: DemoWorld) -> None:
    cell = await place(fresh_world, demo_cell_code())
    elsewhere = await place(fresh_world, SIBLING_PROVINCE_CODE)
    province = await fresh_world.committee_path("T01")
    async with running(fresh_world.engine, replay_limit=3) as hub:
        start = hub.position
        await append(fresh_world.engine, elsewhere, *["ELSEWHERE"] * 5)
        await append(fresh_world.engine, cell, "ONE", "TWO", "THREE")
        await until_read(hub, start + 8)
        # Three in scope: within the limit, whatever lies outside the scope.
        within = hub.listen([province], after=start)
        assert [c.kind for c in await receive(within, 3)] == ["ONE", "TWO", "THREE"]
        await append(fresh_world.engine, cell, "FOUR")
        await until_read(hub, start + 9)
        too_far = hub.listen([province], after=start)
        with pytest.raises(ResyncRequired):
            await too_far.next()
        with pytest.raises(ResyncRequired):  # it stays ended, and holds nothing
            await too_far.next()
        assert hub.listener_count == 1
        assert [c.kind for c in await receive(within, 1)] == ["FOUR"]


async def test_a_listener_that_never_reads_is_dropped_and_the_others_go_on(
    fresh_world: DemoWorld,
) -> None:
    cell = await place(fresh_world, demo_cell_code())
    province = await fresh_world.committee_path("T01")
    async with running(fresh_world.engine, queue_limit=3) as hub:
        idle = hub.listen([province])
        reader = hub.listen([cell["committee_path"]])
        await append(fresh_world.engine, cell, "A", "B", "C")
        assert [c.kind for c in await receive(reader, 3)] == ["A", "B", "C"]
        assert hub.listener_count == 2  # three fit
        await append(fresh_world.engine, cell, "D")
        assert [c.kind for c in await receive(reader, 1)] == ["D"]
        assert hub.listener_count == 1
        with pytest.raises(FellBehind):
            await idle.next()
        await append(fresh_world.engine, cell, "E")
        assert [c.kind for c in await receive(reader, 1)] == ["E"]


async def test_another_workers_commit_wakes_the_hub_without_the_safety_poll(
    fresh_world: DemoWorld, backend: str
) -> None:
    """Two engines stand for two workers: a write through B reaches A's listener, woken by
    NOTIFY (PostgreSQL) or PRAGMA data_version (SQLite), no wake() and no safety poll."""
    cell = await place(fresh_world, demo_cell_code())
    province = await fresh_world.committee_path("T01")
    other_worker = create_engine(fresh_world.database_url)
    try:
        async with (
            running(fresh_world.engine, safety_poll_seconds=NO_SAFETY_POLL_SECONDS) as hub_a,
            running(other_worker, safety_poll_seconds=NO_SAFETY_POLL_SECONDS) as hub_b,
        ):
            on_a = hub_a.listen([province])
            on_b = hub_b.listen([province])
            # Each watcher is in place: LISTEN issued, or the first data_version read.
            if backend == "postgresql":
                await until(lambda: _listening(fresh_world.engine, count=2))
            else:
                await asyncio.sleep(QUIET_FOR_SECONDS)
            await append(other_worker, cell, "FROM-B")
            async with asyncio.timeout(2):
                [change] = await receive(on_a, 1)
            assert change.kind == "FROM-B"
            assert await receive(on_b, 1) == [change]
    finally:
        await other_worker.dispose()


async def test_the_listening_connection_comes_back_after_a_drop(
    fresh_world: DemoWorld, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite's watcher has no server connection to lose")
    cell = await place(fresh_world, demo_cell_code())
    province = await fresh_world.committee_path("T01")
    async with running(fresh_world.engine, safety_poll_seconds=NO_SAFETY_POLL_SECONDS) as hub:
        listener = hub.listen([province])
        first = await until_listening(fresh_world.engine)
        async with fresh_world.engine.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        await until(lambda: _listening_other_than(fresh_world.engine, first))
        await append(fresh_world.engine, cell, "AFTER-THE-DROP")
        async with asyncio.timeout(2):
            assert [c.kind for c in await receive(listener, 1)] == ["AFTER-THE-DROP"]
    # stop() closed the listening connection.
    await until(lambda: _listening(fresh_world.engine, count=0))


async def until_listening(engine: AsyncEngine) -> int:
    await until(lambda: _listening_other_than(engine, None))
    [pid] = await _listening_pids(engine)
    return pid


async def _listening_other_than(engine: AsyncEngine, pid: int | None) -> bool:
    return any(found != pid for found in await _listening_pids(engine))


async def _listening(engine: AsyncEngine, count: int) -> bool:
    return len(await _listening_pids(engine)) == count


async def _listening_pids(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as connection:
        found = await connection.scalars(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = :name AND state = 'idle' AND query ILIKE 'LISTEN%'"
            ),
            {"name": APPLICATION_NAME},
        )
        return list(found)


async def test_routing_costs_one_lookup_per_level_whatever_the_listeners(
    fresh_world: DemoWorld,
) -> None:
    cell = await place(fresh_world, demo_cell_code())
    province = await fresh_world.committee_path("T01")
    async with running(fresh_world.engine) as hub:
        for number in range(1000):
            hub.listen([f"/9{number:09d}/"])  # roots of other trees
        listener = hub.listen([province])
        before = hub.index_lookups
        await append(fresh_world.engine, cell, "ONE")
        hub.wake()
        await receive(listener, 1)
        assert hub.index_lookups - before == path_depth(cell["committee_path"]) == 4


async def test_nested_roots_deliver_a_row_once(fresh_world: DemoWorld) -> None:
    cell = await place(fresh_world, demo_cell_code())
    province = await fresh_world.committee_path("T01")
    async with running(fresh_world.engine) as hub:
        listener = hub.listen([cell["committee_path"], province, province])
        assert listener.roots == (province,)
        await append(fresh_world.engine, cell, "ONCE")
        hub.wake()
        assert [c.kind for c in await receive(listener, 1)] == ["ONCE"]
        await assert_quiet(listener)


async def test_batch_watchers_see_every_row_in_batches_until_unsubscribed(
    fresh_world: DemoWorld,
) -> None:
    cell = await place(fresh_world, demo_cell_code())
    batches: list[Sequence[FeedChange]] = []
    async with running(fresh_world.engine, read_batch=2) as hub:
        start = hub.position
        unsubscribe = hub.watch_all(batches.append)
        await append(fresh_world.engine, cell, "1", "2", "3", "4", "5")
        await until_read(hub, start + 5)
        assert [len(batch) for batch in batches] == [2, 2, 1]
        assert [c.kind for batch in batches for c in batch] == ["1", "2", "3", "4", "5"]
        unsubscribe()
        await append(fresh_world.engine, cell, "6")
        await until_read(hub, start + 6)
        assert len(batches) == 3


async def test_ending_a_listener_from_outside_wakes_its_consumer_with_the_reason(
    fresh_world: DemoWorld,
) -> None:
    cell = await place(fresh_world, demo_cell_code())
    province = await fresh_world.committee_path("T01")
    async with running(fresh_world.engine) as hub:
        start = hub.position
        listener = hub.listen([province])
        await append(fresh_world.engine, cell, "A", "B")
        await until_read(hub, start + 2)
        assert [change.kind for change in listener.take_waiting()] == ["A", "B"]
        assert listener.take_waiting() == []
        waiting = asyncio.create_task(listener.next())
        await asyncio.sleep(0)
        listener.end(ListenerEnded("role revoked"))
        listener.end(ListenerEnded("a later reason"))  # the first one stays
        with pytest.raises(ListenerEnded, match="role revoked"):
            await asyncio.wait_for(waiting, ARRIVES_WITHIN_SECONDS)
        assert hub.listener_count == 0


async def test_stopping_ends_waiting_and_closed_listeners(fresh_world: DemoWorld) -> None:
    province = await fresh_world.committee_path("T01")
    hub = LiveHub(fresh_world.engine)
    await hub.start()
    try:
        closed = hub.listen([province])
        waiting = hub.listen([province])
        pending = asyncio.create_task(waiting.next())
        closed.close()
        closed.close()
        assert hub.listener_count == 1
        await asyncio.sleep(0)
    finally:
        await hub.stop()
    with pytest.raises(HubStopped):
        await asyncio.wait_for(pending, ARRIVES_WITHIN_SECONDS)
    with pytest.raises(RuntimeError):
        hub.listen([province])


async def test_the_notify_migration_goes_both_ways(empty_engine: AsyncEngine) -> None:
    if empty_engine.dialect.name != "postgresql":
        pytest.skip("SQLite needs no trigger: the hubs watch PRAGMA data_version")

    async def notifies() -> bool:
        async with empty_engine.connect() as connection:
            body = await connection.scalar(
                text("SELECT prosrc FROM pg_proc WHERE proname = 'change_feed_position'")
            )
        return "pg_notify('change_feed'" in str(body)

    assert await notifies()
    await downgrade_database(empty_engine, "0008")
    assert not await notifies()
    await upgrade_database(empty_engine)
    assert await notifies()
