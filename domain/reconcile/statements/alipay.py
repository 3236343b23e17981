"""Alipay trade detail bill (业务明细): GBK, a `#` preamble and footer, refunds as negative amounts."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from domain.i18n import msg
from domain.ledger.models import VoucherKind
from domain.reconcile.statements.lines import ParsedStatement, Row, StatementError, StatementLine, header_index

PROVIDER = "alipay"
TZ = ZoneInfo("Asia/Shanghai")
TRADE, ORDER, BUSINESS, FINISHED, AMOUNT, REFUND_NO = (
    "支付宝交易号", "商户订单号", "业务类型", "完成时间", "订单金额（元）", "退款批次号/请求号",
)  # fmt: skip
_PERIOD = re.compile(r"起始日期：\[(.+?)\]\s*终止日期：\[(.+?)\]")


def looks_like(data: bytes) -> bool:
    return data.startswith(b"#") and "支付宝".encode("gbk") in data[:200]


def _period_time(text: str) -> datetime:
    return datetime.strptime(text.strip(), "%Y年%m月%d日 %H:%M:%S").replace(tzinfo=TZ)


def parse(file: str, data: bytes) -> ParsedStatement:
    try:
        text = data.decode("gbk")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise StatementError(file, line, None, msg("not GBK text (Alipay bills are GBK)")) from exc
    period: tuple[datetime, datetime] | None = None
    header: dict[str, int] | None = None
    lines: list[StatementLine] = []
    for line_no, raw in enumerate(text.splitlines(), start=1):
        if raw.startswith("#"):
            found = _PERIOD.search(raw)
            if found:
                try:
                    period = (_period_time(found.group(1)), _period_time(found.group(2)))
                except ValueError as exc:
                    raise StatementError(file, line_no, None, msg("period unreadable: {exc}", exc=exc)) from exc
            continue
        if not raw.strip():
            continue
        cells = next(csv.reader(io.StringIO(raw)))
        if header is None:
            header = header_index(file, line_no, cells, (TRADE, ORDER, BUSINESS, FINISHED, AMOUNT))
            continue
        row = Row(file, line_no, header, cells)
        amount = row.minor(AMOUNT, "CNY")
        business = row.text(BUSINESS)
        trade_no = row.text(TRADE)
        if business == "退款":
            if amount >= 0:
                raise row.error(AMOUNT, msg("a refund must be negative"))
            txn = f"{trade_no}:{row.text(REFUND_NO, required=False) or 'refund'}"
            kind = VoucherKind.REFUND
        elif business == "交易":
            txn, kind = trade_no, VoucherKind.PAYMENT
        else:
            raise row.error(BUSINESS, msg("unknown business type {business}", business=repr(business)))
        order = row.text(ORDER, required=False) or None
        lines.append(StatementLine(line_no, txn, kind, order, amount, "CNY", row.time(FINISHED, TZ)))
    if header is None:
        raise StatementError(file, 1, None, msg("no header row"))
    if period is None:
        raise StatementError(file, 1, None, msg("preamble lacks 起始日期/终止日期"))
    return ParsedStatement(PROVIDER, "alipay-trade-detail", period[0], period[1], lines)
