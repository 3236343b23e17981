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


SUCCESS_BILL = (
    "\ufeff交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,"
    "货币种类,应结订单金额,代金券金额,商品名称,商户数据包,手续费,费率,订单金额,费率备注\r\n"
    "`2026-11-24 20:15:45,`wx2421b1c4370ec43b,`1230000109,`0,`,`4200000001,`T1,`oUpF8u,`JSAPI,`SUCCESS,`CMC,"
    "`CNY,`100.00,`20.00,`明前龙井,`,`0.60,`0.60%,`100.00,`\r\n"
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n"
    "`1,`100.00,`0.00,`0.00,`0.60,`100.00,`0.00\r\n"
)


def test_wechat_success_layout_and_refund_row_in_it_refused() -> None:
    parsed = parse_statement("success.csv", SUCCESS_BILL.encode())
    assert [(x.provider_txn_id, x.amount) for x in parsed.lines] == [("4200000001", 10000)]
    refund_in_success = SUCCESS_BILL.replace("`SUCCESS", "`REFUND").encode()
    with pytest.raises(StatementError, match=r"success.csv, line 2, column 交易状态: a REFUND row in a layout without"):
        parse_statement("success.csv", refund_in_success)
    wrong_count = SUCCESS_BILL.replace("`1,`100.00", "`2,`100.00").encode()
    with pytest.raises(StatementError, match=r"line 4, column 总交易单数: states 2 trades, the bill has 1"):
        parse_statement("success.csv", wrong_count)
