"""The demo's reports up the tree: after its months of activity (domain/demo_activity.py),
the reports the demo's places would have on the day it was built, in every state.

Through the one write road (the unit of work with the policy, `models.reports`), each as
its official, stamped on the evening before `today` (after every recorded change, so the
feed still follows time):

- at the demo ward (X00004): its last completed cell's report submitted, waiting in the
  ward's inbox (and the province's: an approver's inbox holds every report waiting
  below), and a first completed cell's, if another, submitted and approved;
- in Hà Nội (T01): completed cells of other wards submitted, one returned with a reason,
  one approved and reopened, one approved, one left waiting.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.demo_activity import DemoActivityError, Official, RoadWrite, write_on_the_road
from domain.unit_of_work import UnitOfWork
from models import Committee, Congress, CongressStatus, Role, Term, User
from models.congress_progress import LOCAL_TIMEZONE
from models.demo import DEMO_PROVINCE_CODE, demo_commune_code, demo_user_subject
from models.reports import ReportAction, change_report
from models.shielded_session import ShieldedSession
from models.tree import subtree_condition
from permissions import policy


@dataclass(frozen=True, slots=True)
class Step:
    code: str  # the committee whose report moves
    action: ReportAction
    subject: str  # who moves it
    reason: str | None = None


async def _completed_cells(session: AsyncSession, under_code: str, term_id: int) -> list[str]:
    """The codes of the cells below `under_code` whose congresses are completed, in order."""
    under_path = await session.scalar(select(Committee.path).where(Committee.code == under_code))
    assert under_path is not None, under_code
    rows = await session.scalars(
        select(Committee.code)
        .join(Congress, Congress.committee_id == Committee.id)
        .where(
            subtree_condition(Committee.path, under_path),
            Committee.code.contains("-"),  # the demo's cells: <ward code>-NNN
            Congress.term_id == term_id,
            Congress.status == CongressStatus.COMPLETED,
        )
        .order_by(Committee.path)
    )
    return list(rows)


def _steps(ward_cells: Sequence[str], province_cells: Sequence[str]) -> list[Step]:
    ward = demo_commune_code()
    ward_reporter = demo_user_subject(Role.REPORTER, ward)
    ward_approver = demo_user_subject(Role.APPROVER, ward)
    province_approver = demo_user_subject(Role.APPROVER, DEMO_PROVINCE_CODE)
    province_reporter = demo_user_subject(Role.REPORTER, DEMO_PROVINCE_CODE)
    # The ward's last completed cell waits in its inbox; a first one, if another, is
    # approved already.
    steps = [
        *(
            [
                Step(ward_cells[0], ReportAction.SUBMIT, ward_reporter),
                Step(ward_cells[0], ReportAction.APPROVE, ward_approver),
            ]
            if len(ward_cells) > 1
            else []
        ),
        Step(ward_cells[-1], ReportAction.SUBMIT, ward_reporter),
    ]
    returned, reopened, waiting, approved = province_cells[:4]
    steps += [
        Step(returned, ReportAction.SUBMIT, province_reporter),
        Step(returned, ReportAction.RETURN, province_approver, "Thiếu biên bản kiểm phiếu."),
        Step(reopened, ReportAction.SUBMIT, province_reporter),
        Step(reopened, ReportAction.APPROVE, province_approver),
        Step(reopened, ReportAction.REOPEN, province_approver, "Số đại biểu có mặt chưa khớp."),
        Step(waiting, ReportAction.SUBMIT, province_reporter),
        Step(approved, ReportAction.SUBMIT, province_reporter),
        Step(approved, ReportAction.APPROVE, province_approver),
    ]
    return steps


async def record_demo_reports(engine: AsyncEngine, today: date) -> int:
    """Move the demo's reports (see the module docstring); how many transitions."""
    async with AsyncSession(engine) as session:
        term_id = await session.scalar(select(Term.id).where(Term.is_current))
        assert term_id is not None, "the demo has a current term"
        ward_cells = await _completed_cells(session, demo_commune_code(), term_id)
        province_cells = [
            code
            for code in await _completed_cells(session, DEMO_PROVINCE_CODE, term_id)
            if not code.startswith(demo_commune_code())
        ]
        steps = (
            _steps(ward_cells, province_cells) if ward_cells and len(province_cells) >= 4 else []
        )
        if not steps:
            raise DemoActivityError("the demo has too few completed cells for its reports")
        user_ids = dict(
            (
                await session.execute(
                    select(User.subject, User.id).where(
                        User.subject.in_({step.subject for step in steps})
                    )
                )
            ).all()
        )
    evening = datetime.combine(today - timedelta(days=1), time(18, 0), LOCAL_TIMEZONE)
    sessions = async_sessionmaker(engine, class_=ShieldedSession, expire_on_commit=False)
    for number, step in enumerate(steps):
        at = evening + timedelta(minutes=5 * number)
        official = Official(user_ids[step.subject], step.subject, demo_user=True)
        write = RoadWrite(int(at.timestamp()) // 60, number, official, _change(step))
        await write_on_the_road(sessions, write)
    return len(steps)


def _change(step: Step) -> Callable[[UnitOfWork], Awaitable[None]]:
    """The step as a change on the one road: the policy's rule for it, then the
    transition."""

    async def change(unit: UnitOfWork) -> None:
        committee = await unit.session.scalar(select(Committee).where(Committee.code == step.code))
        assert committee is not None, step.code
        if step.action is ReportAction.SUBMIT:
            policy.may_submit_report(unit.viewer, committee)
        else:
            policy.may_decide_report(unit.viewer, committee)
        congress = await unit.session.scalar(
            select(Congress)
            .join(Term, Term.id == Congress.term_id)
            .where(Congress.committee_id == committee.id, Term.is_current)
        )
        assert congress is not None, step.code
        await change_report(
            unit.session,
            unit.actor,
            committee=committee,
            congress=congress,
            action=step.action,
            expected_version=None,
            reason=step.reason,
        )

    return change
