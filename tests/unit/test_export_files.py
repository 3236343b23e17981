"""The export's pure parts: the period it covers, CSV cells that must not run as formulas, the XLSX writer."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest

from domain.clock import zone
from domain.errors import UserError
from domain.health import export, xlsx
from domain.health.export import ExportFormat, Period, parse_format, resolve_period

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def test_period_defaults_to_the_last_seven_days() -> None:
    assert resolve_period(NOW, retention_days=366) == Period(NOW - timedelta(days=7), NOW)
    assert resolve_period(NOW, days=1, retention_days=366) == Period(NOW - timedelta(days=1), NOW)
    end = NOW - timedelta(days=30)
    assert resolve_period(NOW, days=2, end=end, retention_days=366) == Period(end - timedelta(days=2), end)
    start = NOW - timedelta(days=3)
    assert resolve_period(NOW, start=start, retention_days=366) == Period(start, NOW)


def test_bad_periods_report_every_problem() -> None:
    with pytest.raises(UserError) as caught:
        resolve_period(NOW, days=0, start=datetime(2026, 1, 1), retention_days=366)
    assert {(p.field, p.code) for p in caught.value.problems} == {
        (("from",), "INVALID_TIME"),
        (("days",), "OUT_OF_RANGE"),
    }
    with pytest.raises(UserError) as caught:
        resolve_period(NOW, start=NOW, end=NOW, retention_days=366)
    assert caught.value.problems[0].code == "INVERTED_PERIOD"
    with pytest.raises(UserError) as caught:
        resolve_period(NOW, start=NOW - timedelta(days=31), retention_days=30)
    assert caught.value.problems[0].code == "PERIOD_TOO_LONG"
    assert parse_format(" XLSX ") is ExportFormat.XLSX
    with pytest.raises(UserError):
        parse_format("ods")


def row(number: str, tracking: str | None, received: int | None = -1990) -> list[object]:
    placed = NOW - timedelta(hours=1)
    return [7, number, "TAOBAO", "SHIPPED", placed, placed, placed, placed, None, "WH-1", "SF", tracking, "ab" * 32,
            "CNY", 1000, 0, 0, 1000, received, "CNY", "CNY", 2, 1, "CLOCK_SKEW,DUPLICATE_SCAN",
            f"{tracking},=2+2"]  # fmt: skip


def test_csv_cells_typed_by_partners_never_start_a_formula() -> None:
    encoded = export._CsvEncoder().encode([export._csv_safe(export.format_row(row("=HYPERLINK(1)", "@SUM(A1)")))])
    [cells] = list(csv.reader(io.StringIO(encoded.decode())))
    named = dict(zip(export.HEADERS, cells, strict=True))
    assert named["order_number"] == "'=HYPERLINK(1)" and named["tracking_number"] == "'@SUM(A1)"
    assert named["received"] == "-19.90" and named["received_minor"] == "-1990"  # a refund stays a number
    assert named["exception_kinds"] == "CLOCK_SKEW;DUPLICATE_SCAN"
    assert named["parcel_tracking_numbers"] == "'=2+2;@SUM(A1)"  # every parcel's number, each as typed
    mixed = export.format_row([*row("1", None)[:18], 500, "CNY", "USD", 0, 0, None, None])
    assert mixed[export.HEADERS.index("received")] == export.MIXED
    assert mixed[export.HEADERS.index("received_minor")] is None


def test_xlsx_continues_on_a_new_sheet_at_the_row_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx, "EXCEL_MAX_ROWS", 4)
    stream = xlsx.XlsxStream(["n", "text"])
    data = stream.header() + stream.rows([[n, f"<{n}> & \x07 "] for n in range(5)]) + stream.rows([]) + stream.close()
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["orders", "orders (2)"]
    first, second = ([r for r in sheet.iter_rows(values_only=True)] for sheet in book.worksheets)
    assert first == [("n", "text"), (0, "<0> &  "), (1, "<1> &  "), (2, "<2> &  ")]
    assert second == [("n", "text"), (3, "<3> &  "), (4, "<4> &  ")]


def test_column_letters() -> None:
    assert [xlsx.column_letters(i) for i in (0, 25, 26, 51, 52, 701, 702)] == ["A", "Z", "AA", "AZ", "BA", "ZZ", "AAA"]


def test_the_file_is_named_by_the_merchants_dates() -> None:
    period = Period(datetime(2026, 11, 23, 16, tzinfo=UTC), datetime(2026, 11, 24, 15, 59, tzinfo=UTC))
    assert (
        export.OrderExport(period, ExportFormat.CSV, zone("Asia/Shanghai")).filename == "orders-20261124-20261124.csv"
    )
    assert period.label(zone("UTC")) == "20261123-20261124"
    assert period.label(zone("America/Los_Angeles")) == "20261123-20261124"
    assert period.label(zone("Asia/Tokyo")) == "20261124-20261125"
