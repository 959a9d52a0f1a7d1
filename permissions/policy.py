"""Who may change what: every write rule of the API, in one place.

Each rule raises `NotAllowed` (the viewer can see the object but their role does not let
them do this) and returns nothing otherwise. Rules are only ever asked about objects the
viewer can see: whether an object is visible at all is the read side's question
(permissions/visible.py), and an invisible one is `NotVisible` before any rule runs.

A role covers the whole subtree below the committee it is held at, so "the role at X"
is satisfied by an assignment at X or at any level above it (`Viewer.has_role_at`).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from models import Committee, Role, User, accounts
from models.refusals import Conflicting, NotAllowed
from models.tree import parent_path
from permissions.viewer import Viewer

# Progress: milestones, results.


def may_record_progress(viewer: Viewer, committee: Committee) -> None:
    if not viewer.has_role_at(committee.path, Role.REPORTER):
        raise NotAllowed("You need the reporter role at this committee to record its progress.")


# Deadlines: set from above.


def may_set_deadline(viewer: Viewer, committee: Committee) -> None:
    """One congress's deadline is its parent level's decision."""
    _require_admin_above(viewer, committee)


def may_set_level_deadlines(viewer: Viewer, under: Committee) -> None:
    """A whole level's deadlines below a committee the viewer administers."""
    _require_admin_at(viewer, under)


# Difficulties.


def may_raise_difficulty(viewer: Viewer, committee: Committee) -> None:
    _require_reporter_at(viewer, committee, "You need the reporter role at this committee.")


def may_comment_difficulty(viewer: Viewer, raised_at: Committee | None) -> None:
    """Comments come from where the difficulty was raised, or any level above it."""
    _require_reporter_at(
        viewer, raised_at, "You need the reporter role where this difficulty was raised."
    )


def may_escalate_difficulty(viewer: Viewer, handled_at: Committee | None) -> None:
    """The level handling a difficulty now decides on it. `handled_at` is None when that
    level is outside the viewer's scope (escalated above them): they hold no role there."""
    _require_reporter_at(
        viewer,
        handled_at,
        "Only the level handling this difficulty (or one above it) can escalate it.",
    )


def may_resolve_difficulty(viewer: Viewer, handled_at: Committee | None) -> None:
    _require_reporter_at(
        viewer,
        handled_at,
        "Only the level handling this difficulty (or one above it) can resolve it.",
    )


# Reports up the tree (models/reports.py).


def may_submit_report(viewer: Viewer, committee: Committee) -> None:
    if not viewer.has_role_at(committee.path, Role.REPORTER):
        raise NotAllowed("You need the reporter role at this committee to submit its report.")


def may_decide_report(viewer: Viewer, committee: Committee) -> None:
    """Approving, returning or reopening a report is a level above's decision, by an
    approver (or admin) there, and never by an official of the committee itself."""
    above = parent_path(committee.path)
    if above is None or not viewer.has_role_at(above, Role.APPROVER):
        raise NotAllowed("Only an approver of a level above can decide on this report.")
    if any(grant.committee_id == committee.id for grant in viewer.grants):
        raise NotAllowed("You cannot decide on the report of a committee you are assigned to.")


# Accounts.


def may_create_user(viewer: Viewer, committee: Committee, role: Role) -> None:
    _require_admin_at(viewer, committee)
    _require_role_within_own(viewer, committee, role)


def may_administer_roles_at(viewer: Viewer, committee: Committee) -> None:
    """Checked before the user is looked up: a non-admin learns "Forbidden" about the
    committee rather than anything about users, who are visible only to admins."""
    _require_admin_at(viewer, committee)


def may_grant_role(viewer: Viewer, user: User, committee: Committee, role: Role) -> None:
    _require_admin_at(viewer, committee)
    _require_not_self(viewer, user, "You cannot change your own roles.")
    _require_role_within_own(viewer, committee, role)


def may_revoke_role(viewer: Viewer, committee: Committee) -> None:
    _require_admin_at(viewer, committee)


async def may_keep_own_admins(session: AsyncSession, viewer: Viewer) -> None:
    """After a revocation: nobody may leave a committee where they hold admin without any
    active admin (checked on the state the revocation leaves, in its transaction)."""
    for grant in viewer.grants:
        if grant.role is Role.ADMIN and not await accounts.active_admins_at(
            session, grant.committee_id
        ):
            raise Conflicting(
                "This would leave a committee you administer without any admin.",
                field="userId",
            )


def may_set_user_active(viewer: Viewer, user: User, role_paths: Iterable[str]) -> None:
    """Deactivating or reactivating someone takes administering every role they hold."""
    _require_not_self(viewer, user, "You cannot deactivate or reactivate yourself.")
    if not all(viewer.has_role_at(path, Role.ADMIN) for path in role_paths):
        raise NotAllowed("This user holds roles you do not administer.")


# The tree.


def may_create_committee(viewer: Viewer, parent: Committee) -> None:
    _require_admin_at(viewer, parent)


def may_rename_committee(viewer: Viewer, committee: Committee) -> None:
    _require_admin_at(viewer, committee)


def may_move_committee(viewer: Viewer, committee: Committee, new_parent: Committee) -> None:
    _require_admin_above(viewer, committee)
    _require_admin_at(viewer, new_parent)


def may_merge_committees(viewer: Viewer, source: Committee, target: Committee) -> None:
    _require_admin_above(viewer, source)
    _require_admin_at(viewer, target)


def may_close_committee(viewer: Viewer, committee: Committee) -> None:
    _require_admin_above(viewer, committee)


def _require_admin_at(viewer: Viewer, committee: Committee) -> None:
    if not viewer.has_role_at(committee.path, Role.ADMIN):
        raise NotAllowed("You need the admin role at this committee.")


def _require_admin_above(viewer: Viewer, committee: Committee) -> None:
    """Moving, merging away, closing a unit or setting its deadline is its parent level's
    decision: the viewer must administer the parent, so nobody does it to their own root."""
    above = parent_path(committee.path)
    if above is None or not viewer.has_role_at(above, Role.ADMIN):
        raise NotAllowed("Only an admin of the level above can do this to this committee.")


def _require_reporter_at(viewer: Viewer, committee: Committee | None, message: str) -> None:
    # A committee outside the scope (a level above it) is one where the viewer has no role.
    if committee is None or not viewer.has_role_at(committee.path, Role.REPORTER):
        raise NotAllowed(message)


def _require_role_within_own(viewer: Viewer, committee: Committee, role: Role) -> None:
    own = viewer.role_at(committee.path)
    if own is None or role.rank > own.rank:
        raise NotAllowed("You cannot grant a role above your own at this committee.")


def _require_not_self(viewer: Viewer, user: User, message: str) -> None:
    if user.id == viewer.user_id:
        raise NotAllowed(message)
