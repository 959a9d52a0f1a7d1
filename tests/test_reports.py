"""Progress exports: the CSV and the spreadsheet say what the API's `progress` field says, one
row per committee at a depth, under the same token and scope rules."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import event, select

from graph import reports
from models import Committee, Role
from models.demo import CENTRAL_CODE, DEMO_PROVINCE_CODE
from models.tree import subtree_condition
from tests.admin_api import RENAME_COMMITTEE, committee_gid
from tests.conftest import (
    SIBLING_PROVINCE_CODE,
    DemoWorld,
    demo_cell_code,
    demo_commune_code,
    demo_user,
)
from tests.progress_api import GOOD_RESULTS, RECORD_RESULTS, hold_congress, record

CENTRAL_ADMIN = demo_user(Role.ADMIN, CENTRAL_CODE)
PROVINCE_ADMIN = demo_user(Role.ADMIN, DEMO_PROVINCE_CODE)
PROVINCE_REPORTER = demo_user(Role.REPORTER, DEMO_PROVINCE_CODE)
COMMUNE = demo_commune_code()
CELL = demo_cell_code()
TERM = "2025-2030"

FIXED_HEADERS = [
    "Mã đơn vị (code)",
    "Tên đơn vị (name)",
    "Cấp (depth)",
    "Tổng số đại hội (total)",
    "Đã tổ chức đại hội (held)",
    "Đã hoàn thành (completed)",
    "Đang chuẩn bị (in progress)",
    "Chưa bắt đầu (not started)",
    "Tỷ lệ đã tổ chức (completion rate)",
    "Quá hạn (overdue)",
    "Đến hạn trong 14 ngày tới (due soon)",
]
RESULT_HEADERS = [
    "Số đại hội đã báo cáo kết quả (congresses reporting)",
    "Cấp ủy viên được bầu (members elected)",
    "Trong đó nữ (women)",
    "Trong đó dưới 40 tuổi (under 40)",
    "Trong đó dân tộc thiểu số (ethnic minority)",
    "Bầu trực tiếp bí thư tại đại hội (secretary directly elected)",
]

REPORT_HEADERS = [
    "Báo cáo của đơn vị (report state)",
    "Ngày gửi báo cáo (report submitted at)",
    "Ngày duyệt, trả lại (report decided at)",
]

COMMITTEES_WITH_PROGRESS = """query($under: ID!, $depth: Int!, $term: String, $after: String) {
  committees(under: $under, depth: $depth, first: 100, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { code name depth progress(term: $term) {
      total congressesHeld congressesCompleted inProgress notStarted completionRate overdue dueSoon
      byMilestone { milestone name done }
      results { congressesReporting membersElected women under40 ethnicMinority secretaryDirectlyElected }
    }
    congress(term: $term) { report { state submittedAt decidedAt } } } } }"""


async def export(
    world: DemoWorld, subject: str | None, extension: str, **parameters: str
) -> httpx.Response:
    headers = (
        {} if subject is None else {"Authorization": f"Bearer {world.client.token_for(subject)}"}
    )
    return await world.client.http.get(
        f"/reports/progress.{extension}", params=parameters, headers=headers
    )


def csv_rows(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    # The byte order mark is what makes Excel read the file as UTF-8.
    assert response.content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))


def xlsx_rows(response: httpx.Response) -> list[list[Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == reports.XLSX_MEDIA_TYPE
    assert int(response.headers["content-length"]) == len(response.content)
    workbook = load_workbook(io.BytesIO(response.content), read_only=True)
    [sheet] = workbook.worksheets
    assert sheet.title == "Tiến độ đại hội"
    # An empty text cell reads back as None; the CSV writes it as "".
    return [
        ["" if value is None else value for value in row]
        for row in sheet.iter_rows(values_only=True)
    ]


def as_numbers(row: list[str]) -> list[Any]:
    """A CSV data row with its numbers as numbers (code, name and the report's columns stay
    text)."""
    numbers = row[2 : -len(REPORT_HEADERS)]
    return [
        *row[:2],
        *(float(cell) if "." in cell else int(cell) for cell in numbers),
        *row[-len(REPORT_HEADERS) :],
    ]


async def api_rows(
    world: DemoWorld, subject: str, under_code: str, depth: int
) -> list[dict[str, Any]]:
    under = await committee_gid(world, under_code)
    rows: list[dict[str, Any]] = []
    after = None
    while True:
        data = await world.client.query(
            subject, COMMITTEES_WITH_PROGRESS, under=under, depth=depth, term=TERM, after=after
        )
        page = data["committees"]
        rows.extend(page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            return rows
        after = page["pageInfo"]["endCursor"]


def expected_row(node: dict[str, Any]) -> list[Any]:
    """What the export should say about a committee, from the API's `progress` field."""
    progress = node["progress"]
    results = progress["results"]
    return [
        node["code"],
        node["name"],
        node["depth"],
        progress["total"],
        progress["congressesHeld"],
        progress["congressesCompleted"],
        progress["inProgress"],
        progress["notStarted"],
        progress["completionRate"],
        progress["overdue"],
        progress["dueSoon"],
        *(milestone["done"] for milestone in progress["byMilestone"]),
        results["congressesReporting"],
        results["membersElected"],
        results["women"],
        results["under40"],
        results["ethnicMinority"],
        results["secretaryDirectlyElected"],
        *report_cells(node["congress"]["report"]),
    ]


def report_cells(report: dict[str, Any]) -> list[str]:
    """The report's columns as the export writes them: its state, and its moments to the
    second ("" while none)."""
    moments = [
        ""
        if report[name] is None
        else datetime.fromisoformat(report[name]).isoformat(timespec="seconds")
        for name in ("submittedAt", "decidedAt")
    ]
    return [report["state"], *moments]


def assert_rows_match(exported: list[list[Any]], expected: list[list[Any]]) -> None:
    """Equal, the completion rate to the CSV's four decimals."""
    assert len(exported) == len(expected)
    rate = FIXED_HEADERS.index("Tỷ lệ đã tổ chức (completion rate)")
    for got, want in zip(exported, expected, strict=True):
        assert got[rate] == pytest.approx(want[rate], abs=5e-5), (got, want)
        assert got[:rate] + got[rate + 1 :] == want[:rate] + want[rate + 1 :]


async def record_some_progress(world: DemoWorld) -> None:
    """Numbers that are not all zero: a cell held with results, a commune started."""
    await hold_congress(world, PROVINCE_REPORTER, CELL)
    data = await world.client.query(
        PROVINCE_REPORTER,
        RECORD_RESULTS,
        input={"committeeId": await committee_gid(world, CELL), **GOOD_RESULTS},
    )
    assert data["recordResults"]["__typename"] == "CongressPayload", data
    started = await record(world, PROVINCE_REPORTER, COMMUNE, "plan_issued", "IN_PROGRESS")
    assert started["__typename"] == "CongressPayload", started


async def test_the_csv_says_what_the_api_says(fresh_world: DemoWorld) -> None:
    await record_some_progress(fresh_world)
    # No depth: the level just below `under`, here the provinces below the centre.
    response = await export(fresh_world, CENTRAL_ADMIN, "csv", under=CENTRAL_CODE, term=TERM)
    header, *rows = csv_rows(response)
    expected = await api_rows(fresh_world, CENTRAL_ADMIN, CENTRAL_CODE, depth=2)
    milestone_names = [m["name"] for m in expected[0]["progress"]["byMilestone"]]
    milestone_codes = [m["milestone"] for m in expected[0]["progress"]["byMilestone"]]
    assert header == [
        *FIXED_HEADERS,
        *(f"{name}: đã xong ({code} done)" for name, code in zip(milestone_names, milestone_codes, strict=True)),
        *RESULT_HEADERS,
        *REPORT_HEADERS,
    ]  # fmt: skip
    assert_rows_match([as_numbers(row) for row in rows], [expected_row(n) for n in expected])
    province = next(row for row in rows if row[0] == DEMO_PROVINCE_CODE)
    assert province[1] == "Thành ủy Hà Nội"
    assert as_numbers(province)[4] == 1  # the cell's congress, held
    assert sum(as_numbers(row)[3] for row in rows) > 0


async def test_the_spreadsheet_says_what_the_csv_says(fresh_world: DemoWorld) -> None:
    await record_some_progress(fresh_world)
    parameters = {"under": DEMO_PROVINCE_CODE, "depth": "4"}
    csv_export = csv_rows(await export(fresh_world, PROVINCE_ADMIN, "csv", **parameters))
    sheet = xlsx_rows(await export(fresh_world, PROVINCE_ADMIN, "xlsx", **parameters))
    assert sheet[0] == csv_export[0]
    assert_rows_match(sheet[1:], [as_numbers(row) for row in csv_export[1:]])
    assert any(row[0] == CELL and row[4] == 1 for row in sheet[1:])
    assert all(
        isinstance(value, int | float)
        for row in sheet[1:]
        for value in row[2 : -len(REPORT_HEADERS)]
    )


async def test_exports_are_downloads_named_for_what_they_hold(demo_world: DemoWorld) -> None:
    for extension in ("csv", "xlsx"):
        response = await export(demo_world, PROVINCE_ADMIN, extension, under=DEMO_PROVINCE_CODE)
        assert response.headers["content-disposition"] == (
            f'attachment; filename="tien-do-dai-hoi_T01_2025-2030_cap-3.{extension}"'
        )


async def test_under_is_a_global_id_or_a_code(demo_world: DemoWorld) -> None:
    by_code = await export(demo_world, PROVINCE_ADMIN, "csv", under=DEMO_PROVINCE_CODE)
    by_id = await export(
        demo_world, PROVINCE_ADMIN, "csv", under=await committee_gid(demo_world, DEMO_PROVINCE_CODE)
    )
    assert csv_rows(by_id) == csv_rows(by_code)
    assert {row[2] for row in csv_rows(by_code)[1:]} == {"3"}


async def test_keyset_pages_make_the_same_export(
    demo_world: DemoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    parameters = {"under": DEMO_PROVINCE_CODE, "depth": "4"}
    in_one_page = csv_rows(await export(demo_world, PROVINCE_ADMIN, "csv", **parameters))
    # 2 divides the number of cells (2 per commune): the last page is full, then one empty.
    for page_size in (7, 2):
        monkeypatch.setattr(reports, "EXPORT_PAGE_SIZE", page_size)
        paged = csv_rows(await export(demo_world, PROVINCE_ADMIN, "csv", **parameters))
        assert paged == in_one_page
        sheet = xlsx_rows(await export(demo_world, PROVINCE_ADMIN, "xlsx", **parameters))
        assert [row[0] for row in sheet] == [row[0] for row in in_one_page]
    assert len(in_one_page) - 1 > 7


async def test_statements_grow_with_pages_not_rows(
    demo_world: DemoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    for page_size in (500, 10):
        monkeypatch.setattr(reports, "EXPORT_PAGE_SIZE", page_size)
        statements.clear()
        event.listen(demo_world.engine.sync_engine, "before_cursor_execute", count)
        try:
            rows = csv_rows(
                await export(demo_world, PROVINCE_ADMIN, "csv", under=DEMO_PROVINCE_CODE, depth="4")
            )
        finally:
            event.remove(demo_world.engine.sync_engine, "before_cursor_execute", count)
        pages = (len(rows) - 1) // page_size + 1
        # Authentication, the snapshot, term, `under` and templates; then three a page.
        assert len(statements) <= 8 + 3 * pages, statements


async def test_a_province_exports_only_its_province(demo_world: DemoWorld) -> None:
    province_path = await demo_world.committee_path(DEMO_PROVINCE_CODE)
    async with demo_world.engine.connect() as connection:
        inside = set(
            await connection.scalars(
                select(Committee.code).where(subtree_condition(Committee.path, province_path))
            )
        )
    for extension in ("csv", "xlsx"):
        response = await export(
            demo_world, PROVINCE_ADMIN, extension, under=DEMO_PROVINCE_CODE, depth="4"
        )
        rows = csv_rows(response) if extension == "csv" else xlsx_rows(response)
        codes = [row[0] for row in rows[1:]]
        assert codes
        assert set(codes) <= inside


async def test_outside_the_scope_is_the_same_404_as_nowhere(demo_world: DemoWorld) -> None:
    nowhere = await export(demo_world, PROVINCE_ADMIN, "csv", under="KHONG-CO")
    assert nowhere.status_code == 404
    assert nowhere.json() == {
        "errors": [
            {
                "message": "No committee found for `under`.",
                "extensions": {"code": "NOT_FOUND", "argument": "under"},
            }
        ]
    }
    centre_id = await committee_gid(demo_world, CENTRAL_CODE)
    for under in (CENTRAL_CODE, SIBLING_PROVINCE_CODE, centre_id, "Q29tbWl0dGVlOjk5OTk5OTk="):
        for extension in ("csv", "xlsx"):
            response = await export(demo_world, PROVINCE_ADMIN, extension, under=under, depth="2")
            assert (response.status_code, response.content) == (404, nowhere.content), under


async def test_no_token_is_refused_as_by_graphql(demo_world: DemoWorld) -> None:
    graphql = await demo_world.client.post("{ viewer { subject } }")
    assert graphql.status_code == 401
    for extension in ("csv", "xlsx"):
        response = await export(demo_world, None, extension, under=CENTRAL_CODE)
        assert response.status_code == 401
        assert response.content == graphql.content
        assert response.headers["www-authenticate"] == graphql.headers["www-authenticate"]
        forged = await demo_world.client.http.get(
            f"/reports/progress.{extension}",
            params={"under": CENTRAL_CODE},
            headers={"Authorization": "Bearer not-a-token"},
        )
        assert forged.status_code == 401
        assert forged.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    ("parameters", "argument"),
    [
        ({"under": DEMO_PROVINCE_CODE, "depth": "abc"}, "depth"),
        ({"under": DEMO_PROVINCE_CODE, "depth": "-1"}, "depth"),
        ({"under": DEMO_PROVINCE_CODE, "depth": "0"}, "depth"),
        # Above `under` (the province is at depth 2), or deeper than any tree can be.
        ({"under": DEMO_PROVINCE_CODE, "depth": "1"}, "depth"),
        ({"under": DEMO_PROVINCE_CODE, "depth": "99999999999"}, "depth"),
        ({"under": DEMO_PROVINCE_CODE, "depth": "9" * 5000}, "depth"),
        ({"under": DEMO_PROVINCE_CODE, "depth": "3.0"}, "depth"),
        ({"under": DEMO_PROVINCE_CODE, "term": "1990-1995"}, "term"),
        ({"depth": "3"}, "under"),
    ],
)
async def test_bad_parameters_are_refused_naming_them(
    demo_world: DemoWorld, parameters: dict[str, str], argument: str
) -> None:
    for extension in ("csv", "xlsx"):
        response = await export(demo_world, PROVINCE_ADMIN, extension, **parameters)
        assert response.status_code == 400
        [error] = response.json()["errors"]
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": argument}
        assert f"`{argument}`" in error["message"]


async def test_depth_may_be_under_itself(demo_world: DemoWorld) -> None:
    rows = csv_rows(
        await export(demo_world, PROVINCE_ADMIN, "csv", under=DEMO_PROVINCE_CODE, depth="2")
    )
    assert [row[:3] for row in rows[1:]] == [[DEMO_PROVINCE_CODE, "Thành ủy Hà Nội", "2"]]


async def test_names_that_look_like_formulas_stay_text(fresh_world: DemoWorld) -> None:
    renamed = await fresh_world.client.query(
        PROVINCE_ADMIN,
        RENAME_COMMITTEE,
        input={"id": await committee_gid(fresh_world, CELL), "name": '=HYPERLINK("x")'},
    )
    assert renamed["renameCommittee"]["__typename"] == "CommitteePayload", renamed
    parameters = {"under": COMMUNE, "depth": "4"}
    csv_export = csv_rows(await export(fresh_world, PROVINCE_ADMIN, "csv", **parameters))
    assert [row[1] for row in csv_export if row[0] == CELL] == ['\'=HYPERLINK("x")']
    response = await export(fresh_world, PROVINCE_ADMIN, "xlsx", **parameters)
    workbook = load_workbook(io.BytesIO(response.content))
    cell = next(
        row[1] for row in workbook.worksheets[0].iter_rows(min_row=2) if row[0].value == CELL
    )
    assert (cell.value, cell.data_type) == ('=HYPERLINK("x")', "s")
