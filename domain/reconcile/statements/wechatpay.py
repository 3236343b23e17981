"""WeChat Pay daily trade bill: a UTF-8 (often BOM) CSV whose every value is prefixed with a backtick,
followed by a summary header and one summary row whose totals are checked against the lines."""

from __future__ import annotations

import csv
import io
from zoneinfo import ZoneInfo

from domain.i18n import msg
from domain.ledger.models import VoucherKind
from domain.reconcile.statements.lines import (
    ParsedStatement,
    Row,
    StatementError,
    StatementLine,
    header_index,
    local_days,
)

PROVIDER = "wechatpay"
TZ = ZoneInfo("Asia/Shanghai")
TIME, TXN, ORDER, STATE, CURRENCY = "交易时间", "微信订单号", "商户订单号", "交易状态", "货币种类"
SETTLED, REFUND_ID, REFUNDED = "应结订单金额", "微信退款单号", "退款金额"
SUMMARY_COUNT, SUMMARY_SETTLED, SUMMARY_REFUNDED = "总交易单数", "应结订单总金额", "退款总金额"
_CURRENCIES = {"CNY": "CNY", "人民币": "CNY"}


def looks_like(text: str) -> bool:
    return text.lstrip("\ufeff").startswith(TIME) and "`" in text


def parse(file: str, data: bytes) -> ParsedStatement:
    text = data.decode("utf-8-sig")
    records = list(csv.reader(io.StringIO(text)))
    if not records:
        raise StatementError(file, 1, None, msg("empty file"))
    header = header_index(file, 1, records[0], (TIME, TXN, ORDER, STATE, SETTLED))
    refund_layout = REFUND_ID in header
    lines: list[StatementLine] = []
    settled_total = refunded_total = 0
    summary_at = None
    for offset, cells in enumerate(records[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        if cells[0].strip().lstrip("`") == SUMMARY_COUNT:
            summary_at = offset
            break
        row = Row(file, offset, header, cells)
        currency = _CURRENCIES.get(row.text(CURRENCY, required=False) or "CNY")
        if currency is None:
            raise row.error(CURRENCY, msg("unknown currency {currency}", currency=repr(row.text(CURRENCY))))
        state = row.text(STATE)
        settled = row.minor(SETTLED, currency)
        settled_total += settled
        occurred = row.time(TIME, TZ)
        if state == "REFUND":
            if not refund_layout:
                raise row.error(STATE, msg("a REFUND row in a layout without refund columns"))
            refunded = row.minor(REFUNDED, currency)
            refunded_total += refunded
            lines.append(StatementLine(offset, row.text(REFUND_ID), VoucherKind.REFUND, row.text(ORDER, required=False)
                                       or None, -refunded, currency, occurred))  # fmt: skip
        elif state == "SUCCESS":
            lines.append(StatementLine(offset, row.text(TXN), VoucherKind.PAYMENT, row.text(ORDER, required=False)
                                       or None, settled, currency, occurred))  # fmt: skip
        else:
            raise row.error(STATE, msg("unknown trade state {state}", state=repr(state)))
    if summary_at is None:
        raise StatementError(
            file,
            len(records) + 1,
            None,
            msg("summary rows ({summary_count}, ...) missing", summary_count=SUMMARY_COUNT),
        )
    _check_summary(file, summary_at, records, len(lines), settled_total, refunded_total)
    start, end = local_days(file, lines, TZ)
    return ParsedStatement(PROVIDER, "wechatpay-trade-bill", start, end, lines)


def _check_summary(file: str, at: int, records: list[list[str]], count: int, settled: int, refunded: int) -> None:
    if at >= len(records):
        raise StatementError(file, at + 1, None, msg("summary values missing"))
    header = header_index(file, at, records[at - 1], (SUMMARY_COUNT, SUMMARY_SETTLED))
    row = Row(file, at + 1, header, records[at])
    stated_count = row.text(SUMMARY_COUNT)
    if not stated_count.isdigit() or int(stated_count) != count:
        raise row.error(
            SUMMARY_COUNT,
            msg("states {stated_count} trades, the bill has {count}", stated_count=stated_count, count=count),
        )
    if row.minor(SUMMARY_SETTLED, "CNY") != settled:
        raise row.error(
            SUMMARY_SETTLED,
            msg(
                "states {stated}, the lines add up to {total}",
                stated=row.text(SUMMARY_SETTLED),
                total=format(settled / 100, ".2f"),
            ),
        )
    if SUMMARY_REFUNDED in header and row.minor(SUMMARY_REFUNDED, "CNY") != refunded:
        raise row.error(
            SUMMARY_REFUNDED,
            msg(
                "states {stated}, the lines add up to {total}",
                stated=row.text(SUMMARY_REFUNDED),
                total=format(refunded / 100, ".2f"),
            ),
        )
