"""The authorization matrix, built from the schema itself.

For every root query field and every mutation, every role, and every position of the
target relative to the viewer, the expected outcome is asserted. The viewer sits at a
commune; the positions are that commune, one of its cells, its province, a sibling
commune, a cell of that sibling, a commune of another province, and an id that exists
nowhere. Adding a field or a mutation without an entry here fails `test_every_field_has_an_entry`.

Probes never depend on one another: the ones that would change the tree on success work on
a fresh cell made for them, or ask for something invalid on purpose, so that getting as far
as `ValidationError` proves the permission checks passed while nothing changes.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config import Settings
from graph.observability.metrics import live_subscriptions
from graph.schema import build_schema
from models import Committee, Role
from models.accounts import add_user
from models.demo import CENTRAL_CODE, DEMO_PROVINCE_CODE
from tests.admin_api import (
    CLOSE_COMMITTEE,
    CREATE_COMMITTEE,
    CREATE_USER,
    DEACTIVATE_USER,
    ERRORS,
    GRANT_ROLE,
    MERGE_COMMITTEES,
    MOVE_COMMITTEE,
    REACTIVATE_USER,
    RENAME_COMMITTEE,
    REVOKE_ROLE,
    committee_gid,
    user_gid,
)
from tests.conftest import (
    SIBLING_PROVINCE_CODE,
    DemoWorld,
    demo_commune_code,
    demo_user,
    demo_world_on,
)
from tests.live_api import (
    ARRIVES_WITHIN_SECONDS,
    PROGRESS,
    PROGRESS_EVENTS,
    live_server,
    signed_in,
)
from tests.progress_api import GOOD_RESULTS, RECORD_MILESTONE, RECORD_RESULTS, SET_DEADLINE
from tests.test_difficulties import (
    COMMENT_DIFFICULTY,
    ESCALATE_DIFFICULTY,
    RAISE_DIFFICULTY,
    RESOLVE_DIFFICULTY,
)

POSITIONS = ("own", "descendant", "ancestor", "sibling", "cousin", "other_province", "missing")
BELOW = ("own", "descendant")
MISSING_ID = "Q29tbWl0dGVlOjk5OTk5OTk5"  # Committee:99999999
CENTRAL_ADMIN = demo_user(Role.ADMIN, CENTRAL_CODE)
# Holds a role at a cell of the viewer's commune that no probe touches, so it stays visible
# to the commune's admin whatever the grant and revoke probes do.
GRANTEE = "001300000001"
counter = itertools.count()


@dataclass(frozen=True)
class Matrix:
    world: DemoWorld
    codes: dict[str, str]  # position -> committee code
    users: dict[str, str]  # position -> subject of a user whose only role is there
    live_url: str  # the same app served on a real socket, for the subscriptions

    async def committee(self, position: str) -> str:
        if position == "missing":
            return MISSING_ID
        return await committee_gid(self.world, self.codes[position])

    async def fresh_descendant(self) -> str:
        """A new cell under the viewer's commune, for probes that change what they touch."""
        code = f"{self.codes['own']}-M{next(counter)}"
        data = await self.world.client.query(
            CENTRAL_ADMIN, CREATE_COMMITTEE,
            input={"parentId": await self.committee("own"), "code": code, "name": "Chi bộ thử", "kind": "CELL"},
        )  # fmt: skip
        return str(data["createCommittee"]["committee"]["id"])

    async def target(self, position: str, *, fresh: bool = False) -> str:
        if fresh and position == "descendant":
            return await self.fresh_descendant()
        return await self.committee(position)

    async def user(self, position: str) -> str:
        if position == "missing":
            return "VXNlcjo5OTk5OTk5OQ=="  # User:99999999
        return await user_gid(self.world, self.users[position])


@pytest.fixture(scope="module")
async def matrix(backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Matrix]:
    async with demo_world_on(backend, tmp_path_factory.mktemp(f"matrix-{backend}")) as world:
        async with AsyncSession(world.engine) as session, session.begin():
            commune = demo_commune_code()
            province_id = await world.committee_id(DEMO_PROVINCE_CODE)
            sibling = await session.scalar(
                select(Committee.code)
                .where(Committee.parent_id == province_id, Committee.code != commune)
                .order_by(Committee.path)
            )
            other = await session.scalar(
                select(Committee.code)
                .where(Committee.parent_id == await world.committee_id(SIBLING_PROVINCE_CODE))
                .order_by(Committee.path)
            )
            assert sibling is not None
            assert other is not None
            codes = {
                "own": commune,
                "descendant": f"{commune}-001",
                "ancestor": DEMO_PROVINCE_CODE,
                "sibling": sibling,
                "cousin": f"{sibling}-001",
                "other_province": other,
            }
            ids = dict((await session.execute(select(Committee.code, Committee.id))).all())
            users = {}
            for number, (position, code) in enumerate(codes.items()):
                subject = f"00140000000{number}"
                await add_user(
                    session, subject, f"Official at {position}", [(ids[code], Role.VIEWER)]
                )
                users[position] = subject
            await add_user(session, GRANTEE, "Grantee", [(ids[f"{commune}-002"], Role.VIEWER)])
        async with live_server(world) as live_url:
            yield Matrix(world, codes, users, live_url)


def outcome(body: dict[str, Any], field: str) -> str:
    """One word for what a request got: ok, null, or the error type / code."""
    errors = body.get("errors")
    if errors:
        code = str(errors[0].get("extensions", {}).get("code", "ERROR"))
        return {"NOT_FOUND": "NotFound"}.get(code, code)
    value = body["data"][field]
    if value is None:
        return "null"
    if isinstance(value, dict) and value.get("__typename", "").endswith("Payload"):
        return "ok"
    if isinstance(value, dict) and "__typename" in value and "message" in value:
        return str(value["__typename"])
    return "ok"


Probe = Callable[[Matrix, str, str], Awaitable[dict[str, Any]]]
Expectation = Callable[[Role, str], str]


async def run(matrix: Matrix, subject: str, document: str, **variables: Any) -> dict[str, Any]:
    response = await matrix.world.client.post(
        document, variables, token=matrix.world.client.token_for(subject)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def visible_below(_role: Role, position: str) -> str:
    return "ok" if position in BELOW else "null"


def listed_below(_role: Role, position: str) -> str:
    return "ok" if position in BELOW else "NotFound"


def admin_below(role: Role, position: str) -> str:
    if position not in BELOW:
        return "NotFound"
    return "ok" if role is Role.ADMIN else "Forbidden"


def admin_strictly_below(allowed: str) -> Expectation:
    """Moving, merging away and closing need the admin role *above* the target."""

    def expect(role: Role, position: str) -> str:
        if position == "own":
            return "Forbidden"
        return admin_below(role, position).replace("ok", allowed)

    return expect


def admin_over_users(role: Role, position: str) -> str:
    """Users are visible only where one administers; to anyone else they do not exist."""
    return "ok" if role is Role.ADMIN and position in BELOW else "NotFound"


async def probe_viewer(matrix: Matrix, subject: str, _position: str) -> dict[str, Any]:
    return await run(matrix, subject, "{ viewer { subject } }")


async def probe_node(matrix: Matrix, subject: str, position: str) -> dict[str, Any]:
    return await run(
        matrix,
        subject,
        "query($id: ID!) { node(id: $id) { id } }",
        id=await matrix.committee(position),
    )


async def probe_committee(matrix: Matrix, subject: str, position: str) -> dict[str, Any]:
    return await run(
        matrix,
        subject,
        "query($id: ID!) { committee(id: $id) { code } }",
        id=await matrix.committee(position),
    )


async def probe_committees(matrix: Matrix, subject: str, position: str) -> dict[str, Any]:
    return await run(
        matrix,
        subject,
        "query($id: ID!) { committees(under: $id) { totalCount } }",
        id=await matrix.committee(position),
    )


async def probe_users(matrix: Matrix, subject: str, position: str) -> dict[str, Any]:
    return await run(
        matrix,
        subject,
        "query($id: ID!) { users(under: $id) { totalCount } }",
        id=await matrix.committee(position),
    )


async def probe_audit_log(matrix: Matrix, subject: str, position: str) -> dict[str, Any]:
    return await run(
        matrix,
        subject,
        "query($id: ID!) { auditLog(under: $id) { totalCount } }",
        id=await matrix.committee(position),
    )


async def probe_create_user(matrix: Matrix, subject: str, position: str) -> dict[str, Any]:
    new_subject = f"0015{next(counter):08d}"
    return await run(
        matrix, subject, CREATE_USER,
        input={"subject": new_subject, "name": "Mới", "committeeId": await matrix.committee(position), "role": "VIEWER"},
    )  # fmt: skip


async def probe_grant_role(matrix: Matrix, subject: str, position: str) -> dict[str, Any]:
    grantee = await user_gid(matrix.world, GRANTEE)
    return await run(
        matrix, subject, GRANT_ROLE,
        input={"userId": grantee, "committeeId": await matrix.committee(position), "role": "VIEWER"},
    )  # fmt: skip


async def probe_revoke_role(matrix: Matrix, subject: str, position: str) -> dict[str, Any]:
    grantee = await user_gid(matrix.world, GRANTEE)
    committee = await matrix.committee(position)
    # Make sure there is a role to take away where the central admin may give one.
    if position != "missing":
        await run(
            matrix,
            CENTRAL_ADMIN,
            GRANT_ROLE,
            input={"userId": grantee, "committeeId": committee, "role": "VIEWER"},
        )
    return await run(
        matrix, subject, REVOKE_ROLE, input={"userId": grantee, "committeeId": committee}
    )


async def probe_deactivate_user(matrix: Matrix, subject: str, position: str) -> dict[str, Any]:
    return await run(
        matrix, subject, DEACTIVATE_USER, input={"userId": await matrix.user(position)}
    )


async def probe_reactivate_user(matrix: Matrix, subject: str, position: str) -> dict[str, Any]:
    return await run(
        matrix, subject, REACTIVATE_USER, input={"userId": await matrix.user(position)}
    )


async def probe_create_committee(matrix: Matrix, subject: str, position: str) -> dict[str, Any]:
    return await run(
        matrix, subject, CREATE_COMMITTEE,
        input={"parentId": await matrix.committee(position), "code": f"NEW-{next(counter)}", "name": "Mới", "kind": "CELL"},
    )  # fmt: skip


async def probe_rename_committee(matrix: Matrix, subject: str, position: str) -> dict[str, Any]:
    # The name it already has: allowed means a no-op, so later probes see the same tree.
    name = "Unchanged" if position == "missing" else await current_name(matrix, position)
    return await run(
        matrix,
        subject,
        RENAME_COMMITTEE,
        input={"id": await matrix.committee(position), "name": name},
    )


async def current_name(matrix: Matrix, position: str) -> str:
    data = await matrix.world.client.query(
        CENTRAL_ADMIN,
        "query($c: String!) { committee(code: $c) { name } }",
        c=matrix.codes[position],
    )
    return str(data["committee"]["name"])


async def probe_move_committee(matrix: Matrix, subject: str, position: str) -> dict[str, Any]:
    # Under the viewer's own commune: for a fresh cell already there, allowed is a no-op.
    return await run(
        matrix, subject, MOVE_COMMITTEE,
        input={"id": await matrix.target(position, fresh=True), "newParentId": await matrix.committee("own")},
    )  # fmt: skip


async def probe_merge_committees(matrix: Matrix, subject: str, position: str) -> dict[str, Any]:
    # Into itself: always invalid, so allowed reads as ValidationError and nothing changes.
    target = await matrix.target(position, fresh=True)
    return await run(matrix, subject, MERGE_COMMITTEES, input={"fromId": target, "intoId": target})


async def probe_close_committee(matrix: Matrix, subject: str, position: str) -> dict[str, Any]:
    return await run(
        matrix, subject, CLOSE_COMMITTEE, input={"id": await matrix.target(position, fresh=True)}
    )


MISSING_DIFFICULTY_ID = "RGlmZmljdWx0eTo5OTk5OTk5OQ=="  # Difficulty:99999999


def reporter_below(role: Role, position: str) -> str:
    """Difficulties are raised, commented, escalated and resolved by reporters (and admins)."""
    if position not in BELOW:
        return "NotFound"
    return "ok" if role.rank >= Role.REPORTER.rank else "Forbidden"


async def difficulty_at(matrix: Matrix, position: str) -> str:
    """A new open difficulty raised (and so handled) at the position, for this probe alone."""
    if position == "missing":
        return MISSING_DIFFICULTY_ID
    data = await matrix.world.client.query(
        CENTRAL_ADMIN, RAISE_DIFFICULTY,
        input={"committeeId": await matrix.committee(position), "title": "Probe", "category": "OTHER"},
    )  # fmt: skip
    return str(data["raiseDifficulty"]["difficulty"]["id"])


async def probe_difficulty(matrix: Matrix, subject: str, position: str) -> dict[str, Any]:
    return await run(
        matrix,
        subject,
        "query($id: ID!) { difficulty(id: $id) { id } }",
        id=await difficulty_at(matrix, position),
    )


async def probe_difficulties(matrix: Matrix, subject: str, position: str) -> dict[str, Any]:
    return await run(
        matrix,
        subject,
        "query($id: ID!) { difficulties(under: $id, handledAt: $id) { totalCount } }",
        id=await matrix.committee(position),
    )


async def probe_overdue_congresses(matrix: Matrix, subject: str, position: str) -> dict[str, Any]:
    return await run(
        matrix,
        subject,
        "query($id: ID!) { overdueCongresses(under: $id) { totalCount } }",
        id=await matrix.committee(position),
    )


async def probe_recent_progress(matrix: Matrix, subject: str, position: str) -> dict[str, Any]:
    return await run(
        matrix,
        subject,
        "query($id: ID!) { recentProgress(under: $id) { totalCount } }",
        id=await matrix.committee(position),
    )


async def probe_raise_difficulty(matrix: Matrix, subject: str, position: str) -> dict[str, Any]:
    return await run(
        matrix, subject, RAISE_DIFFICULTY,
        input={"committeeId": await matrix.committee(position), "title": "Mới", "category": "OTHER"},
    )  # fmt: skip


async def probe_comment_difficulty(matrix: Matrix, subject: str, position: str) -> dict[str, Any]:
    return await run(
        matrix, subject, COMMENT_DIFFICULTY,
        input={"difficultyId": await difficulty_at(matrix, position), "body": "Ý kiến"},
    )  # fmt: skip


async def probe_escalate_difficulty(matrix: Matrix, subject: str, position: str) -> dict[str, Any]:
    return await run(
        matrix, subject, ESCALATE_DIFFICULTY,
        input={"difficultyId": await difficulty_at(matrix, position)},
    )  # fmt: skip


async def probe_resolve_difficulty(matrix: Matrix, subject: str, position: str) -> dict[str, Any]:
    return await run(
        matrix, subject, RESOLVE_DIFFICULTY,
        input={"difficultyId": await difficulty_at(matrix, position), "resolution": "Xong"},
    )  # fmt: skip


async def probe_record_milestone(matrix: Matrix, subject: str, position: str) -> dict[str, Any]:
    # An unknown milestone: allowed reads as ValidationError, and nothing is recorded.
    return await run(
        matrix, subject, RECORD_MILESTONE,
        input={"committeeId": await matrix.committee(position), "milestone": "no_such_step",
               "status": "DONE", "occurredOn": "2025-03-01"},
    )  # fmt: skip


async def probe_record_results(matrix: Matrix, subject: str, position: str) -> dict[str, Any]:
    # Results that do not add up: allowed reads as ValidationError, and nothing is recorded.
    return await run(
        matrix, subject, RECORD_RESULTS,
        input={"committeeId": await matrix.committee(position), **GOOD_RESULTS, "delegatesPresent": 99},
    )  # fmt: skip


async def probe_set_deadline(matrix: Matrix, subject: str, position: str) -> dict[str, Any]:
    # A date outside the term: allowed reads as ValidationError, and nothing changes.
    return await run(
        matrix, subject, SET_DEADLINE,
        input={"committeeId": await matrix.committee(position), "deadline": "1999-01-01"},
    )  # fmt: skip


# How often a probe looks whether its subscription was let in or refused.
SUBSCRIPTION_PROBE_SECONDS = 0.02


async def subscribe(
    matrix: Matrix, subject: str, field: str, document: str, **variables: Any
) -> dict[str, Any]:
    """A subscription's first answer as a response body: its errors, its first data, or,
    for one that is let in and says nothing until something changes, that it started
    listening (counted by the worker's metrics; a refused one never is)."""
    token = matrix.world.client.token_for(subject)
    async with signed_in(matrix.live_url, token) as client:
        started_before = live_subscriptions.value(field, "started")
        await client.subscribe("probe", document, **variables)
        async with asyncio.timeout(ARRIVES_WITHIN_SECONDS):
            while True:
                try:
                    message = await client.receive(within=SUBSCRIPTION_PROBE_SECONDS)
                    break
                except TimeoutError:
                    if live_subscriptions.value(field, "started") > started_before:
                        return {"data": {field: {"listening": True}}}
    if message["type"] == "error":
        return {"errors": message["payload"]}
    body: dict[str, Any] = message["payload"]
    return body


async def probe_progress_events(matrix: Matrix, subject: str, position: str) -> dict[str, Any]:
    return await subscribe(
        matrix, subject, "progressEvents", PROGRESS_EVENTS, under=await matrix.committee(position)
    )


async def probe_progress(matrix: Matrix, subject: str, position: str) -> dict[str, Any]:
    return await subscribe(
        matrix, subject, "progress", PROGRESS, committeeId=await matrix.committee(position)
    )


def reporter_below_refused_as_invalid(role: Role, position: str) -> str:
    """The progress probes ask for something invalid on purpose: allowed reads as that."""
    return reporter_below(role, position).replace("ok", "ValidationError")


def report_probe(mutation: str, *, with_reason: bool) -> Probe:
    """A report transition on an untouched congress: a submission is refused as incomplete,
    a decision as a conflict with its DRAFT state; either proves the permissions passed."""

    async def probe(matrix: Matrix, subject: str, position: str) -> dict[str, Any]:
        kind = "ReportDecisionInput" if with_reason else "ReportInput"
        fields: dict[str, Any] = {"committeeId": await matrix.committee(position)}
        if with_reason:
            fields["reason"] = "Probe"
        return await run(
            matrix, subject,
            f"mutation($input: {kind}!) {{ {mutation}(input: $input) {{ __typename ...Errors }} }} {ERRORS}",
            input=fields,
        )  # fmt: skip

    return probe


def approver_strictly_below(role: Role, position: str) -> str:
    """A report is decided above it, by an approver (or admin), never by its own officials."""
    if position not in BELOW:
        return "NotFound"
    if position == "own":
        return "Forbidden"
    return "Conflict" if role.rank >= Role.APPROVER.rank else "Forbidden"


QUERIES: dict[str, tuple[Probe, Expectation]] = {
    "viewer": (probe_viewer, lambda _role, _position: "ok"),
    "node": (probe_node, visible_below),
    "committee": (probe_committee, visible_below),
    "committees": (probe_committees, listed_below),
    "users": (probe_users, listed_below),
    "auditLog": (probe_audit_log, listed_below),
    "difficulty": (probe_difficulty, visible_below),
    "difficulties": (probe_difficulties, listed_below),
    "overdueCongresses": (probe_overdue_congresses, listed_below),
    "recentProgress": (probe_recent_progress, listed_below),
}
MUTATIONS: dict[str, tuple[Probe, Expectation]] = {
    "createUser": (probe_create_user, admin_below),
    "grantRole": (probe_grant_role, admin_below),
    "revokeRole": (probe_revoke_role, admin_below),
    "deactivateUser": (probe_deactivate_user, admin_over_users),
    "reactivateUser": (probe_reactivate_user, admin_over_users),
    "createCommittee": (probe_create_committee, admin_below),
    "renameCommittee": (probe_rename_committee, admin_below),
    "moveCommittee": (probe_move_committee, admin_strictly_below("ok")),
    "mergeCommittees": (probe_merge_committees, admin_strictly_below("ValidationError")),
    "closeCommittee": (probe_close_committee, admin_strictly_below("ok")),
    "raiseDifficulty": (probe_raise_difficulty, reporter_below),
    "commentDifficulty": (probe_comment_difficulty, reporter_below),
    "escalateDifficulty": (probe_escalate_difficulty, reporter_below),
    "resolveDifficulty": (probe_resolve_difficulty, reporter_below),
    "recordMilestone": (probe_record_milestone, reporter_below_refused_as_invalid),
    "recordResults": (probe_record_results, reporter_below_refused_as_invalid),
    "setDeadline": (probe_set_deadline, admin_strictly_below("ValidationError")),
    "submitReport": (
        report_probe("submitReport", with_reason=False),
        lambda role, position: reporter_below(role, position).replace("ok", "ReportIncomplete"),
    ),
    "approveReport": (report_probe("approveReport", with_reason=False), approver_strictly_below),
    "returnReport": (report_probe("returnReport", with_reason=True), approver_strictly_below),
    "reopenReport": (report_probe("reopenReport", with_reason=True), approver_strictly_below),
}
SUBSCRIPTIONS: dict[str, tuple[Probe, Expectation]] = {
    "progressEvents": (probe_progress_events, listed_below),
    "progress": (probe_progress, listed_below),
}
CASES = {**QUERIES, **MUTATIONS, **SUBSCRIPTIONS}


def test_every_field_has_an_entry() -> None:
    schema = build_schema(Settings())._schema
    assert schema.query_type is not None
    assert schema.mutation_type is not None
    assert schema.subscription_type is not None
    assert set(schema.query_type.fields) == set(QUERIES)
    assert set(schema.mutation_type.fields) == set(MUTATIONS)
    assert set(schema.subscription_type.fields) == set(SUBSCRIPTIONS)


@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
@pytest.mark.parametrize("field", list(CASES))
async def test_authorization(matrix: Matrix, field: str, role: Role, position: str) -> None:
    probe, expect = CASES[field]
    body = await probe(matrix, demo_user(role, matrix.codes["own"]), position)
    assert outcome(body, field) == expect(role, position), body


@pytest.mark.parametrize(
    "field",
    [field for field, (_, expect) in CASES.items() if expect(Role.ADMIN, "sibling") != "ok"],
)
async def test_hidden_and_missing_targets_get_the_same_answer(matrix: Matrix, field: str) -> None:
    probe, _ = CASES[field]
    admin = demo_user(Role.ADMIN, matrix.codes["own"])
    answers = [
        await probe(matrix, admin, position)
        for position in ("ancestor", "sibling", "other_province", "missing")
    ]
    assert all(answer == answers[-1] for answer in answers), answers
