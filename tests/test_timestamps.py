"""Every moment the API answers carries its offset (UTC), on both databases: SQLite keeps
none, and a client would read a bare local time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from models import Role
from tests.conftest import DemoWorld, demo_commune_code, demo_user
from tests.live_api import PROGRESS_EVENTS, listening, live_server, signed_in
from tests.progress_api import CONGRESS, record
from tests.test_difficulties import DIFFICULTY, comment, raised_id, reporter


def moments(value: Any, key: str = "") -> list[str]:
    """Every string under a key ending in `At` (recordedAt, raisedAt, at...)."""
    if isinstance(value, dict):
        return [found for name, inner in value.items() for found in moments(inner, name)]
    if isinstance(value, list):
        return [found for inner in value for found in moments(inner, key)]
    if isinstance(value, str) and (key.endswith("At") or key == "at"):
        return [value]
    return []


def assert_utc(found: list[str]) -> None:
    assert found
    for text in found:
        assert datetime.fromisoformat(text).utcoffset() == timedelta(0), text


async def test_answers_give_every_moment_with_its_offset(fresh_world: DemoWorld) -> None:
    commune = demo_commune_code()
    recorded = await record(fresh_world, reporter(commune), commune, "plan_issued")
    congress = await fresh_world.client.query(reporter(commune), CONGRESS, code=commune)
    difficulty_id = await raised_id(fresh_world, reporter(commune), commune)
    await comment(fresh_world, reporter(commune), difficulty_id)
    difficulty = await fresh_world.client.query(
        reporter(commune), DIFFICULTY, id=difficulty_id, first=10
    )
    assert_utc(moments(recorded))
    assert_utc(moments(congress))
    assert len(moments(difficulty)) >= 4  # raisedAt, lastActivityAt, each event's at
    assert_utc(moments(difficulty))


async def test_live_events_give_their_moment_with_its_offset(fresh_world: DemoWorld) -> None:
    commune = demo_commune_code()
    token = fresh_world.client.token_for(demo_user(Role.VIEWER, commune))
    async with live_server(fresh_world) as url, signed_in(url, token) as client:
        await client.subscribe("events", PROGRESS_EVENTS)
        await listening(url, 1)
        await record(fresh_world, reporter(commune), commune, "plan_issued")
        event = await client.next_data("events")
    assert_utc(moments(event))
