"""The columns of the progress exports, one definition shared by the CSV and the XLSX.

Headers are Vietnamese for the people who read them, with the English (the API's words)
after; the numbers are those of `Committee.progress(term)`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from models import Committee, CongressReport, MilestoneTemplate, ReportState
from models.progress_summary import DUE_SOON_DAYS, ProgressCounts


class ColumnKind(Enum):
    TEXT = "text"
    COUNT = "count"
    # A share from 0 to 1: four decimals in the CSV, a percentage format in the spreadsheet.
    RATE = "rate"


@dataclass(frozen=True, slots=True)
class ReportRow:
    committee: Committee
    counts: ProgressCounts
    # The committee's own congress's report to the level above; None while a DRAFT.
    report: CongressReport | None = None


CellValue = str | int | float


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the export, for both formats: its header and how a row fills it."""

    header: str
    value: Callable[[ReportRow], CellValue]
    kind: ColumnKind = ColumnKind.COUNT
    # In characters, for the spreadsheet.
    width: int = 14


def _result_sum(name: str) -> Callable[[ReportRow], CellValue]:
    return lambda row: row.counts.result_sums.get(name, 0)


def _milestone_done(code: str) -> Callable[[ReportRow], CellValue]:
    return lambda row: row.counts.milestones_done.get(code, 0)


def _report_state(row: ReportRow) -> CellValue:
    return (row.report.state if row.report else ReportState.DRAFT).name


def _report_moment(attribute: str) -> Callable[[ReportRow], CellValue]:
    def value(row: ReportRow) -> CellValue:
        moment = None if row.report is None else getattr(row.report, attribute)
        return "" if moment is None else moment.isoformat(timespec="seconds")

    return value


def progress_columns(templates: Sequence[MilestoneTemplate]) -> list[Column]:
    """The export's columns, milestones in the order of the term's template. Headers are
    Vietnamese for the people who read them, with the English (the API's words) after."""
    return [
        Column("Mã đơn vị (code)", lambda row: row.committee.code, ColumnKind.TEXT),
        Column("Tên đơn vị (name)", lambda row: row.committee.name, ColumnKind.TEXT, 40),
        Column("Cấp (depth)", lambda row: row.committee.depth, width=8),
        Column("Tổng số đại hội (total)", lambda row: row.counts.total),
        Column("Đã tổ chức đại hội (held)", lambda row: row.counts.held),
        Column("Đã hoàn thành (completed)", lambda row: row.counts.completed),
        Column("Đang chuẩn bị (in progress)", lambda row: row.counts.in_progress),
        Column("Chưa bắt đầu (not started)", lambda row: row.counts.not_started),
        Column(
            "Tỷ lệ đã tổ chức (completion rate)",
            lambda row: row.counts.completion_rate,
            ColumnKind.RATE,
        ),
        Column("Quá hạn (overdue)", lambda row: row.counts.overdue),
        Column(
            f"Đến hạn trong {DUE_SOON_DAYS} ngày tới (due soon)", lambda row: row.counts.due_soon
        ),
        *(
            Column(
                f"{template.name}: đã xong ({template.code} done)",
                _milestone_done(template.code),
                width=20,
            )
            for template in templates
        ),
        Column(
            "Số đại hội đã báo cáo kết quả (congresses reporting)",
            lambda row: row.counts.results_recorded,
        ),
        Column("Cấp ủy viên được bầu (members elected)", _result_sum("members_elected")),
        Column("Trong đó nữ (women)", _result_sum("women")),
        Column("Trong đó dưới 40 tuổi (under 40)", _result_sum("under_40")),
        Column("Trong đó dân tộc thiểu số (ethnic minority)", _result_sum("ethnic_minority")),
        Column(
            "Bầu trực tiếp bí thư tại đại hội (secretary directly elected)",
            lambda row: row.counts.secretary_directly_elected,
        ),
        # The committee's own report to the level above (models/reports.py).
        Column("Báo cáo của đơn vị (report state)", _report_state, ColumnKind.TEXT),
        Column(
            "Ngày gửi báo cáo (report submitted at)",
            _report_moment("submitted_at"),
            ColumnKind.TEXT,
            26,
        ),
        Column(
            "Ngày duyệt, trả lại (report decided at)",
            _report_moment("decided_at"),
            ColumnKind.TEXT,
            26,
        ),
    ]
