"""Changes to the tree itself: create, rename, move, merge, close. Each writes its audit row.

As in `models.accounts`, who may act is checked by the caller; these functions keep the
tree consistent (no cycles, no work on closed units, paths rewritten in the same
transaction) and record what changed.
"""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts import checked_display_name
from models.audit import Actor, append_audit
from models.base import utc_now
from models.change_feed import ChangeKind, publish
from models.congress import Congress, Term
from models.refusals import Conflicting, Contention, Invalid
from models.rollups import rollups_follow
from models.text import search_key
from models.tree import Committee, CommitteeKind, child_path, is_in_subtree, require_open
from models.tree_moves import move_children, move_subtree
from models.users import Assignment, User
from models.versions import check_expected_version, claim_next_version

CODE_PATTERN = re.compile(r"[A-Za-z0-9._/-]{1,64}")


def checked_code(code: str) -> str:
    code = code.strip()
    if not CODE_PATTERN.fullmatch(code):
        raise Invalid("The code must be 1-64 letters, digits or . _ / - (no spaces).", field="code")
    return code


async def create_committee(
    session: AsyncSession,
    actor: Actor,
    *,
    parent: Committee,
    code: str,
    name: str,
    kind: CommitteeKind,
) -> Committee:
    """A new open committee under `parent`, with its congress in the current term."""
    code = checked_code(code)
    name = checked_display_name(name)
    require_open(parent, "parentId")
    if await session.scalar(select(Committee.id).where(Committee.code == code)) is not None:
        raise Conflicting("A committee with this code already exists.", field="code")
    # The path holds the new id, which only the insert gives: insert under a unique
    # placeholder, then write the real path in the same transaction.
    committee = Committee(
        parent_id=parent.id,
        code=code,
        name=name,
        search_name=search_key(name),
        kind=kind,
        depth=parent.depth + 1,
        path=f"/pending-{uuid.uuid4().hex}/",
    )
    session.add(committee)
    try:
        await session.flush()
    except IntegrityError as error:
        # The same code created concurrently: run again, and the check above answers.
        raise Contention("committee code taken concurrently") from error
    current_term = await session.scalar(
        select(Term.id).where(Term.is_current).order_by(Term.starts_on.desc()).limit(1)
    )
    async with rollups_follow(session, Congress.committee_id == committee.id):
        committee.path = child_path(parent.path, committee.id)
        if current_term is not None:
            session.add(Congress(committee_id=committee.id, term_id=current_term))
    append_audit(
        session,
        actor,
        action="committee.create",
        committee_id=committee.id,
        target_type="Committee",
        target_id=committee.id,
        after={"code": code, "name": name, "kind": kind.value, "parent": _ref(parent)},
    )
    await session.flush()
    _publish_tree_change(session, committee, "create")
    return committee


async def rename_committee(
    session: AsyncSession,
    actor: Actor,
    *,
    committee: Committee,
    name: str,
    expected_version: int | None = None,
) -> None:
    name = checked_display_name(name)
    require_open(committee, "id")
    if name == committee.name:
        check_expected_version(committee, expected_version)
        return
    await claim_next_version(session, committee, expected_version)
    append_audit(
        session,
        actor,
        action="committee.rename",
        committee_id=committee.id,
        target_type="Committee",
        target_id=committee.id,
        before={"name": committee.name},
        after={"name": name},
    )
    committee.name = name
    committee.search_name = search_key(name)
    _publish_tree_change(session, committee, "rename")
    await session.flush()


async def move_committee(
    session: AsyncSession,
    actor: Actor,
    *,
    committee: Committee,
    new_parent: Committee,
    expected_version: int | None = None,
) -> None:
    """Put `committee` and its whole subtree under `new_parent`, rewriting every path below."""
    require_open(committee, "id")
    require_open(new_parent, "newParentId")
    if is_in_subtree(new_parent.path, committee.path):
        raise Invalid(
            "A committee cannot move under itself or one of its own descendants.",
            field="newParentId",
        )
    if committee.parent_id == new_parent.id:
        check_expected_version(committee, expected_version)
        return
    await claim_next_version(session, committee, expected_version)
    old_parent_id, old_path = committee.parent_id, committee.path
    await move_subtree(session, committee.id, new_parent.id)
    append_audit(
        session,
        actor,
        action="committee.move",
        committee_id=committee.id,
        target_type="Committee",
        target_id=committee.id,
        before={"parent": _ref_id(old_parent_id)},
        after={"parent": _ref(new_parent)},
    )
    _publish_tree_change(session, committee, "move", previous_path=old_path)
    await session.flush()


async def merge_committees(
    session: AsyncSession,
    actor: Actor,
    *,
    source: Committee,
    target: Committee,
    expected_version: int | None = None,
) -> None:
    """Fold `source` into `target`: its children, congresses and officials move to `target`,
    and `source` is closed (never deleted), keeping what could not move and its history."""
    require_open(source, "fromId")
    require_open(target, "intoId")
    if source.id == target.id or is_in_subtree(target.path, source.path):
        raise Invalid(
            "A committee cannot be merged into itself or one of its own descendants.",
            field="intoId",
        )
    # `expected_version` is the merged unit's; the one that takes over changes too.
    await claim_next_version(session, source, expected_version)
    await claim_next_version(session, target, None)
    moved_children = await move_children(session, source, target)
    async with rollups_follow(session, Congress.committee_id.in_([source.id, target.id])):
        moved_congresses = await _move_congresses(session, source.id, target.id)
        await session.execute(
            update(Committee)
            .where(Committee.id == source.id)
            .values(closed_at=utc_now(), merged_into_id=target.id)
        )
    moved_roles = await _move_assignments(session, source.id, target.id)
    details = {
        "children": moved_children,
        "congresses": moved_congresses,
        "roles": moved_roles,
    }
    for committee_id, role in ((source.id, "from"), (target.id, "into")):
        append_audit(
            session,
            actor,
            action=f"committee.merge_{role}",
            committee_id=committee_id,
            target_type="Committee",
            target_id=source.id,
            before={"from": _ref(source), "into": _ref(target)},
            after=details,
        )
    _publish_tree_change(session, source, "merge", previous_path=source.path)
    await session.flush()


async def close_committee(
    session: AsyncSession,
    actor: Actor,
    *,
    committee: Committee,
    expected_version: int | None = None,
) -> None:
    """Close a unit with no open children; its records stay readable. No-op if already closed."""
    if committee.is_closed:
        check_expected_version(committee, expected_version)
        return
    open_children = await session.scalar(
        select(Committee.id)
        .where(Committee.parent_id == committee.id, Committee.closed_at.is_(None))
        .limit(1)
    )
    if open_children is not None:
        raise Invalid(
            "This committee still has open committees below it: move, merge or close them first.",
            field="id",
        )
    await claim_next_version(session, committee, expected_version)
    async with rollups_follow(session, Congress.committee_id == committee.id):
        committee.closed_at = utc_now()
    append_audit(
        session,
        actor,
        action="committee.close",
        committee_id=committee.id,
        target_type="Committee",
        target_id=committee.id,
        before={"closed": False},
        after={"closed": True},
    )
    _publish_tree_change(session, committee, "close")
    await session.flush()


async def _move_congresses(session: AsyncSession, source_id: int, target_id: int) -> int:
    """A term's congress moves unless the target already holds one for that term."""
    taken_terms = select(Congress.term_id).where(Congress.committee_id == target_id)
    result = await session.execute(
        update(Congress)
        .where(Congress.committee_id == source_id, Congress.term_id.not_in(taken_terms))
        .values(committee_id=target_id)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def _move_assignments(session: AsyncSession, source_id: int, target_id: int) -> int:
    """Officials of the merged unit keep their role at the unit it became part of; where one
    already holds a role there, the higher of the two stays."""
    source_roles = list(
        await session.scalars(select(Assignment).where(Assignment.committee_id == source_id))
    )
    target_roles = {
        assignment.user_id: assignment
        for assignment in await session.scalars(
            select(Assignment).where(Assignment.committee_id == target_id)
        )
    }
    for assignment in source_roles:
        existing = target_roles.get(assignment.user_id)
        if existing is None:
            assignment.committee_id = target_id
            continue
        if assignment.role.rank > existing.role.rank:
            existing.role = assignment.role
        await session.delete(assignment)
    try:
        await session.flush()
    except IntegrityError as error:
        # A role granted at the target meanwhile: run the merge again with it in view.
        raise Contention("a role at the merge target changed concurrently") from error
    # Their roles changed, so do their versions (an admin holding an old one must re-read).
    moved_users = {assignment.user_id for assignment in source_roles}
    for user in await session.scalars(select(User).where(User.id.in_(moved_users))):
        await claim_next_version(session, user, None)
    return len(source_roles)


def _publish_tree_change(
    session: AsyncSession, committee: Committee, action: str, *, previous_path: str | None = None
) -> None:
    """Tell every worker the tree changed: live subscribers' access is read again, and after
    a move or a merge the subscriptions under `previous_path` (where the subtree was) end."""
    payload: dict[str, object] = {"action": action}
    if previous_path is not None:
        payload["previousPath"] = previous_path
    publish(
        session,
        ChangeKind.TREE,
        committee_id=committee.id,
        committee_path=previous_path or committee.path,
        payload=payload,
    )


def _ref(committee: Committee) -> dict[str, object]:
    """How the audit log names a committee: by global-id parts the reader can re-check."""
    return {"committeeId": committee.id, "code": committee.code, "name": committee.name}


def _ref_id(committee_id: int | None) -> dict[str, object] | None:
    return None if committee_id is None else {"committeeId": committee_id}
