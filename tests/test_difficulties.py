"""Difficulties: raised at a unit, escalated one level at a time up to the centre (by hand or
automatically when nobody answers), resolved by the level handling them or one above; each
level's inbox shows what it handles, and other branches see nothing."""

from __future__ import annotations

import asyncio
import base64
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from cli.main import main
from config import Settings
from graph.app import create_app
from models import (
    AuditEntry,
    Committee,
    Difficulty,
    DifficultyCategory,
    DifficultyEvent,
    DifficultyEventKind,
    Role,
    User,
)
from models.audit import Actor
from models.base import utc_now
from models.database import create_engine, create_session_factory
from models.demo import CENTRAL_CODE, DEMO_PROVINCE_CODE
from models.difficulties import (
    AUTO_ESCALATION,
    escalate_overdue,
    escalate_overdue_periodically,
    raise_difficulty,
)
from tests.admin_api import AUDIT_LOG, CREATE_USER, ERRORS, committee_gid, mutate
from tests.api import counted_statements
from tests.conftest import (
    SIBLING_VIEWER,
    DemoWorld,
    demo_cell_code,
    demo_commune_code,
    demo_user,
)

CELL = demo_cell_code()
COMMUNE = demo_commune_code()
PROVINCE = DEMO_PROVINCE_CODE
CENTRE = CENTRAL_CODE
LEVELS = (CELL, COMMUNE, PROVINCE, CENTRE)
CENTRAL_ADMIN = demo_user(Role.ADMIN, CENTRE)
# A reporter at the commune next to the demo commune, created by `sibling_commune_reporter`.
SIBLING_COMMUNE_REPORTER = "001600000001"
MISSING_DIFFICULTY = base64.b64encode(b"Difficulty:99999999").decode()

DIFFICULTY_FIELDS = """id title description category status version raisedBy raisedAt
  lastActivityAt resolvedAt resolution committee { code } handlingCommittee { code }"""
RESULT = f"""__typename
  ... on DifficultyPayload {{ recordedVersion replayed difficulty {{ {DIFFICULTY_FIELDS} }} }}
  ... on VersionConflict {{ message currentVersion }}
  ...Errors"""
RAISE_DIFFICULTY = f"""mutation($input: RaiseDifficultyInput!) {{
  raiseDifficulty(input: $input) {{ {RESULT} }} }} {ERRORS}"""
COMMENT_DIFFICULTY = f"""mutation($input: CommentDifficultyInput!) {{
  commentDifficulty(input: $input) {{ {RESULT} }} }} {ERRORS}"""
ESCALATE_DIFFICULTY = f"""mutation($input: EscalateDifficultyInput!) {{
  escalateDifficulty(input: $input) {{ {RESULT} }} }} {ERRORS}"""
RESOLVE_DIFFICULTY = f"""mutation($input: ResolveDifficultyInput!) {{
  resolveDifficulty(input: $input) {{ {RESULT} }} }} {ERRORS}"""
DIFFICULTIES = """query($under: ID, $status: DifficultyStatus, $handledAt: ID, $first: Int, $after: String) {
  difficulties(under: $under, status: $status, handledAt: $handledAt, first: $first, after: $after) {
    totalCount nodes { id title handlingCommittee { code } } pageInfo { hasNextPage endCursor } } }"""
DIFFICULTY = f"""query($id: ID!, $first: Int, $after: String) {{ difficulty(id: $id) {{ {DIFFICULTY_FIELDS}
  events(first: $first, after: $after) {{
    totalCount pageInfo {{ hasNextPage endCursor }}
    nodes {{ id kind body actorSubject at fromCommittee {{ code }} toCommittee {{ code }} }} }} }} }}"""


def reporter(code: str) -> str:
    return demo_user(Role.REPORTER, code)


def viewer(code: str) -> str:
    return demo_user(Role.VIEWER, code)


async def raise_at(
    world: DemoWorld, subject: str, code: str, title: str = "Thiếu hội trường", **fields: Any
) -> dict[str, Any]:
    """raiseDifficulty at the committee `code`; its result (payload or error)."""
    fields = {"description": "", "category": "FACILITIES", **fields}
    return await mutate(
        world,
        subject,
        RAISE_DIFFICULTY,
        committeeId=await committee_gid(world, code),
        title=title,
        **fields,
    )


async def raised_id(
    world: DemoWorld, subject: str, code: str, title: str = "Thiếu hội trường"
) -> str:
    result = await raise_at(world, subject, code, title)
    assert result["__typename"] == "DifficultyPayload", result
    return str(result["difficulty"]["id"])


async def escalate(
    world: DemoWorld, subject: str, difficulty_id: str, **fields: Any
) -> dict[str, Any]:
    return await mutate(world, subject, ESCALATE_DIFFICULTY, difficultyId=difficulty_id, **fields)


async def comment(
    world: DemoWorld, subject: str, difficulty_id: str, body: str = "Đang xử lý", **fields: Any
) -> dict[str, Any]:
    return await mutate(
        world, subject, COMMENT_DIFFICULTY, difficultyId=difficulty_id, body=body, **fields
    )


async def resolve(
    world: DemoWorld, subject: str, difficulty_id: str, resolution: str = "Đã bố trí", **fields: Any
) -> dict[str, Any]:
    return await mutate(
        world,
        subject,
        RESOLVE_DIFFICULTY,
        difficultyId=difficulty_id,
        resolution=resolution,
        **fields,
    )


async def listed(world: DemoWorld, subject: str, **variables: Any) -> list[str]:
    """Titles of `difficulties(...)` as `subject` sees them, newest first."""
    data = await world.client.query(subject, DIFFICULTIES, first=100, **variables)
    connection = data["difficulties"]
    assert connection["totalCount"] == len(connection["nodes"])
    return [node["title"] for node in connection["nodes"]]


async def inbox(world: DemoWorld, code: str, status: str | None = "OPEN") -> list[str]:
    """What the committee `code` handles now, read by that committee's viewer."""
    return await listed(
        world, viewer(code), handledAt=await committee_gid(world, code), status=status
    )


async def every_inbox(world: DemoWorld) -> dict[str, list[str]]:
    return {code: await inbox(world, code) for code in LEVELS}


async def read(world: DemoWorld, subject: str, difficulty_id: str) -> dict[str, Any] | None:
    data = await world.client.query(subject, DIFFICULTY, id=difficulty_id, first=50)
    found: dict[str, Any] | None = data["difficulty"]
    return found


async def history(world: DemoWorld, difficulty_id: str) -> list[tuple[str, str | None, str | None]]:
    """(kind, from, to) of each event, as the central admin reads them."""
    found = await read(world, CENTRAL_ADMIN, difficulty_id)
    assert found is not None
    return [
        (
            node["kind"],
            (node["fromCommittee"] or {}).get("code"),
            (node["toCommittee"] or {}).get("code"),
        )
        for node in found["events"]["nodes"]
    ]


async def sibling_commune(world: DemoWorld) -> str:
    data = await world.client.query(
        CENTRAL_ADMIN,
        "query($p: ID!) { committees(under: $p, depth: 3, first: 2) { nodes { code } } }",
        p=await committee_gid(world, PROVINCE),
    )
    return next(
        str(node["code"]) for node in data["committees"]["nodes"] if node["code"] != COMMUNE
    )


async def sibling_commune_reporter(world: DemoWorld) -> str:
    """A reporter at the demo commune's sibling, created as an admin would."""
    created = await mutate(
        world,
        CENTRAL_ADMIN,
        CREATE_USER,
        subject=SIBLING_COMMUNE_REPORTER,
        name="Cán bộ xã bên cạnh",
        committeeId=await committee_gid(world, await sibling_commune(world)),
        role="REPORTER",
    )
    assert created["__typename"] == "CreateUserPayload", created
    return SIBLING_COMMUNE_REPORTER


async def count_rows(
    world: DemoWorld, model: type[AuditEntry | Difficulty | DifficultyEvent]
) -> int:
    async with world.engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(model)) or 0)


async def assert_outsiders_see_nothing(world: DemoWorld, difficulty_id: str, sibling: str) -> None:
    """The sibling province and the sibling commune: no list entry, no object, NotFound."""
    for outsider in (SIBLING_VIEWER, sibling):
        assert await listed(world, outsider) == []
        assert await read(world, outsider, difficulty_id) is None
    assert await comment(world, sibling, difficulty_id) == await comment(
        world, sibling, MISSING_DIFFICULTY
    )


async def test_a_difficulty_raised_at_a_cell_is_seen_at_the_cell_and_above(
    fresh_world: DemoWorld,
) -> None:
    result = await raise_at(
        fresh_world,
        reporter(CELL),
        CELL,
        "  Thiếu   hội trường ",
        description=" Hội trường đang sửa. ",
        category="FACILITIES",
    )
    assert result["__typename"] == "DifficultyPayload"
    assert (result["recordedVersion"], result["replayed"]) == (1, False)
    difficulty = result["difficulty"]
    assert {key: difficulty[key] for key in ("title", "description", "category", "status")} == {
        "title": "Thiếu hội trường",
        "description": "Hội trường đang sửa.",
        "category": "FACILITIES",
        "status": "OPEN",
    }
    assert difficulty["version"] == 1
    assert difficulty["raisedBy"] == reporter(CELL)
    assert difficulty["committee"] == difficulty["handlingCommittee"] == {"code": CELL}
    assert difficulty["resolvedAt"] is None
    for level in LEVELS:
        assert await listed(fresh_world, viewer(level)) == ["Thiếu hội trường"], level
    assert await every_inbox(fresh_world) == {
        CELL: ["Thiếu hội trường"],
        COMMUNE: [],
        PROVINCE: [],
        CENTRE: [],
    }
    under_commune = await listed(
        fresh_world, viewer(PROVINCE), under=await committee_gid(fresh_world, COMMUNE)
    )
    assert under_commune == ["Thiếu hội trường"]
    await assert_outsiders_see_nothing(
        fresh_world, difficulty["id"], await sibling_commune_reporter(fresh_world)
    )


async def test_escalation_from_cell_to_centre_moves_the_inbox_up_each_level(
    fresh_world: DemoWorld,
) -> None:
    sibling = await sibling_commune_reporter(fresh_world)
    difficulty_id = await raised_id(fresh_world, reporter(CELL), CELL, "Chưa có nhân sự")
    steps = [(reporter(CELL), COMMUNE), (reporter(COMMUNE), PROVINCE), (reporter(PROVINCE), CENTRE)]
    for version, (subject, next_level) in enumerate(steps, start=2):
        result = await escalate(fresh_world, subject, difficulty_id)
        assert result["__typename"] == "DifficultyPayload", result
        assert result["recordedVersion"] == version
        inboxes = await every_inbox(fresh_world)
        assert inboxes == {
            level: ["Chưa có nhân sự"] if level == next_level else [] for level in LEVELS
        }
        await assert_outsiders_see_nothing(fresh_world, difficulty_id, sibling)
        if next_level == PROVINCE:
            # The province handles it now: the commune may no longer pass it on.
            refused = await escalate(fresh_world, reporter(COMMUNE), difficulty_id)
            assert refused["__typename"] == "Forbidden"
    top = await escalate(fresh_world, reporter(CENTRE), difficulty_id)
    assert (top["__typename"], top["field"]) == ("ValidationError", "difficultyId")
    assert await history(fresh_world, difficulty_id) == [
        ("RAISED", None, CELL),
        ("ESCALATED", CELL, COMMUNE),
        ("ESCALATED", COMMUNE, PROVINCE),
        ("ESCALATED", PROVINCE, CENTRE),
    ]
    # The cell still follows its difficulty, but cannot see the centre handling it.
    seen_by_cell = await read(fresh_world, viewer(CELL), difficulty_id)
    assert seen_by_cell is not None
    assert seen_by_cell["handlingCommittee"] is None
    assert [node["toCommittee"] for node in seen_by_cell["events"]["nodes"]] == [
        {"code": CELL},
        None,
        None,
        None,
    ]


async def test_a_commune_viewer_may_not_escalate_and_a_cell_does_not_see_the_commune(
    fresh_world: DemoWorld,
) -> None:
    difficulty_id = await raised_id(fresh_world, reporter(COMMUNE), COMMUNE)
    refused = await escalate(fresh_world, viewer(COMMUNE), difficulty_id)
    assert refused["__typename"] == "Forbidden"
    # Raised above the cell, so for the cell it does not exist.
    hidden = await escalate(fresh_world, reporter(CELL), difficulty_id)
    assert hidden == await escalate(fresh_world, reporter(CELL), MISSING_DIFFICULTY)
    result = await escalate(fresh_world, demo_user(Role.ADMIN, COMMUNE), difficulty_id)
    # The commune cannot see the province it handed the difficulty to.
    assert result["difficulty"]["handlingCommittee"] is None
    assert await inbox(fresh_world, PROVINCE) == ["Thiếu hội trường"]


async def test_only_reporters_raise(fresh_world: DemoWorld) -> None:
    refused = await raise_at(fresh_world, viewer(CELL), CELL)
    assert refused == {
        "__typename": "Forbidden",
        "message": "You need the reporter role at this committee.",
    }
    for subject in (demo_user(Role.ADMIN, CELL), reporter(PROVINCE)):
        assert (await raise_at(fresh_world, subject, CELL))["__typename"] == "DifficultyPayload"
    assert await count_rows(fresh_world, Difficulty) == 2


async def test_resolve_by_the_handling_level_or_above_not_below(fresh_world: DemoWorld) -> None:
    difficulty_id = await raised_id(fresh_world, reporter(CELL), CELL, "Văn kiện chậm")
    await escalate(fresh_world, reporter(CELL), difficulty_id)
    for subject in (reporter(CELL), demo_user(Role.ADMIN, CELL), viewer(COMMUNE)):
        assert (await resolve(fresh_world, subject, difficulty_id))["__typename"] == "Forbidden"
    result = await resolve(fresh_world, reporter(PROVINCE), difficulty_id, "Tỉnh đã hướng dẫn.")
    assert result["__typename"] == "DifficultyPayload"
    resolved = result["difficulty"]
    assert (resolved["status"], resolved["resolution"]) == ("RESOLVED", "Tỉnh đã hướng dẫn.")
    assert resolved["resolvedAt"] is not None
    assert resolved["handlingCommittee"] == {"code": COMMUNE}
    assert await inbox(fresh_world, COMMUNE) == []
    assert await inbox(fresh_world, COMMUNE, status="RESOLVED") == ["Văn kiện chậm"]
    assert await inbox(fresh_world, COMMUNE, status=None) == ["Văn kiện chậm"]
    assert await listed(fresh_world, viewer(CELL), status="OPEN") == []
    # A resolved difficulty takes no further step.
    for again in (
        await resolve(fresh_world, reporter(PROVINCE), difficulty_id),
        await comment(fresh_world, reporter(CELL), difficulty_id),
        await escalate(fresh_world, reporter(COMMUNE), difficulty_id),
    ):
        assert again == {
            "__typename": "ValidationError",
            "message": "This difficulty is already resolved.",
            "field": "difficultyId",
        }


async def test_the_handling_level_itself_resolves(fresh_world: DemoWorld) -> None:
    difficulty_id = await raised_id(fresh_world, reporter(COMMUNE), COMMUNE)
    result = await resolve(fresh_world, reporter(COMMUNE), difficulty_id)
    assert result["difficulty"]["status"] == "RESOLVED"
    assert await history(fresh_world, difficulty_id) == [
        ("RAISED", None, COMMUNE),
        ("RESOLVED", COMMUNE, COMMUNE),
    ]


async def test_comments_from_the_unit_and_above(fresh_world: DemoWorld) -> None:
    difficulty_id = await raised_id(fresh_world, reporter(CELL), CELL)
    first = await comment(fresh_world, reporter(CELL), difficulty_id, "Đã báo cáo xã.")
    second = await comment(fresh_world, reporter(PROVINCE), difficulty_id, "Tỉnh đã nắm.")
    assert (first["recordedVersion"], second["recordedVersion"]) == (2, 3)
    assert second["difficulty"]["lastActivityAt"] > first["difficulty"]["raisedAt"]
    assert second["difficulty"]["handlingCommittee"] == {"code": CELL}
    assert (await comment(fresh_world, viewer(CELL), difficulty_id))["__typename"] == "Forbidden"
    found = await read(fresh_world, viewer(CELL), difficulty_id)
    assert found is not None
    assert [
        (node["kind"], node["body"], node["actorSubject"]) for node in found["events"]["nodes"]
    ] == [
        ("RAISED", None, reporter(CELL)),
        ("COMMENTED", "Đã báo cáo xã.", reporter(CELL)),
        ("COMMENTED", "Tỉnh đã nắm.", reporter(PROVINCE)),
    ]


async def test_bad_input_is_refused_field_by_field(fresh_world: DemoWorld) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"description": "x" * 5001}, "description"),
        ({"idempotencyKey": ""}, "idempotencyKey"),
        ({"idempotencyKey": "k" * 129}, "idempotencyKey"),
    ]
    for fields, field in cases:
        result = await raise_at(fresh_world, reporter(CELL), CELL, **fields)
        assert (result["__typename"], result["field"]) == ("ValidationError", field), fields
    longest = await raise_at(
        fresh_world,
        reporter(CELL),
        CELL,
        "x" * 200,
        description="y" * 5000,
        idempotencyKey="k" * 128,
    )
    assert longest["__typename"] == "DifficultyPayload"
    difficulty_id = longest["difficulty"]["id"]
    for body in ("", "  ", "x" * 5001):
        result = await comment(fresh_world, reporter(CELL), difficulty_id, body)
        assert (result["__typename"], result["field"]) == ("ValidationError", "body")
    for resolution in ("", "x" * 5001):
        result = await resolve(fresh_world, reporter(CELL), difficulty_id, resolution)
        assert (result["__typename"], result["field"]) == ("ValidationError", "resolution")
    assert await count_rows(fresh_world, Difficulty) == 1
    assert await count_rows(fresh_world, DifficultyEvent) == 1


@pytest.mark.parametrize(
    ("document", "variables", "complaint"),
    [
        (RAISE_DIFFICULTY, {"category": "URGENT"}, "URGENT"),
        (RAISE_DIFFICULTY, {"title": 5}, "title"),
        (RAISE_DIFFICULTY, {"committeeId": None}, "committeeId"),
        (COMMENT_DIFFICULTY, {"expectedVersion": "one"}, "expectedVersion"),
        (ESCALATE_DIFFICULTY, {"idempotencyKey": 7}, "idempotencyKey"),
    ],
)
async def test_wrong_types_are_graphql_errors(
    demo_world: DemoWorld, document: str, variables: dict[str, Any], complaint: str
) -> None:
    base: dict[str, Any] = (
        {"committeeId": MISSING_DIFFICULTY, "title": "T", "category": "OTHER"}
        if document == RAISE_DIFFICULTY
        else {"difficultyId": MISSING_DIFFICULTY, "body": "b"}
    )
    if document == ESCALATE_DIFFICULTY:
        base = {"difficultyId": MISSING_DIFFICULTY}
    errors = await demo_world.client.query_errors(
        reporter(CELL), document, input={**base, **variables}
    )
    assert complaint in errors[0]["message"]


async def test_stale_versions_change_nothing(fresh_world: DemoWorld) -> None:
    difficulty_id = await raised_id(fresh_world, reporter(CELL), CELL)
    await comment(fresh_world, reporter(CELL), difficulty_id, expectedVersion=1)
    events, audit = (
        await count_rows(fresh_world, DifficultyEvent),
        await count_rows(fresh_world, AuditEntry),
    )
    stale = [
        await comment(fresh_world, reporter(CELL), difficulty_id, expectedVersion=1),
        await escalate(fresh_world, reporter(CELL), difficulty_id, expectedVersion=1),
        await resolve(fresh_world, reporter(CELL), difficulty_id, expectedVersion=1),
    ]
    assert all(
        result
        == {
            "__typename": "VersionConflict",
            "message": "This difficulty changed since you read it: it is now at version 2.",
            "currentVersion": 2,
        }
        for result in stale
    ), stale
    assert await count_rows(fresh_world, DifficultyEvent) == events
    assert await count_rows(fresh_world, AuditEntry) == audit
    current = await escalate(fresh_world, reporter(CELL), difficulty_id, expectedVersion=2)
    assert current["recordedVersion"] == 3


async def test_a_repeated_request_with_its_key_acts_once(fresh_world: DemoWorld) -> None:
    first = await raise_at(fresh_world, reporter(CELL), CELL, idempotencyKey="raise-1")
    again = await raise_at(fresh_world, reporter(CELL), CELL, idempotencyKey="raise-1")
    assert (first["replayed"], again["replayed"]) == (False, True)
    assert again["difficulty"]["id"] == first["difficulty"]["id"]
    assert again["recordedVersion"] == first["recordedVersion"] == 1
    difficulty_id = first["difficulty"]["id"]
    escalated = await escalate(fresh_world, reporter(CELL), difficulty_id, idempotencyKey="up-1")
    # The cell no longer handles it, yet its retry gets the first answer, not Forbidden.
    repeat = await escalate(fresh_world, reporter(CELL), difficulty_id, idempotencyKey="up-1")
    assert (escalated["recordedVersion"], repeat["recordedVersion"]) == (2, 2)
    assert repeat["replayed"] is True
    assert await inbox(fresh_world, COMMUNE) == ["Thiếu hội trường"]
    for _ in range(2):
        await comment(fresh_world, reporter(CELL), difficulty_id, "Một lần", idempotencyKey="c-1")
    assert await history(fresh_world, difficulty_id) == [
        ("RAISED", None, CELL),
        ("ESCALATED", CELL, COMMUNE),
        ("COMMENTED", COMMUNE, COMMUNE),
    ]
    assert await count_rows(fresh_world, Difficulty) == 1
    audit = await fresh_world.client.query(
        CENTRAL_ADMIN, AUDIT_LOG, under=await committee_gid(fresh_world, CELL), first=100
    )
    difficulty_actions = [
        node["action"]
        for node in audit["auditLog"]["nodes"]
        if node["action"].startswith("difficulty.")
    ]
    assert difficulty_actions == ["difficulty.comment", "difficulty.escalate", "difficulty.raise"]


async def test_a_key_reused_for_another_request_is_a_conflict(fresh_world: DemoWorld) -> None:
    difficulty_id = await raised_id(fresh_world, reporter(CELL), CELL)
    await comment(fresh_world, reporter(CELL), difficulty_id, "A", idempotencyKey="k")
    expected = {
        "__typename": "Conflict",
        "message": "This idempotency key was already used for a different request.",
        "field": "idempotencyKey",
    }
    assert (
        await comment(fresh_world, reporter(CELL), difficulty_id, "B", idempotencyKey="k")
        == expected
    )
    assert (
        await escalate(fresh_world, reporter(CELL), difficulty_id, idempotencyKey="k") == expected
    )
    # Keys belong to their user: another official's "k" is a key of its own.
    other = await comment(fresh_world, reporter(COMMUNE), difficulty_id, "B", idempotencyKey="k")
    assert (other["replayed"], other["recordedVersion"]) == (False, 3)


async def test_concurrent_repeats_with_one_key_raise_one_difficulty(fresh_world: DemoWorld) -> None:
    results = await asyncio.gather(
        *(raise_at(fresh_world, reporter(CELL), CELL, idempotencyKey="same") for _ in range(5))
    )
    assert {result["__typename"] for result in results} == {"DifficultyPayload"}
    assert len({result["difficulty"]["id"] for result in results}) == 1
    assert sorted(result["replayed"] for result in results) == [False, True, True, True, True]
    assert await count_rows(fresh_world, Difficulty) == 1
    assert await count_rows(fresh_world, DifficultyEvent) == 1


async def test_hidden_and_missing_ids_get_the_same_not_found(fresh_world: DemoWorld) -> None:
    difficulty_id = await raised_id(fresh_world, reporter(CELL), CELL)
    sibling = await sibling_commune_reporter(fresh_world)
    not_found = {
        "__typename": "NotFound",
        "message": "No difficulty found.",
        "field": "difficultyId",
    }
    committee_id = await committee_gid(fresh_world, CELL)
    for target in (difficulty_id, MISSING_DIFFICULTY, committee_id, "not an id"):
        assert await comment(fresh_world, sibling, target) == not_found
        assert await escalate(fresh_world, sibling, target) == not_found
        assert await resolve(fresh_world, sibling, target) == not_found
        assert await read(fresh_world, sibling, target) is None
    hidden = await mutate(
        fresh_world,
        sibling,
        RAISE_DIFFICULTY,
        committeeId=committee_id,
        title="T",
        category="OTHER",
    )
    missing = await mutate(
        fresh_world,
        sibling,
        RAISE_DIFFICULTY,
        committeeId=MISSING_DIFFICULTY,
        title="T",
        category="OTHER",
    )
    assert (
        hidden
        == missing
        == {
            "__typename": "NotFound",
            "message": "No committee found.",
            "field": "committeeId",
        }
    )
    for argument in ("under", "handledAt"):
        errors = [
            await fresh_world.client.query_errors(sibling, DIFFICULTIES, **{argument: target})
            for target in (committee_id, MISSING_DIFFICULTY)
        ]
        assert errors[0] == errors[1]
        assert errors[0][0]["extensions"] == {"code": "NOT_FOUND", "argument": argument}


async def test_pages_newest_first_and_history_oldest_first(fresh_world: DemoWorld) -> None:
    for title in ("Một", "Hai", "Ba"):
        difficulty_id = await raised_id(fresh_world, reporter(CELL), CELL, title)
    first = await fresh_world.client.query(viewer(CELL), DIFFICULTIES, first=2)
    page = first["difficulties"]
    assert [node["title"] for node in page["nodes"]] == ["Ba", "Hai"]
    assert page["totalCount"] == 3
    assert page["pageInfo"]["hasNextPage"] is True
    rest = await fresh_world.client.query(
        viewer(CELL), DIFFICULTIES, first=2, after=page["pageInfo"]["endCursor"]
    )
    assert [node["title"] for node in rest["difficulties"]["nodes"]] == ["Một"]
    assert rest["difficulties"]["pageInfo"]["hasNextPage"] is False
    for body in ("a", "b"):
        await comment(fresh_world, reporter(CELL), difficulty_id, body)
    one = await fresh_world.client.query(viewer(CELL), DIFFICULTY, id=difficulty_id, first=1)
    events = one["difficulty"]["events"]
    assert (events["totalCount"], [node["kind"] for node in events["nodes"]]) == (3, ["RAISED"])
    after = await fresh_world.client.query(
        viewer(CELL), DIFFICULTY, id=difficulty_id, first=5, after=events["pageInfo"]["endCursor"]
    )
    assert [node["body"] for node in after["difficulty"]["events"]["nodes"]] == ["a", "b"]


async def test_nested_fields_cost_the_same_for_two_or_ten_difficulties(
    fresh_world: DemoWorld,
) -> None:
    nested = """{ difficulties(first: 100) { nodes { title committee { code } handlingCommittee { code }
      events(first: 10) { totalCount nodes { kind fromCommittee { code } toCommittee { code } } } } } }"""

    async def statements_for_listing() -> int:
        with counted_statements(fresh_world.engine) as statements:
            await fresh_world.client.query(viewer(COMMUNE), nested)
        return len(statements)

    for number in range(2):
        difficulty_id = await raised_id(fresh_world, reporter(CELL), CELL, f"D{number}")
        await escalate(fresh_world, reporter(CELL), difficulty_id)
    few = await statements_for_listing()
    for number in range(2, 10):
        await raised_id(fresh_world, reporter(COMMUNE), COMMUNE, f"D{number}")
    assert await statements_for_listing() == few


async def audit_of(world: DemoWorld, reader: str, code: str) -> list[dict[str, Any]]:
    data = await world.client.query(
        reader, AUDIT_LOG, under=await committee_gid(world, code), first=100
    )
    return [node for node in data["auditLog"]["nodes"] if node["action"].startswith("difficulty.")]


async def test_every_write_appends_its_audit_row(fresh_world: DemoWorld) -> None:
    difficulty_id = await raised_id(fresh_world, reporter(CELL), CELL, "Kiểm toán")
    await comment(fresh_world, reporter(COMMUNE), difficulty_id, "Ghi nhận")
    await escalate(fresh_world, reporter(CELL), difficulty_id)
    await resolve(fresh_world, reporter(COMMUNE), difficulty_id, "Xong")
    entries = await audit_of(fresh_world, CENTRAL_ADMIN, CELL)
    assert [(entry["action"], entry["actorSubject"]) for entry in entries] == [
        ("difficulty.resolve", reporter(COMMUNE)),
        ("difficulty.escalate", reporter(CELL)),
        ("difficulty.comment", reporter(COMMUNE)),
        ("difficulty.raise", reporter(CELL)),
    ]
    assert all(entry["targetType"] == "Difficulty" for entry in entries)
    assert all(entry["targetId"] == difficulty_id for entry in entries)
    assert all(entry["committee"] == {"code": CELL} for entry in entries)
    assert all(entry["requestId"] for entry in entries)
    resolved, escalated, commented, raised = entries
    assert raised["after"]["title"] == "Kiểm toán"
    assert raised["after"]["version"] == 1
    assert commented["after"] == {"version": 2, "comment": "Ghi nhận"}
    assert escalated["before"]["handlingCommittee"]["code"] == CELL
    assert escalated["after"]["handlingCommittee"]["code"] == COMMUNE
    assert resolved["after"] == {"version": 4, "status": "resolved", "resolution": "Xong"}
    # The cell's admin reads the same rows, without the level above it.
    seen_by_cell_admin = await audit_of(fresh_world, demo_user(Role.ADMIN, CELL), CELL)
    assert seen_by_cell_admin[1]["after"]["handlingCommittee"] is None


async def overdue_run(world: DemoWorld, days_from_now: float, **options: Any) -> int:
    async with AsyncSession(world.engine, expire_on_commit=False) as session:
        return await escalate_overdue(
            session,
            utc_now() + timedelta(days=days_from_now),
            older_than=timedelta(days=3),
            **options,
        )


async def test_difficulties_left_unanswered_climb_one_level_per_period(
    fresh_world: DemoWorld,
) -> None:
    at_cell = await raised_id(fresh_world, reporter(CELL), CELL, "Ở chi bộ")
    await raised_id(fresh_world, reporter(COMMUNE), COMMUNE, "Ở xã")
    await raised_id(fresh_world, reporter(CENTRE), CENTRE, "Ở trung ương")
    resolved = await raised_id(fresh_world, reporter(CELL), CELL, "Đã xong")
    await resolve(fresh_world, reporter(CELL), resolved)
    assert await overdue_run(fresh_world, days_from_now=2) == 0
    assert await overdue_run(fresh_world, days_from_now=4) == 2
    assert await every_inbox(fresh_world) == {
        CELL: [],
        COMMUNE: ["Ở chi bộ"],
        PROVINCE: ["Ở xã"],
        CENTRE: ["Ở trung ương"],
    }
    # Escalating resets the clock: nothing moves again until another period has passed.
    assert await overdue_run(fresh_world, days_from_now=4) == 0
    assert await overdue_run(fresh_world, days_from_now=8) == 2
    assert await overdue_run(fresh_world, days_from_now=12) == 1
    assert await overdue_run(fresh_world, days_from_now=16) == 0
    assert await every_inbox(fresh_world) == {
        CELL: [],
        COMMUNE: [],
        PROVINCE: [],
        CENTRE: ["Ở trung ương", "Ở xã", "Ở chi bộ"],
    }
    found = await read(fresh_world, CENTRAL_ADMIN, at_cell)
    assert found is not None
    automatic = found["events"]["nodes"][1:]
    assert [(node["kind"], node["actorSubject"]) for node in automatic] == [
        ("AUTO_ESCALATED", AUTO_ESCALATION.subject)
    ] * 3
    assert await history(fresh_world, at_cell) == [
        ("RAISED", None, CELL),
        ("AUTO_ESCALATED", CELL, COMMUNE),
        ("AUTO_ESCALATED", COMMUNE, PROVINCE),
        ("AUTO_ESCALATED", PROVINCE, CENTRE),
    ]
    audit = await audit_of(fresh_world, CENTRAL_ADMIN, CELL)
    automatic_audit = [entry for entry in audit if entry["action"] == "difficulty.auto_escalate"]
    assert len(automatic_audit) == 3
    assert {entry["actorSubject"] for entry in automatic_audit} == {"system:auto-escalation"}


async def test_two_escalation_runs_at_once_move_each_difficulty_once(
    fresh_world: DemoWorld,
) -> None:
    for number in range(6):
        await raised_id(fresh_world, reporter(CELL), CELL, f"D{number}")
    runs = await asyncio.gather(
        overdue_run(fresh_world, days_from_now=4, batch_size=2),
        overdue_run(fresh_world, days_from_now=4, batch_size=2),
    )
    assert sum(runs) == 6
    assert len(await inbox(fresh_world, COMMUNE)) == 6
    async with fresh_world.engine.connect() as connection:
        automatic = await connection.scalar(
            select(func.count())
            .select_from(DifficultyEvent)
            .where(DifficultyEvent.kind == DifficultyEventKind.AUTO_ESCALATED)
        )
    assert automatic == 6


def escalation_tasks() -> list[asyncio.Task[object]]:
    return [task for task in asyncio.all_tasks() if task.get_name() == "congress-auto-escalation"]


async def test_the_api_escalates_in_the_background_and_stops_cleanly(
    fresh_world: DemoWorld,
) -> None:
    difficulty_id = await raised_id(fresh_world, reporter(CELL), CELL)
    settings = fresh_world.settings.with_(
        escalate_after_seconds=0, escalation_interval_seconds=0.05
    )
    app = create_app(settings, engine=fresh_world.engine)
    handled_by: list[tuple[str, str | None, str | None]] = []
    async with app.router.lifespan_context(app):
        assert escalation_tasks()
        # Three runs of the loop take it to the top; give them up to ten seconds.
        for _ in range(200):
            handled_by = await history(fresh_world, difficulty_id)
            if handled_by[-1][2] == CENTRE:
                break
            await asyncio.sleep(0.05)
    assert handled_by == [
        ("RAISED", None, CELL),
        ("AUTO_ESCALATED", CELL, COMMUNE),
        ("AUTO_ESCALATED", COMMUNE, PROVINCE),
        ("AUTO_ESCALATED", PROVINCE, CENTRE),
    ]
    assert not escalation_tasks()


async def test_an_interval_of_zero_runs_no_background_escalation(
    empty_database_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path, database_url=empty_database_url, escalation_interval_seconds=0
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        assert not escalation_tasks()


async def test_a_failing_escalation_run_is_logged_and_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A directory is no database: every run fails to connect.
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}")
    task = asyncio.create_task(
        escalate_overdue_periodically(
            create_session_factory(engine), interval_seconds=0.01, older_than=timedelta(0)
        )
    )
    with caplog.at_level(logging.ERROR, logger="congress.escalation"):
        await asyncio.sleep(0.2)
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    await engine.dispose()
    failures = [
        record for record in caplog.records if "automatic escalation failed" in record.message
    ]
    assert len(failures) >= 2


def test_settings_read_the_escalation_environment() -> None:
    settings = Settings.from_env(
        {"CONGRESS_ESCALATE_AFTER_SECONDS": "3600", "CONGRESS_ESCALATION_INTERVAL_SECONDS": "0"}
    )
    assert (settings.escalate_after_seconds, settings.escalation_interval_seconds) == (3600, 0)
    assert Settings.from_env({}).escalate_after_seconds == 3 * 24 * 3600
    assert Settings.from_env({}).escalation_interval_seconds == 300
    again = Settings.from_env(settings.to_env())
    assert (again.escalate_after_seconds, again.escalation_interval_seconds) == (3600, 0)


async def test_difficulty_history_cannot_be_changed_or_deleted(fresh_world: DemoWorld) -> None:
    await raised_id(fresh_world, reporter(CELL), CELL)
    for statement in ("UPDATE difficulty_event SET body = 'x'", "DELETE FROM difficulty_event"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with fresh_world.engine.begin() as connection:
                await connection.execute(text(statement))
    assert await count_rows(fresh_world, DifficultyEvent) == 1


def congress(data_dir: Path, database_url: str, *args: str) -> Result:
    return CliRunner().invoke(
        main, ["--data-dir", str(data_dir), "--database-url", database_url, *args]
    )


async def raise_as_cli_reporter(database_url: str, subject: str) -> None:
    engine = create_engine(database_url)
    async with AsyncSession(engine) as session, session.begin():
        user = await session.scalar(select(User).where(User.subject == subject))
        commune = await session.scalar(select(Committee).where(Committee.code == "X1"))
        assert user is not None
        assert commune is not None
        await raise_difficulty(
            session,
            Actor(user.id, user.subject),
            committee=commune,
            title="Thiếu kinh phí",
            description="",
            category=DifficultyCategory.FACILITIES,
        )
    await engine.dispose()


async def handling_and_kinds(database_url: str) -> tuple[str, list[tuple[str, str | None]]]:
    engine = create_engine(database_url)
    async with engine.connect() as connection:
        code = await connection.scalar(
            select(Committee.code).join(
                Difficulty, Difficulty.handling_committee_id == Committee.id
            )
        )
        events = await connection.execute(
            select(DifficultyEvent.kind, DifficultyEvent.actor_subject).order_by(DifficultyEvent.id)
        )
        kinds = [(kind.value, actor) for kind, actor in events]
    await engine.dispose()
    assert code is not None
    return code, kinds


def test_escalate_overdue_command(empty_database_url: str, tmp_path: Path) -> None:
    tree = tmp_path / "tree.csv"
    tree.write_text(
        "code,parent_code,name,kind\nTW,,Trung ương,central\nT01,TW,Hà Nội,province\n"
        "X1,T01,Phường Một,commune\n",
        encoding="utf-8",
    )
    assert congress(tmp_path, empty_database_url, "import-tree", str(tree)).exit_code == 0
    created = congress(
        tmp_path, empty_database_url, "users", "create", "001000000007", "Lan",
        "--committee", "X1", "--role", "reporter",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    asyncio.run(raise_as_cli_reporter(empty_database_url, "001000000007"))
    outputs = [
        congress(tmp_path, empty_database_url, "escalate-overdue").output,
        congress(tmp_path, empty_database_url, "escalate-overdue", "--older-than", "0").output,
        congress(tmp_path, empty_database_url, "escalate-overdue", "--older-than", "0").output,
        congress(tmp_path, empty_database_url, "escalate-overdue", "--older-than", "0").output,
    ]
    assert outputs == [
        "Escalated 0 overdue difficulties.\n",
        "Escalated 1 overdue difficulty.\n",
        "Escalated 1 overdue difficulty.\n",
        "Escalated 0 overdue difficulties.\n",
    ]
    code, kinds = asyncio.run(handling_and_kinds(empty_database_url))
    assert code == "TW"
    assert kinds == [
        ("raised", "001000000007"),
        ("auto_escalated", "system:auto-escalation"),
        ("auto_escalated", "system:auto-escalation"),
    ]
    refused = congress(tmp_path, empty_database_url, "escalate-overdue", "--older-than", "-1")
    assert refused.exit_code == 2


async def test_node_resolves_a_visible_difficulty_only(fresh_world: DemoWorld) -> None:
    difficulty_id = await raised_id(fresh_world, reporter(CELL), CELL)
    query = "query($id: ID!) { node(id: $id) { id ... on Difficulty { title } } }"
    seen = await fresh_world.client.query(reporter(CELL), query, id=difficulty_id)
    assert seen["node"]["id"] == difficulty_id
    hidden = await fresh_world.client.query(SIBLING_VIEWER, query, id=difficulty_id)
    assert hidden == {"node": None}
