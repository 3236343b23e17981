"""A statement file's layout (encoding, delimiter, header names, date and amount formats) and what the drift
watch makes of a changed one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.channels import drift
from domain.reconcile.layouts import _enums, _shape, explain, source_of
from domain.reconcile.statements import bank
from domain.reconcile.statements.layout import UnknownEncoding, read_layout, rename_columns
from sim.statements import BillRow, alipay_trade_detail, bank_csv, wechat_trade_bill

DAY = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
ROWS = [BillRow(DAY, "B1", "T1", "PAYMENT", 8000), BillRow(DAY, "B2", "T2", "REFUND", 1500)]


def _findings(before: bytes, after: bytes) -> list[drift.Finding]:
    pinned = read_layout(before).as_payload()
    now = read_layout(after).as_payload()
    return drift.compare(_shape(pinned), now, _enums(pinned) | _enums(now))


def test_a_bank_csv_layout_names_its_columns_and_their_formats() -> None:
    layout = read_layout(bank_csv(ROWS))
    assert (layout.encoding, layout.delimiter, layout.header_line) == ("utf-8", ",", 1)
    assert layout.columns == {
        "reference": "text", "booked_at": "date:%Y-%m-%d %H:%M:%S", "amount": "amount:decimal",
        "currency": "text", "memo": "text",
    }  # fmt: skip


def test_the_providers_bills_are_read_past_their_preamble_and_backticks() -> None:
    alipay = read_layout(alipay_trade_detail(ROWS, DAY))
    assert alipay.encoding == "gb18030" and alipay.header_line > 1
    assert alipay.columns["完成时间"] == "date:%Y-%m-%d %H:%M:%S"
    wechat = read_layout(wechat_trade_bill(ROWS))
    assert wechat.columns["交易时间"] == "date:%Y-%m-%d %H:%M:%S"
    assert source_of(alipay_trade_detail(ROWS, DAY), "x") == "alipay-trade-detail"
    assert source_of(wechat_trade_bill(ROWS), "x") == "wechatpay-trade-bill"
    assert source_of(bank_csv(ROWS), "icbc") == "bank-csv:icbc"


def test_the_same_layout_shows_no_difference() -> None:
    assert _findings(bank_csv(ROWS), bank_csv(ROWS[:1])) == []


def test_a_renamed_column_is_one_gone_and_one_new() -> None:
    renamed = bank_csv(ROWS).replace(b"memo", b"remark", 1)
    found = {(f.path, f.change) for f in _findings(bank_csv(ROWS), renamed)}
    assert found == {("columns.memo", drift.Change.MISSING_FIELD), ("columns.remark", drift.Change.NEW_FIELD)}
    assert str(explain(_findings(bank_csv(ROWS), renamed))) in (
        "layout changed: column 'memo' is gone; new column 'remark'",
        "layout changed: new column 'remark'; column 'memo' is gone",
    )


def test_another_encoding_delimiter_or_date_format_is_a_changed_layout() -> None:
    text = bank_csv(ROWS).decode()
    gbk = (text.replace("memo", "备注")).encode("gbk")
    assert ("encoding", drift.Change.NEW_VALUE, "gb18030") in {
        (f.path, f.change, f.detail) for f in _findings(bank_csv(ROWS).replace(b"memo", "备注".encode()), gbk)
    }
    semicolons = text.replace(",", ";").encode()
    assert ("delimiter", drift.Change.NEW_VALUE) in {(f.path, f.change) for f in _findings(bank_csv(ROWS), semicolons)}
    slashes = text.replace("2026-11-24", "2026/11/24").encode()
    [finding] = _findings(bank_csv(ROWS), slashes)
    assert (finding.path, finding.change, finding.detail) == (
        "columns.booked_at",
        drift.Change.NEW_VALUE,
        "date:%Y/%m/%d %H:%M:%S",
    )


def test_a_file_in_no_known_encoding_is_refused_with_a_reason() -> None:
    with pytest.raises(UnknownEncoding, match="neither UTF-8 nor GBK"):
        read_layout(bank_csv(ROWS).decode().encode("utf-16"))


def test_renaming_columns_changes_the_header_only_and_the_parser_then_reads_the_file() -> None:
    original = bank_csv(ROWS)
    renamed = original.replace(b"memo", b"remark", 1)
    assert bank.parse("b.csv", renamed, bank.BankColumns()).lines[0].order_ref is None  # the wrong reading
    fixed = rename_columns(renamed, {"remark": "memo"})
    assert fixed == original
    assert [line.order_ref for line in bank.parse("b.csv", fixed, bank.BankColumns()).lines] == ["T1", "T2"]
    alipay = alipay_trade_detail(ROWS, DAY)
    assert rename_columns(alipay, {"nothing": "else"}) == alipay
