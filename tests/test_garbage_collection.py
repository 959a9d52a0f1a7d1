"""Full collections in a serving worker: only once its memory has grown by the budget over
its lowest point, or once the longest interval has passed."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import httpx
import pytest

from graph.app import create_app
from graph.garbage_collection import OldGarbage, resident_bytes
from graph.observability.metrics import full_collection_seconds
from tests.conftest import DemoWorld

MIB = 2**20


class Cyclic:
    """An object only the collector can free: it refers to itself."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def collector_off() -> Iterator[None]:
    # So that only OldGarbage collects, whatever this process's thresholds.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class FakeMemory:
    def __init__(self) -> None:
        self.bytes = 100 * MIB

    def __call__(self) -> int:
        return self.bytes


class FakeClock:
    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> float:
        return self.seconds


def garbage() -> weakref.ref[Cyclic]:
    """A cycle left for the collector; the reference says whether it was freed."""
    return weakref.ref(Cyclic())


def test_garbage_waits_until_memory_grows_by_the_budget(collector_off: None) -> None:
    memory = FakeMemory()
    old_garbage = OldGarbage(64 * MIB, memory, max_seconds=600, clock=FakeClock())
    left = garbage()
    memory.bytes += 63 * MIB
    assert old_garbage.check() is False
    assert left() is not None
    collections_before = full_collection_seconds.count()
    memory.bytes += 1 * MIB
    assert old_garbage.check() is True
    assert left() is None
    assert full_collection_seconds.count() == collections_before + 1
    # The budget counts again from the memory after the collection.
    assert old_garbage.check() is False
    memory.bytes += 64 * MIB
    assert old_garbage.check() is True


def test_growth_counts_from_the_lowest_memory_seen(collector_off: None) -> None:
    # Memory given back (subscribers gone) lowers the mark: garbage may not refill it.
    memory = FakeMemory()
    old_garbage = OldGarbage(64 * MIB, memory, max_seconds=600, clock=FakeClock())
    memory.bytes -= 50 * MIB
    assert old_garbage.check() is False
    left = garbage()
    memory.bytes += 60 * MIB  # 10 MiB above where it started, 60 above the lowest
    assert old_garbage.check() is False
    memory.bytes += 4 * MIB
    assert old_garbage.check() is True
    assert left() is None


def test_garbage_is_collected_at_least_every_max_seconds(collector_off: None) -> None:
    # Freed memory is kept by the allocator for reuse: garbage refilling it never grows
    # the resident memory, so time bounds it too.
    memory, clock = FakeMemory(), FakeClock()
    old_garbage = OldGarbage(64 * MIB, memory, max_seconds=600, clock=clock)
    left = garbage()
    clock.seconds = 599
    assert old_garbage.check() is False
    assert left() is not None
    clock.seconds = 600
    assert old_garbage.check() is True
    assert left() is None
    clock.seconds = 1199
    assert old_garbage.check() is False


async def test_a_running_watch_collects_within_its_interval(collector_off: None) -> None:
    memory = FakeMemory()
    old_garbage = OldGarbage(1 * MIB, memory)
    left = garbage()
    watching = asyncio.create_task(old_garbage.run(interval_seconds=0.01))
    try:
        await asyncio.sleep(0.05)
        assert left() is not None
        memory.bytes += 2 * MIB
        for _ in range(100):
            if left() is None:
                break
            await asyncio.sleep(0.01)
        assert left() is None
    finally:
        watching.cancel()
        with suppress(asyncio.CancelledError):
            await watching


async def test_the_app_runs_its_collector_while_it_serves_and_stops_it_after(
    demo_world: DemoWorld, collector_off: None
) -> None:
    memory = FakeMemory()
    app = create_app(demo_world.settings, engine=demo_world.engine)
    app.old_garbage = OldGarbage(1 * MIB, memory)
    tasks_before = {task.get_name() for task in asyncio.all_tasks()}
    async with app.router.lifespan_context(app):
        running = [
            task for task in asyncio.all_tasks() if task.get_name() == "congress-old-garbage"
        ]
        assert len(running) == 1
        left = garbage()
        memory.bytes += 2 * MIB
        for _ in range(300):  # checked every second
            if left() is None:
                break
            await asyncio.sleep(0.01)
        assert left() is None
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as http:
            assert (await http.get("/health")).status_code == 200
    assert running[0].done()
    assert "congress-old-garbage" not in tasks_before


def test_an_app_built_for_tests_keeps_cpythons_collector(demo_world: DemoWorld) -> None:
    assert create_app(demo_world.settings, engine=demo_world.engine).old_garbage is None


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads /proc (Linux)")
def test_resident_memory_is_this_processs() -> None:
    before = resident_bytes()
    held = bytearray(64 * MIB)  # zero-filled, so resident
    assert resident_bytes() - before >= 60 * MIB
    del held
