"""GraphQL documents and helpers for the administration tests."""

from __future__ import annotations

from typing import Any

from tests.conftest import DemoWorld

ERRORS = """
fragment Errors on MutationError {
  __typename message
  ... on NotFound { field }
  ... on ValidationError { field }
  ... on Conflict { field }
}"""

USER_FIELDS = "id subject name active version assignments { role committee { code } }"
COMMITTEE_FIELDS = "id code name depth closedAt parent { code } mergedInto { code }"

CREATE_USER = f"""mutation($input: CreateUserInput!) {{ createUser(input: $input) {{
  __typename ... on CreateUserPayload {{ user {{ {USER_FIELDS} }} }} ...Errors }} }} {ERRORS}"""
GRANT_ROLE = f"""mutation($input: GrantRoleInput!) {{ grantRole(input: $input) {{
  __typename ... on RolePayload {{ user {{ {USER_FIELDS} }} }} ...Errors }} }} {ERRORS}"""
REVOKE_ROLE = f"""mutation($input: RevokeRoleInput!) {{ revokeRole(input: $input) {{
  __typename ... on RolePayload {{ user {{ {USER_FIELDS} }} }} ...Errors }} }} {ERRORS}"""
DEACTIVATE_USER = f"""mutation($input: UserIdInput!) {{ deactivateUser(input: $input) {{
  __typename ... on UserActivePayload {{ user {{ {USER_FIELDS} }} }} ...Errors }} }} {ERRORS}"""
REACTIVATE_USER = DEACTIVATE_USER.replace("deactivateUser", "reactivateUser")
CREATE_COMMITTEE = f"""mutation($input: CreateCommitteeInput!) {{ createCommittee(input: $input) {{
  __typename ... on CommitteePayload {{ committee {{ {COMMITTEE_FIELDS} congress {{ id }} }} }} ...Errors }} }} {ERRORS}"""
RENAME_COMMITTEE = f"""mutation($input: RenameCommitteeInput!) {{ renameCommittee(input: $input) {{
  __typename ... on CommitteePayload {{ committee {{ {COMMITTEE_FIELDS} }} }} ...Errors }} }} {ERRORS}"""
MOVE_COMMITTEE = f"""mutation($input: MoveCommitteeInput!) {{ moveCommittee(input: $input) {{
  __typename ... on CommitteePayload {{ committee {{ {COMMITTEE_FIELDS} }} }} ...Errors }} }} {ERRORS}"""
CLOSE_COMMITTEE = f"""mutation($input: CloseCommitteeInput!) {{ closeCommittee(input: $input) {{
  __typename ... on CommitteePayload {{ committee {{ {COMMITTEE_FIELDS} }} }} ...Errors }} }} {ERRORS}"""
MERGE_COMMITTEES = f"""mutation($input: MergeCommitteesInput!) {{ mergeCommittees(input: $input) {{
  __typename ... on MergeCommitteesPayload {{ merged {{ {COMMITTEE_FIELDS} }} into {{ {COMMITTEE_FIELDS} }} }}
  ...Errors }} }} {ERRORS}"""

AUDIT_LOG = """query($under: ID, $first: Int) { auditLog(under: $under, first: $first) {
  totalCount nodes { action actorSubject targetType targetId committee { code } before after requestId } } }"""
USERS = f"""query($under: ID, $search: String) {{ users(under: $under, search: $search, first: 100) {{
  totalCount nodes {{ {USER_FIELDS} }} }} }}"""


async def committee_gid(world: DemoWorld, code: str) -> str:
    """The global id of a committee, read by a central admin."""
    from models import Role
    from models.demo import CENTRAL_CODE
    from tests.conftest import demo_user

    data = await world.client.query(
        demo_user(Role.ADMIN, CENTRAL_CODE),
        "query($code: String!) { committee(code: $code) { id } }",
        code=code,
    )
    return str(data["committee"]["id"])


async def user_gid(world: DemoWorld, subject: str) -> str:
    from models import Role
    from models.demo import CENTRAL_CODE
    from tests.conftest import demo_user

    data = await world.client.query(demo_user(Role.ADMIN, CENTRAL_CODE), USERS, search=subject)
    [user] = [node for node in data["users"]["nodes"] if node["subject"] == subject]
    return str(user["id"])


async def mutate(
    world: DemoWorld, as_subject: str, document: str, /, **input_fields: Any
) -> dict[str, Any]:
    """Run a one-field mutation as `as_subject` with `input`; return that field's result."""
    data = await world.client.query(as_subject, document, input=input_fields)
    [result] = data.values()
    assert isinstance(result, dict)
    return result
