"""Accounts, level by level: admins act only inside their subtree and never above their role."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from models import Assignment, AuditEntry, Role, User
from models.demo import CENTRAL_CODE, DEMO_PROVINCE_CODE
from tests.admin_api import (
    AUDIT_LOG,
    CREATE_USER,
    DEACTIVATE_USER,
    GRANT_ROLE,
    REACTIVATE_USER,
    REVOKE_ROLE,
    USERS,
    committee_gid,
    mutate,
    user_gid,
)
from tests.conftest import (
    INACTIVE_VIEWER,
    SIBLING_PROVINCE_CODE,
    SIBLING_VIEWER,
    TWO_SUBTREES_VIEWER,
    DemoWorld,
    demo_cell_code,
    demo_commune_code,
    demo_user,
)

PROVINCE_ADMIN = demo_user(Role.ADMIN, DEMO_PROVINCE_CODE)
NEW_SUBJECT = "001200000099"


async def count_rows(
    world: DemoWorld, model: type[User] | type[Assignment] | type[AuditEntry]
) -> int:
    async with world.engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(model)) or 0)


async def create_commune_reporter(world: DemoWorld) -> dict[str, Any]:
    return await mutate(
        world,
        PROVINCE_ADMIN,
        CREATE_USER,
        subject=NEW_SUBJECT,
        name="Nguyễn Thị Lan",
        committeeId=await committee_gid(world, demo_commune_code()),
        role="REPORTER",
    )


async def test_admin_creates_an_account_that_sees_only_its_subtree(fresh_world: DemoWorld) -> None:
    result = await create_commune_reporter(fresh_world)
    assert result["__typename"] == "CreateUserPayload"
    user = result["user"]
    assert user["subject"] == NEW_SUBJECT
    assert user["assignments"] == [{"role": "REPORTER", "committee": {"code": demo_commune_code()}}]
    seen = await fresh_world.client.query(NEW_SUBJECT, "{ committees(first: 100) { totalCount } }")
    commune_size = await fresh_world.client.query(
        PROVINCE_ADMIN,
        "query($code: String!) { committee(code: $code) { children { totalCount } } }",
        code=demo_commune_code(),
    )
    assert (
        seen["committees"]["totalCount"] == 1 + commune_size["committee"]["children"]["totalCount"]
    )


async def test_creating_an_account_is_audited_in_the_same_transaction(
    fresh_world: DemoWorld,
) -> None:
    await create_commune_reporter(fresh_world)
    log = await fresh_world.client.query(PROVINCE_ADMIN, AUDIT_LOG)
    [entry] = [e for e in log["auditLog"]["nodes"] if e["action"] == "user.create"]
    assert entry["actorSubject"] == PROVINCE_ADMIN
    assert entry["committee"] == {"code": demo_commune_code()}
    assert entry["after"] == {"subject": NEW_SUBJECT, "name": "Nguyễn Thị Lan", "role": "reporter"}
    assert entry["requestId"]


async def test_account_outside_the_subtree_is_not_found_like_a_missing_committee(
    fresh_world: DemoWorld,
) -> None:
    users_before = await count_rows(fresh_world, User)
    outside = await mutate(
        fresh_world, PROVINCE_ADMIN, CREATE_USER, subject=NEW_SUBJECT, name="X",
        committeeId=await committee_gid(fresh_world, SIBLING_PROVINCE_CODE), role="VIEWER",
    )  # fmt: skip
    missing = await mutate(
        fresh_world, PROVINCE_ADMIN, CREATE_USER, subject=NEW_SUBJECT, name="X",
        committeeId="Q29tbWl0dGVlOjk5OTk5OTk5", role="VIEWER",
    )  # fmt: skip
    assert (
        outside
        == missing
        == {"__typename": "NotFound", "message": "No committee found.", "field": "committeeId"}
    )
    assert await count_rows(fresh_world, User) == users_before


async def test_non_admins_cannot_create_accounts(fresh_world: DemoWorld) -> None:
    for role in (Role.VIEWER, Role.REPORTER):
        result = await mutate(
            fresh_world, demo_user(role, DEMO_PROVINCE_CODE), CREATE_USER, subject=NEW_SUBJECT,
            name="X", committeeId=await committee_gid(fresh_world, demo_commune_code()), role="VIEWER",
        )  # fmt: skip
        assert result["__typename"] == "Forbidden"


async def test_bad_account_input_is_a_validation_error_naming_the_field(
    fresh_world: DemoWorld,
) -> None:
    commune = await committee_gid(fresh_world, demo_commune_code())
    users_before = await count_rows(fresh_world, User)
    cases = [("has space", "Lan", "subject"), ("", "Lan", "subject"), ("x" * 65, "Lan", "subject"),
             (NEW_SUBJECT, "   ", "name"), (NEW_SUBJECT, "n" * 256, "name")]  # fmt: skip
    for subject, name, field in cases:
        result = await mutate(
            fresh_world,
            PROVINCE_ADMIN,
            CREATE_USER,
            subject=subject,
            name=name,
            committeeId=commune,
            role="VIEWER",
        )
        assert result["__typename"] == "ValidationError", (subject, name)
        assert result["field"] == field
    assert await count_rows(fresh_world, User) == users_before


async def test_wrong_types_are_refused_before_anything_runs(fresh_world: DemoWorld) -> None:
    commune = await committee_gid(fresh_world, demo_commune_code())
    errors = await fresh_world.client.query_errors(
        PROVINCE_ADMIN, CREATE_USER,
        input={"subject": NEW_SUBJECT, "name": "Lan", "committeeId": commune, "role": "SUPERUSER"},
    )  # fmt: skip
    assert "SUPERUSER" in errors[0]["message"]
    errors = await fresh_world.client.query_errors(
        PROVINCE_ADMIN,
        CREATE_USER,
        input={"subject": 12, "name": "Lan", "committeeId": commune, "role": "VIEWER"},
    )
    assert "String" in errors[0]["message"]


async def test_a_taken_subject_is_a_conflict_and_repeating_is_refused(
    fresh_world: DemoWorld,
) -> None:
    assert (await create_commune_reporter(fresh_world))["__typename"] == "CreateUserPayload"
    again = await create_commune_reporter(fresh_world)
    assert again == {
        "__typename": "Conflict",
        "message": "A user with this subject already exists.",
        "field": "subject",
    }


async def test_grant_is_idempotent_and_audited_once(fresh_world: DemoWorld) -> None:
    await create_commune_reporter(fresh_world)
    user = await user_gid(fresh_world, NEW_SUBJECT)
    cell = await committee_gid(fresh_world, demo_cell_code())
    audit_before = await count_rows(fresh_world, AuditEntry)
    for _ in range(2):
        result = await mutate(
            fresh_world, PROVINCE_ADMIN, GRANT_ROLE, userId=user, committeeId=cell, role="ADMIN"
        )
        assert result["__typename"] == "RolePayload"
    assert {"role": "ADMIN", "committee": {"code": demo_cell_code()}} in result["user"][
        "assignments"
    ]
    assert await count_rows(fresh_world, AuditEntry) == audit_before + 1


async def test_nobody_raises_their_own_rights(fresh_world: DemoWorld) -> None:
    me = await user_gid(fresh_world, PROVINCE_ADMIN)
    result = await mutate(
        fresh_world, PROVINCE_ADMIN, GRANT_ROLE, userId=me,
        committeeId=await committee_gid(fresh_world, demo_commune_code()), role="ADMIN",
    )  # fmt: skip
    assert result == {"__typename": "Forbidden", "message": "You cannot change your own roles."}


async def test_a_reporter_cannot_grant_even_reporter(fresh_world: DemoWorld) -> None:
    await create_commune_reporter(fresh_world)
    result = await mutate(
        fresh_world, demo_user(Role.REPORTER, DEMO_PROVINCE_CODE), GRANT_ROLE,
        userId=await user_gid(fresh_world, NEW_SUBJECT),
        committeeId=await committee_gid(fresh_world, demo_cell_code()), role="VIEWER",
    )  # fmt: skip
    assert result["__typename"] == "Forbidden"


async def test_users_outside_the_administration_are_not_found(fresh_world: DemoWorld) -> None:
    sibling = await user_gid(fresh_world, SIBLING_VIEWER)
    result = await mutate(
        fresh_world, PROVINCE_ADMIN, GRANT_ROLE, userId=sibling,
        committeeId=await committee_gid(fresh_world, demo_commune_code()), role="VIEWER",
    )  # fmt: skip
    assert result == {"__typename": "NotFound", "message": "No user found.", "field": "userId"}


async def test_the_last_admin_of_ones_own_root_stays(fresh_world: DemoWorld) -> None:
    me = await user_gid(fresh_world, PROVINCE_ADMIN)
    province = await committee_gid(fresh_world, DEMO_PROVINCE_CODE)
    result = await mutate(fresh_world, PROVINCE_ADMIN, REVOKE_ROLE, userId=me, committeeId=province)
    assert result["__typename"] == "Conflict"
    still = await fresh_world.client.query(PROVINCE_ADMIN, "{ viewer { assignments { role } } }")
    assert still["viewer"]["assignments"] == [{"role": "ADMIN"}]


async def test_revoking_a_role_that_does_not_exist_is_not_found(fresh_world: DemoWorld) -> None:
    await create_commune_reporter(fresh_world)
    result = await mutate(
        fresh_world, PROVINCE_ADMIN, REVOKE_ROLE, userId=await user_gid(fresh_world, NEW_SUBJECT),
        committeeId=await committee_gid(fresh_world, demo_cell_code()),
    )  # fmt: skip
    assert result["__typename"] == "NotFound"


async def test_revoking_the_only_role_in_scope_hides_the_user(fresh_world: DemoWorld) -> None:
    await create_commune_reporter(fresh_world)
    result = await mutate(
        fresh_world, PROVINCE_ADMIN, REVOKE_ROLE, userId=await user_gid(fresh_world, NEW_SUBJECT),
        committeeId=await committee_gid(fresh_world, demo_commune_code()),
    )  # fmt: skip
    assert result == {"__typename": "RolePayload", "user": None}


async def test_deactivation_stops_sign_in_and_reactivation_restores_it(
    fresh_world: DemoWorld,
) -> None:
    await create_commune_reporter(fresh_world)
    user = await user_gid(fresh_world, NEW_SUBJECT)
    token = fresh_world.client.token_for(NEW_SUBJECT)
    result = await mutate(fresh_world, PROVINCE_ADMIN, DEACTIVATE_USER, userId=user)
    assert result["user"]["active"] is False
    assert (await fresh_world.client.post("{ viewer { subject } }", token=token)).status_code == 401
    result = await mutate(fresh_world, PROVINCE_ADMIN, REACTIVATE_USER, userId=user)
    assert result["user"]["active"] is True
    assert (await fresh_world.client.post("{ viewer { subject } }", token=token)).status_code == 200


async def test_nobody_deactivates_themselves(fresh_world: DemoWorld) -> None:
    result = await mutate(
        fresh_world,
        PROVINCE_ADMIN,
        DEACTIVATE_USER,
        userId=await user_gid(fresh_world, PROVINCE_ADMIN),
    )
    assert result["__typename"] == "Forbidden"


async def test_a_user_with_roles_elsewhere_cannot_be_deactivated_from_one_branch(
    fresh_world: DemoWorld,
) -> None:
    # TWO_SUBTREES_VIEWER holds roles in Hà Nội and in Hồ Chí Minh.
    result = await mutate(
        fresh_world,
        PROVINCE_ADMIN,
        DEACTIVATE_USER,
        userId=await user_gid(fresh_world, TWO_SUBTREES_VIEWER),
    )
    assert result == {
        "__typename": "Forbidden",
        "message": "This user holds roles you do not administer.",
    }


async def test_users_lists_only_accounts_with_roles_in_the_administration(
    fresh_world: DemoWorld,
) -> None:
    data = await fresh_world.client.query(PROVINCE_ADMIN, USERS)
    subjects = {node["subject"] for node in data["users"]["nodes"]}
    assert SIBLING_VIEWER not in subjects
    assert demo_user(Role.ADMIN, CENTRAL_CODE) not in subjects
    assert {
        PROVINCE_ADMIN,
        demo_user(Role.VIEWER, demo_commune_code()),
        TWO_SUBTREES_VIEWER,
    } <= subjects
    two_subtrees = next(n for n in data["users"]["nodes"] if n["subject"] == TWO_SUBTREES_VIEWER)
    # Only the role inside Hà Nội shows; the one in Hồ Chí Minh is outside this admin's scope.
    assert two_subtrees["assignments"] == [
        {"role": "VIEWER", "committee": {"code": demo_commune_code()}}
    ]
    assert data["users"]["totalCount"] == len(subjects)


async def test_users_search_ignores_accents_and_viewers_see_no_accounts(
    fresh_world: DemoWorld,
) -> None:
    await create_commune_reporter(fresh_world)
    found = await fresh_world.client.query(PROVINCE_ADMIN, USERS, search="nguyen thi LAN")
    assert [node["subject"] for node in found["users"]["nodes"]] == [NEW_SUBJECT]
    as_viewer = await fresh_world.client.query(demo_user(Role.VIEWER, DEMO_PROVINCE_CODE), USERS)
    assert as_viewer["users"] == {"totalCount": 0, "nodes": []}


async def test_audit_log_is_scoped(fresh_world: DemoWorld) -> None:
    await create_commune_reporter(fresh_world)
    sibling_admin = await fresh_world.client.query(SIBLING_VIEWER, AUDIT_LOG)
    assert sibling_admin["auditLog"]["totalCount"] == 0
    central = await fresh_world.client.query(demo_user(Role.ADMIN, CENTRAL_CODE), AUDIT_LOG)
    assert [e["action"] for e in central["auditLog"]["nodes"]] == ["user.create"]


async def test_refused_logins_of_verified_identities_are_audited_for_root_admins(
    fresh_world: DemoWorld,
) -> None:
    inactive = await fresh_world.client.post(
        "{ viewer { subject } }", token=fresh_world.client.token_for(INACTIVE_VIEWER)
    )
    garbage = await fresh_world.client.post("{ viewer { subject } }", token="not-a-token")
    assert inactive.status_code == garbage.status_code == 401
    central = await fresh_world.client.query(demo_user(Role.ADMIN, CENTRAL_CODE), AUDIT_LOG)
    refusals = [e for e in central["auditLog"]["nodes"] if e["action"] == "login.refused"]
    assert refusals == [
        {
            "action": "login.refused",
            "actorSubject": INACTIVE_VIEWER,
            "targetType": None,
            "targetId": None,
            "committee": None,
            "before": None,
            "after": {"reason": "unknown_or_inactive_user"},
            "requestId": inactive.headers["x-request-id"],
        }
    ]
    province = await fresh_world.client.query(PROVINCE_ADMIN, AUDIT_LOG)
    assert [e for e in province["auditLog"]["nodes"] if e["action"] == "login.refused"] == []


async def test_a_verified_identity_retrying_in_a_loop_is_recorded_once(
    fresh_world: DemoWorld,
) -> None:
    token = fresh_world.client.token_for(INACTIVE_VIEWER)
    for _ in range(5):
        assert (
            await fresh_world.client.post("{ viewer { subject } }", token=token)
        ).status_code == 401
    central = await fresh_world.client.query(demo_user(Role.ADMIN, CENTRAL_CODE), AUDIT_LOG)
    assert [e["action"] for e in central["auditLog"]["nodes"]].count("login.refused") == 1
