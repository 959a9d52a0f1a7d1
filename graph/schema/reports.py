"""A congress's report to the level above, as readers see it (models/reports.py)."""

from __future__ import annotations

import datetime

import strawberry

from graph.context import Context, Info
from graph.planner.fields import for_each, planned
from graph.schema.errors import ReportMissingItem, ReportState
from models import Congress as CongressRow
from models.report_rows import FIRST_VERSION, LOCKING_STATES
from models.report_rows import ReportState as ReportStateValue
from models.reports import missing_for_report
from permissions.visible import ReportRead


@strawberry.type(description="An official named on a report.")
class ReportOfficial:
    name: str


async def _missing(context: Context, report: CongressReport) -> list[ReportMissingItem]:
    if report.state in LOCKING_STATES:
        return []  # complete when submitted, and locked since
    missing = await missing_for_report(context.session, report.congress)
    return [
        ReportMissingItem(kind=item.kind, code=item.code, label=item.label, count=item.count)
        for item in missing
    ]


@strawberry.type(
    description="The congress's report: DRAFT → SUBMITTED → APPROVED, SUBMITTED → RETURNED → "
    "SUBMITTED, APPROVED → REOPENED → SUBMITTED. Its milestones, results and deadline are "
    "locked while it is SUBMITTED or APPROVED."
)
class CongressReport:
    congress: strawberry.Private[CongressRow]
    state: ReportState  # type: ignore[valid-type]
    version: int = strawberry.field(description="Send it back as expectedVersion.")
    submitted_at: datetime.datetime | None
    submitted_by: ReportOfficial | None
    decided_at: datetime.datetime | None = strawberry.field(
        description="When it was last approved, returned or reopened."
    )
    decided_by: ReportOfficial | None
    reason: str | None = strawberry.field(description="Why it was returned or reopened.")

    @classmethod
    def of(cls, congress: CongressRow, read: ReportRead | None) -> CongressReport:
        if read is None:
            return cls(
                congress=congress,
                state=ReportStateValue.DRAFT,
                version=FIRST_VERSION,
                submitted_at=None,
                submitted_by=None,
                decided_at=None,
                decided_by=None,
                reason=None,
            )
        report = read.report
        return cls(
            congress=congress,
            state=report.state,
            version=report.version,
            submitted_at=report.submitted_at,
            submitted_by=_official(read.submitted_by_name),
            decided_at=report.decided_at,
            decided_by=_official(read.decided_by_name),
            reason=report.reason,
        )

    @strawberry.field(
        description="What the term's template still asks before it can be submitted "
        "(one read per report: ask it of one congress, not of a whole page).",
        metadata=planned(for_each(_missing)),
    )
    async def missing(self, info: Info) -> list[ReportMissingItem]:
        return await _missing(info.context, self)


def _official(name: str | None) -> ReportOfficial | None:
    return None if name is None else ReportOfficial(name=name)
