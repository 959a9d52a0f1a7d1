"""GraphQL documents and helpers for the progress tests."""

from __future__ import annotations

from typing import Any

from models import Committee
from tests.admin_api import ERRORS, committee_gid
from tests.conftest import DemoWorld

CONGRESS_FIELDS = """id status version heldOn deadline overdue daysLate
  milestones { milestone status occurredOn note recordedBy recordedAt version }
  results { delegatesExpected delegatesPresent membersElected women under40 ethnicMinority
            secretaryDirectlyElected delegatesToHigherCongress recordedBy version }"""

RESULT = f"""__typename
  ... on CongressPayload {{ recordedVersion replayed congress {{ {CONGRESS_FIELDS} }} }}
  ... on CongressVersionConflict {{ message currentVersion congress {{ version status }} }}
  ...Errors"""

RECORD_MILESTONE = f"""mutation($input: RecordMilestoneInput!) {{ recordMilestone(input: $input) {{ {RESULT} }} }} {ERRORS}"""
RECORD_RESULTS = f"""mutation($input: RecordResultsInput!) {{ recordResults(input: $input) {{ {RESULT} }} }} {ERRORS}"""
SET_DEADLINE = f"""mutation($input: SetDeadlineInput!) {{ setDeadline(input: $input) {{ __typename
  ... on SetDeadlinePayload {{ updated congress {{ deadline version overdue daysLate }} }}
  ... on CongressVersionConflict {{ currentVersion }} ...Errors }} }} {ERRORS}"""
CONGRESS = f"""query($code: String!) {{ committee(code: $code) {{ congress {{ {CONGRESS_FIELDS}
  history(first: 100) {{ totalCount nodes {{ version kind change recordedBy recordedAt }} }} }} }} }}"""

MILESTONES = (
    "plan_issued",
    "documents_drafted",
    "documents_commented",
    "personnel_plan_approved",
    "congress_held",
    "results_reported",
)
GOOD_RESULTS = {
    "delegatesExpected": 30,
    "delegatesPresent": 28,
    "membersElected": 9,
    "women": 3,
    "under40": 2,
    "ethnicMinority": 1,
    "secretaryDirectlyElected": True,
    "delegatesToHigherCongress": 4,
}


async def record(world: DemoWorld, subject: str, code: str, milestone: str, status: str = "DONE",
                 occurred_on: str | None = "2025-03-01", **extra: Any) -> dict[str, Any]:  # fmt: skip
    data = await world.client.query(
        subject,
        RECORD_MILESTONE,
        input={"committeeId": await committee_gid(world, code), "milestone": milestone, "status": status,
               "occurredOn": occurred_on, **extra},
    )  # fmt: skip
    result: dict[str, Any] = data["recordMilestone"]
    return result


async def hold_congress(world: DemoWorld, subject: str, code: str) -> None:
    """Walk a congress through every step up to and including being held."""
    for milestone in MILESTONES[:5]:
        result = await record(world, subject, code, milestone)
        assert result["__typename"] == "CongressPayload", result


async def congress_of(world: DemoWorld, subject: str, code: str) -> dict[str, Any]:
    data = await world.client.query(subject, CONGRESS, code=code)
    congress: dict[str, Any] = data["committee"]["congress"]
    return congress


def anyone(_committee: Committee) -> None:
    """`MilestoneWrite.may_record` for tests of the model, which record as anyone may."""
