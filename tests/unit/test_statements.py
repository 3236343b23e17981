"""Statement parsers on files written the way the providers and banks write them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.ledger.models import VoucherKind
from domain.reconcile.service import parse_statement
from domain.reconcile.statements.bank import BankColumns
from domain.reconcile.statements.lines import StatementError
from sim.statements import BillRow, alipay_trade_detail, bank_csv, wechat_trade_bill

NOON = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
ROWS = [
    BillRow(NOON, "4200000001", "T1", "PAYMENT", 10000, coupon=2000),
    BillRow(NOON, "4200000002", "T2", "PAYMENT", 9590),
    BillRow(NOON, "50300000001", "T2", "REFUND", 1590, payment_txn="4200000002", refund_no="RF1"),
]


def test_wechat_bill_with_bom_backticks_refund_and_checked_summary() -> None:
    parsed = parse_statement("wx.csv", wechat_trade_bill(ROWS))
    assert parsed.provider == "wechatpay"
    assert [(x.provider_txn_id, x.kind, x.amount, x.line_no) for x in parsed.lines] == [
        ("4200000001", VoucherKind.PAYMENT, 10000, 2),
        ("4200000002", VoucherKind.PAYMENT, 9590, 3),
        ("50300000001", VoucherKind.REFUND, -1590, 4),
    ]
    assert parsed.period_start == datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
    assert (parsed.period_end - parsed.period_start).days == 1


def test_wechat_summary_that_does_not_add_up_names_line_and_column() -> None:
    data = wechat_trade_bill(ROWS).decode("utf-8").replace("`195.90", "`195.91").encode()
    with pytest.raises(StatementError) as error:
        parse_statement("wx.csv", data)
    assert str(error.value).startswith("wx.csv, line 6, column 应结订单总金额: states 195.91")


def test_wechat_bad_amount_names_line_and_column() -> None:
    data = wechat_trade_bill(ROWS).decode("utf-8").replace("`95.90", "`95.9O", 1).encode()
    with pytest.raises(StatementError) as error:
        parse_statement("wx.csv", data)
    assert (error.value.line, error.value.column) == (3, "应结订单金额")


def test_alipay_gbk_with_preamble_footer_and_negative_refund() -> None:
    parsed = parse_statement("alipay.csv", alipay_trade_detail(ROWS, NOON))
    assert parsed.provider == "alipay"
    assert [(x.provider_txn_id, x.amount, x.line_no) for x in parsed.lines][-1] == ("4200000002:RF1", -1590, 8)
    assert parsed.period_start == datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
    positive_refund = alipay_trade_detail(ROWS, NOON).replace(b"-15.90", b"15.90")
    with pytest.raises(StatementError, match=r"alipay.csv, line 8, column 订单金额（元）: a refund must be negative"):
        parse_statement("alipay.csv", positive_refund)


def test_bank_csv_signed_and_debit_credit_maps() -> None:
    parsed = parse_statement("bank.csv", bank_csv(ROWS), provider="lianlian")
    assert [(x.kind, x.amount) for x in parsed.lines] == [
        (VoucherKind.PAYMENT, 10000), (VoucherKind.PAYMENT, 9590), (VoucherKind.REFUND, -1590),
    ]  # fmt: skip
    split = b"ref,when,out,in\nB1,2026-11-24 12:00:00,,80.00\nB2,2026-11-24 13:00:00,15.90,\n"
    columns = BankColumns(
        txn_id="ref", time="when", amount=None, debit="out", credit="in", currency=None, order_ref=None
    )
    assert [x.amount for x in parse_statement("b.csv", split, bank_columns=columns).lines] == [8000, -1590]
    with pytest.raises(StatementError, match=r"b.csv, line 3, column when"):
        parse_statement("b.csv", split.replace(b"2026-11-24 13", b"24/11/2026 13"), bank_columns=columns)
