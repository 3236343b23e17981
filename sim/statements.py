"""Statement files exactly as finance downloads them: WeChat Pay trade bill, Alipay trade detail, bank CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")

WECHAT_ALL_HEADER = [
    "交易时间",
    "公众账号ID",
    "商户号",
    "特约商户号",
    "设备号",
    "微信订单号",
    "商户订单号",
    "用户标识",
    "交易类型",
    "交易状态",
    "付款银行",
    "货币种类",
    "应结订单金额",
    "代金券金额",
    "微信退款单号",
    "商户退款单号",
    "退款金额",
    "充值券退款金额",
    "退款类型",
    "退款状态",
    "商品名称",
    "商户数据包",
    "手续费",
    "费率",
    "订单金额",
    "申请退款金额",
    "费率备注",
]
WECHAT_SUMMARY_HEADER = [
    "总交易单数",
    "应结订单总金额",
    "退款总金额",
    "充值券退款总金额",
    "手续费总金额",
    "订单总金额",
    "申请退款总金额",
]
ALIPAY_HEADER = [
    "支付宝交易号",
    "商户订单号",
    "业务类型",
    "商品名称",
    "创建时间",
    "完成时间",
    "门店编号",
    "门店名称",
    "操作员",
    "终端号",
    "对方账户",
    "订单金额（元）",
    "商家实收（元）",
    "支付宝红包（元）",
    "集分宝（元）",
    "支付宝优惠（元）",
    "商家优惠（元）",
    "券核销金额（元）",
    "券名称",
    "商家红包消费金额（元）",
    "卡消费金额（元）",
    "退款批次号/请求号",
    "服务费（元）",
    "分润（元）",
    "备注",
]


@dataclass(frozen=True)
class BillRow:
    """`amount` is always positive minor units; `kind` says which way it went."""

    occurred_at: datetime
    txn_id: str
    order_ref: str
    kind: str
    amount: int
    currency: str = "CNY"
    payment_txn: str = ""
    coupon: int = 0
    refund_no: str = ""


def yuan(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def _local(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def wechat_trade_bill(rows: Iterable[BillRow]) -> bytes:
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(WECHAT_ALL_HEADER)
    count = settled = refunded = 0
    for row in rows:
        refund = row.kind == "REFUND"
        settled_amount = 0 if refund else row.amount
        cells = [
            _local(row.occurred_at), "wx2421b1c4370ec43b", "1230000109", "0", "",
            row.payment_txn if refund else row.txn_id, row.order_ref, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "JSAPI",
            "REFUND" if refund else "SUCCESS", "CMC", row.currency, yuan(settled_amount), yuan(row.coupon),
            row.txn_id if refund else "0", f"R{row.order_ref}" if refund else "0", yuan(row.amount if refund else 0),
            "0.00", "ORIGINAL" if refund else "", "SUCCESS" if refund else "", "明前龙井", "", "0.00", "0.60%",
            yuan(settled_amount), yuan(row.amount if refund else 0), "",
        ]  # fmt: skip
        writer.writerow(["`" + cell for cell in cells])
        count += 1
        settled += settled_amount
        refunded += row.amount if refund else 0
    writer.writerow(WECHAT_SUMMARY_HEADER)
    summary = [str(count), yuan(settled), yuan(refunded), "0.00", "0.00", yuan(settled), yuan(refunded)]
    writer.writerow(["`" + cell for cell in summary])
    return out.getvalue().encode("utf-8")


def alipay_trade_detail(rows: Iterable[BillRow], day: datetime) -> bytes:
    start = day.astimezone(CHINA).replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + timedelta(days=1)
    fmt = "%Y年%m月%d日 %H:%M:%S"
    out = io.StringIO()
    out.write("#支付宝业务明细查询\r\n#账号：[20880000000000000156]\r\n")
    out.write(f"#起始日期：[{start.strftime(fmt)}]   终止日期：[{end.strftime(fmt)}]\r\n")
    out.write("#-----------------------------------------业务明细列表----------------------------------------\r\n")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ALIPAY_HEADER)
    total = count = 0
    for row in rows:
        refund = row.kind == "REFUND"
        amount = -row.amount if refund else row.amount
        trade_no = row.payment_txn if refund else row.txn_id
        writer.writerow([
            trade_no + "\t", row.order_ref + "\t", "退款" if refund else "交易", "明前龙井", _local(row.occurred_at),
            _local(row.occurred_at), "", "", "", "", "138****5678", yuan(amount), yuan(amount), "0.00", "0.00",
            "0.00", "0.00", "0.00", "", "0.00", "0.00", row.refund_no if refund else "", "0.00", "0.00", "",
        ])  # fmt: skip
        total += amount
        count += 1
    out.write("#-----------------------------------------业务明细列表结束------------------------------------\r\n")
    out.write(f"#交易合计：{count}笔，商家实收共{yuan(total)}元\r\n")
    out.write(f"#导出时间：[{end.strftime(fmt)}]\r\n")
    return out.getvalue().encode("gbk")


def bank_csv(rows: Iterable[BillRow]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["reference", "booked_at", "amount", "currency", "memo"])
    for row in rows:
        amount = -row.amount if row.kind == "REFUND" else row.amount
        writer.writerow([row.txn_id, _local(row.occurred_at), yuan(amount), row.currency, row.order_ref])
    return out.getvalue().encode("utf-8")
