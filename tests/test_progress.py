"""Recording congress progress: milestones in order, results after the congress, deadlines,
corrections as history, and every bad input refused with the field named."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from models import Role
from models.demo import CENTRAL_CODE, DEMO_PROVINCE_CODE
from tests.admin_api import AUDIT_LOG, committee_gid
from tests.conftest import (
    SIBLING_PROVINCE_CODE,
    SIBLING_VIEWER,
    DemoWorld,
    demo_cell_code,
    demo_commune_code,
    demo_user,
)
from tests.progress_api import (
    GOOD_RESULTS,
    MILESTONES,
    RECORD_RESULTS,
    SET_DEADLINE,
    congress_of,
    hold_congress,
    record,
)

CELL = demo_cell_code()
CELL_REPORTER = demo_user(Role.REPORTER, CELL)
PROVINCE_ADMIN = demo_user(Role.ADMIN, DEMO_PROVINCE_CODE)


async def record_results(
    world: DemoWorld, subject: str, code: str, **fields: Any
) -> dict[str, Any]:
    data = await world.client.query(
        subject,
        RECORD_RESULTS,
        input={"committeeId": await committee_gid(world, code), **GOOD_RESULTS, **fields},
    )
    result: dict[str, Any] = data["recordResults"]
    return result


async def test_milestones_in_order_move_the_congress_forward(fresh_world: DemoWorld) -> None:
    first = await record(
        fresh_world, CELL_REPORTER, CELL, "plan_issued", "IN_PROGRESS", "2025-02-01"
    )
    assert first["congress"]["status"] == "IN_PROGRESS"
    await hold_congress(fresh_world, CELL_REPORTER, CELL)
    congress = await congress_of(fresh_world, CELL_REPORTER, CELL)
    assert congress["status"] == "HELD"
    assert congress["heldOn"] == "2025-03-01"
    assert [m["status"] for m in congress["milestones"]] == ["DONE"] * 5 + ["NOT_STARTED"]
    assert congress["milestones"][0]["recordedBy"] == CELL_REPORTER
    assert congress["version"] == 1 + 6  # one event for IN_PROGRESS, five for DONE
    await record(fresh_world, CELL_REPORTER, CELL, "results_reported", occurred_on="2025-03-05")
    assert (await congress_of(fresh_world, CELL_REPORTER, CELL))["status"] == "COMPLETED"


async def test_a_milestone_before_its_prerequisite_is_refused_naming_it(
    fresh_world: DemoWorld,
) -> None:
    result = await record(fresh_world, CELL_REPORTER, CELL, "documents_drafted")
    assert result == {
        "__typename": "ValidationError",
        "message": "'Dự thảo văn kiện' needs 'Kế hoạch đại hội được ban hành' done first.",
        "field": "milestone",
    }
    assert (await congress_of(fresh_world, CELL_REPORTER, CELL))["version"] == 1


async def test_a_milestone_others_build_on_cannot_be_undone(fresh_world: DemoWorld) -> None:
    await record(fresh_world, CELL_REPORTER, CELL, "plan_issued")
    await record(fresh_world, CELL_REPORTER, CELL, "documents_drafted")
    undo = await record(fresh_world, CELL_REPORTER, CELL, "plan_issued", "NOT_STARTED", None)
    assert (undo["__typename"], undo["field"]) == ("ValidationError", "status")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"milestone": "party_picnic"}, "milestone"),
        ({"occurredOn": "2099-01-01"}, "occurredOn"),
        ({"occurredOn": "2024-12-31"}, "occurredOn"),
        ({"occurredOn": None}, "occurredOn"),
        ({"note": "x" * 2001}, "note"),
        ({"term": "1990-1995"}, "term"),
        ({"idempotencyKey": "k" * 129}, "idempotencyKey"),
    ],
)
async def test_bad_input_is_refused_naming_the_field(
    demo_world: DemoWorld, changes: dict[str, Any], field: str
) -> None:
    changes = dict(changes)  # parametrize shares the dict between the two databases
    milestone = changes.pop("milestone", "plan_issued")
    occurred_on = changes.pop("occurredOn", "2025-03-01")
    result = await record(
        demo_world, CELL_REPORTER, CELL, milestone, occurred_on=occurred_on, **changes
    )
    assert result["__typename"] == "ValidationError"
    assert result["field"] == field


async def test_wrong_types_are_refused(demo_world: DemoWorld) -> None:
    errors = await demo_world.client.query_errors(
        CELL_REPORTER,
        "mutation($input: RecordMilestoneInput!) { recordMilestone(input: $input) { __typename } }",
        input={"committeeId": await committee_gid(demo_world, CELL), "milestone": "plan_issued",
               "status": "FINISHED", "occurredOn": "yesterday"},
    )  # fmt: skip
    assert errors[0]["message"].startswith("Variable '$input' has invalid value")


async def test_viewers_cannot_record_and_other_branches_cannot_see(fresh_world: DemoWorld) -> None:
    as_viewer = await record(fresh_world, demo_user(Role.VIEWER, CELL), CELL, "plan_issued")
    assert as_viewer["__typename"] == "Forbidden"
    hidden = await record(fresh_world, SIBLING_VIEWER, CELL, "plan_issued")
    assert hidden == {
        "__typename": "NotFound",
        "message": "No committee found.",
        "field": "committeeId",
    }
    assert (await congress_of(fresh_world, CELL_REPORTER, CELL))["version"] == 1


async def test_results_only_after_the_congress_is_held(fresh_world: DemoWorld) -> None:
    early = await record_results(fresh_world, CELL_REPORTER, CELL)
    assert (early["__typename"], early["field"]) == ("ValidationError", "committeeId")
    await hold_congress(fresh_world, CELL_REPORTER, CELL)
    done = await record_results(fresh_world, CELL_REPORTER, CELL)
    assert done["__typename"] == "CongressPayload"
    results = done["congress"]["results"]
    assert {k: results[k] for k in GOOD_RESULTS} == GOOD_RESULTS
    assert results["recordedBy"] == CELL_REPORTER


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"delegatesPresent": 31}, "delegatesPresent"),
        ({"women": 10}, "women"),
        ({"under40": 10}, "under40"),
        ({"ethnicMinority": 10}, "ethnicMinority"),
        ({"membersElected": 29}, "membersElected"),
        ({"delegatesExpected": -1}, "delegatesExpected"),
        ({"delegatesToHigherCongress": 100_001}, "delegatesToHigherCongress"),
    ],
)
async def test_results_that_do_not_add_up_are_refused(
    fresh_world: DemoWorld, changes: dict[str, Any], field: str
) -> None:
    await hold_congress(fresh_world, CELL_REPORTER, CELL)
    result = await record_results(fresh_world, CELL_REPORTER, CELL, **changes)
    assert (result["__typename"], result["field"]) == ("ValidationError", field)
    assert (await congress_of(fresh_world, CELL_REPORTER, CELL))["results"] is None


async def test_corrections_are_history_not_overwrites(fresh_world: DemoWorld) -> None:
    await record(fresh_world, CELL_REPORTER, CELL, "plan_issued", occurred_on="2025-03-01")
    commune_reporter = demo_user(Role.REPORTER, demo_commune_code())
    await record(
        fresh_world,
        commune_reporter,
        CELL,
        "plan_issued",
        occurred_on="2025-02-20",
        note="ngày đúng",
    )
    congress = await congress_of(fresh_world, CELL_REPORTER, CELL)
    assert congress["milestones"][0]["occurredOn"] == "2025-02-20"
    assert congress["milestones"][0]["recordedBy"] == commune_reporter
    history = congress["history"]["nodes"]
    assert [(e["version"], e["recordedBy"], e["change"]["occurredOn"]) for e in history] == [
        (3, commune_reporter, "2025-02-20"),
        (2, CELL_REPORTER, "2025-03-01"),
    ]
    assert history[0]["change"]["note"] == "ngày đúng"
    # Read as the enum reads everywhere else, not as stored.
    assert {e["change"]["status"] for e in history} == {"DONE"}


async def test_repeating_the_same_record_adds_nothing(fresh_world: DemoWorld) -> None:
    for _ in range(2):
        result = await record(fresh_world, CELL_REPORTER, CELL, "plan_issued")
        assert result["__typename"] == "CongressPayload"
    assert (await congress_of(fresh_world, CELL_REPORTER, CELL))["history"]["totalCount"] == 1


async def test_a_stale_version_gets_the_current_version_and_state(fresh_world: DemoWorld) -> None:
    await record(fresh_world, CELL_REPORTER, CELL, "plan_issued", expectedVersion=1)
    stale = await record(fresh_world, CELL_REPORTER, CELL, "documents_drafted", expectedVersion=1)
    assert stale["__typename"] == "CongressVersionConflict"
    assert stale["currentVersion"] == 2
    assert stale["congress"] == {"version": 2, "status": "IN_PROGRESS"}
    assert stale["message"] == "This congress changed since you read it: it is now at version 2."


async def test_every_write_has_its_audit_row(fresh_world: DemoWorld) -> None:
    await record(fresh_world, CELL_REPORTER, CELL, "plan_issued")
    log = await fresh_world.client.query(demo_user(Role.ADMIN, CENTRAL_CODE), AUDIT_LOG)
    [entry] = [e for e in log["auditLog"]["nodes"] if e["action"] == "congress.milestone"]
    assert entry["actorSubject"] == CELL_REPORTER
    assert entry["committee"] == {"code": CELL}
    assert entry["after"]["milestone"] == "plan_issued"
    # Read as the API's enum reads everywhere else.
    assert entry["after"]["status"] == "DONE"


async def test_a_province_admin_sets_the_deadline_of_every_commune(fresh_world: DemoWorld) -> None:
    province = await committee_gid(fresh_world, DEMO_PROVINCE_CODE)
    data = await fresh_world.client.query(
        PROVINCE_ADMIN,
        SET_DEADLINE,
        input={"committeeId": province, "depth": 3, "deadline": "2025-09-30"},
    )
    communes = await fresh_world.client.query(
        PROVINCE_ADMIN,
        "query($c: String!) { committee(code: $c) { children { totalCount } } }",
        c=DEMO_PROVINCE_CODE,
    )
    assert data["setDeadline"] == {
        "__typename": "SetDeadlinePayload",
        "updated": communes["committee"]["children"]["totalCount"],
        "congress": None,
    }
    commune = await congress_of(fresh_world, PROVINCE_ADMIN, demo_commune_code())
    assert commune["deadline"] == "2025-09-30"
    assert commune["overdue"] is True
    assert commune["daysLate"] > 365
    other_province = await congress_of(
        fresh_world, demo_user(Role.ADMIN, CENTRAL_CODE), SIBLING_PROVINCE_CODE
    )
    assert other_province["deadline"] == "2025-10-31"


async def test_a_held_congress_is_not_overdue_and_knows_how_late_it_was(
    fresh_world: DemoWorld,
) -> None:
    await hold_congress(fresh_world, CELL_REPORTER, CELL)  # held 2025-03-01, deadline 2025-06-30
    congress = await congress_of(fresh_world, CELL_REPORTER, CELL)
    assert (congress["overdue"], congress["daysLate"]) == (False, 0)
    cell = await committee_gid(fresh_world, CELL)
    data = await fresh_world.client.query(
        PROVINCE_ADMIN, SET_DEADLINE, input={"committeeId": cell, "deadline": "2025-02-20"}
    )
    assert data["setDeadline"]["congress"]["daysLate"] == 9


async def test_nobody_sets_their_own_deadline(fresh_world: DemoWorld) -> None:
    commune = await committee_gid(fresh_world, demo_commune_code())
    own = await fresh_world.client.query(
        demo_user(Role.ADMIN, demo_commune_code()),
        SET_DEADLINE,
        input={"committeeId": commune, "deadline": "2025-12-31"},
    )
    assert own["setDeadline"]["__typename"] == "Forbidden"


async def test_deadline_outside_the_term_is_refused(fresh_world: DemoWorld) -> None:
    cell = await committee_gid(fresh_world, CELL)
    data = await fresh_world.client.query(
        PROVINCE_ADMIN, SET_DEADLINE, input={"committeeId": cell, "deadline": "2031-01-01"}
    )
    assert (data["setDeadline"]["__typename"], data["setDeadline"]["field"]) == (
        "ValidationError",
        "deadline",
    )


async def test_all_milestone_codes_come_from_the_template(demo_world: DemoWorld) -> None:
    congress = await congress_of(demo_world, CELL_REPORTER, CELL)
    assert [m["milestone"] for m in congress["milestones"]] == list(MILESTONES)


async def test_history_of_many_congresses_costs_the_same_statements(demo_world: DemoWorld) -> None:
    query = """query($n: Int) { committees(first: $n) { nodes { congress {
        history(first: 2) { totalCount nodes { version } } } } } }"""
    statements = 0

    def count(*_args: object) -> None:
        nonlocal statements
        statements += 1

    counts = []
    event.listen(demo_world.engine.sync_engine, "before_cursor_execute", count)
    try:
        for size in (2, 40):
            statements = 0
            data = await demo_world.client.query(PROVINCE_ADMIN, query, n=size)
            assert len(data["committees"]["nodes"]) == size
            counts.append(statements)
    finally:
        event.remove(demo_world.engine.sync_engine, "before_cursor_execute", count)
    assert counts[0] == counts[1]
