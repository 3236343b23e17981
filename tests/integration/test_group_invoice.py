"""Invoice requests: kept sealed as sent, one invoice per group from the primary channel's order, exported for
finance, restored by a split, a conflict left to a person, and a wrong tax id flagged without refusing."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from sqlmodel import select

from api.graphql.ids import encode_gid
from domain.fulfilment.models import OrderException
from domain.invoices.models import InvoiceRequestRow
from tests.conftest import Api, Credentials
from tests.integration.orders_fixtures import SUBMIT_ORDER, order_input
from workers.jobs import group_pending_orders

GROUP_INVOICE = """query($id: ID!) { groupInvoice(orderId: $id) {
  orderId channelOrderId role amount { amount currencyCode } kind title taxId email problem } }"""
SPLIT = """mutation($input: SplitGroupInput!) { splitGroup(input: $input) { userErrors { code } } }"""
COMPANY = {"title": "杭州明前茶业有限公司", "taxId": "91350100M000100Y43", "kind": "NORMAL", "email": "tax@tea.example"}
BIG = [{"sku": "SKU-TEA-009", "title": "礼盒", "quantity": 1, "unitPrice": "300.00"}]


async def submit(api: Api, creds: Credentials, order_id: str, **overrides: Any) -> int:
    result = await api.gql(SUBMIT_ORDER, {"input": order_input(order_id, **overrides)}, headers=creds.writer)
    payload = result["data"]["submitOrder"]
    assert payload["userErrors"] == [], payload
    return int(payload["order"]["id"].rsplit("/", 1)[1])


async def invoice_of(api: Api, creds: Credentials, order_id: int) -> list[dict[str, Any]]:
    found = await api.gql(GROUP_INVOICE, {"id": encode_gid("Order", order_id)}, headers=creds.admin)
    assert "errors" not in found, found
    lines: list[dict[str, Any]] = found["data"]["groupInvoice"]
    return lines


async def _grouped(api: Api, creds: Credentials, douyin_invoice: dict[str, Any]) -> tuple[int, int, int]:
    """A Douyin first order of 300 yuan makes Douyin the primary channel; then two pending taps, grouped."""
    await submit(api, creds, "D-0", channel="DOUYIN", lines=BIG, discountAmount="0", totalAmount="300.00",
                 placedAt="2026-11-20T10:00:00+08:00", status="PAID", paidAt="2026-11-20T10:01:00+08:00")  # fmt: skip
    taobao = await submit(api, creds, "T-1", invoice={**COMPANY, "email": "finance@tea.example"})
    douyin = await submit(api, creds, "D-1", channel="DOUYIN", placedAt="2026-11-24T20:16:00+08:00",
                          invoice=douyin_invoice)  # fmt: skip
    parent = await group_pending_orders({"runtime": api.runtime}, taobao)
    assert parent is not None
    return parent, taobao, douyin


async def test_a_group_is_invoiced_once_from_the_primary_channel_and_a_split_restores_each(
    api: Api, creds: Credentials
) -> None:
    typed_differently = {**COMPANY, "taxId": "91350100m000100y43", "title": " 杭州明前茶业有限公司 "}
    parent, taobao, douyin = await _grouped(api, creds, typed_differently)
    lines = await invoice_of(api, creds, taobao)  # any order of the group answers for it
    by_order = {int(line["orderId"].rsplit("/", 1)[1]): line for line in lines}
    assert int(lines[0]["orderId"].rsplit("/", 1)[1]) == parent
    assert by_order[parent]["role"] == "GROUP" and by_order[parent]["amount"] == {
        "amount": "95.90",
        "currencyCode": "CNY",
    }
    assert by_order[parent]["taxId"] == "91350100m000100y43"  # the Douyin order's request, as it was sent
    assert (by_order[douyin]["role"], by_order[taobao]["role"]) == ("GROUP_SOURCE", "LOGISTICS_ONLY")
    assert by_order[taobao]["amount"] is None and by_order[taobao]["email"] == "finance@tea.example"
    assert all(line["problem"] is None for line in lines)

    async with api.runtime.core.sessions() as session:
        rows = (await session.exec(select(InvoiceRequestRow))).all()
    assert rows and all(r.sealed is None or "明前".encode() not in r.sealed for r in rows)  # sealed at rest

    csv = await api.client.get(f"/export/invoices?order={parent}&format=csv", headers=creds.admin)
    assert csv.status_code == 200 and csv.content.startswith("\ufeff".encode())
    text = csv.content.decode("utf-8-sig").splitlines()
    assert text[0].startswith("order_id,channel,channel_order_id,role,amount_minor")
    assert f"{parent},TAOBAO,GROUP-{taobao},GROUP,9590,CNY,NORMAL, 杭州明前茶业有限公司 " in text[1]
    xlsx = await api.client.get(f"/export/invoices?order={parent}&format=xlsx", headers=creds.admin)
    sheet = zipfile.ZipFile(io.BytesIO(xlsx.content)).read("xl/worksheets/sheet1.xml").decode()
    assert "LOGISTICS_ONLY" in sheet and "91350100M000100Y43" in sheet
    assert (await api.client.get(f"/export/invoices?order={parent}", headers=creds.cs)).status_code == 403
    bad = await api.client.get("/export/invoices?order=x&format=pdf", headers=creds.admin)
    assert [e["field"] for e in bad.json()["errors"]] == [["order"], ["format"]]

    split = await api.gql(SPLIT, {"input": {"parentOrderId": encode_gid("Order", parent)}}, headers=creds.admin)
    assert split["data"]["splitGroup"]["userErrors"] == []
    for order, email in ((taobao, "finance@tea.example"), (douyin, "tax@tea.example")):
        [own] = await invoice_of(api, creds, order)
        assert (own["role"], own["email"], own["amount"]["amount"]) == ("OWN", email, "95.90")


async def test_grouped_orders_asking_for_different_invoices_open_an_exception(api: Api, creds: Credentials) -> None:
    parent, taobao, _ = await _grouped(api, creds, {"title": "张三", "kind": "NORMAL", "email": "z@mail.example"})
    lines = await invoice_of(api, creds, parent)
    assert lines[0]["role"] == "UNDECIDED" and lines[0]["title"] is None
    assert {line["role"] for line in lines[1:]} == {"LOGISTICS_ONLY"}
    async with api.runtime.core.sessions() as session:
        [exception] = (
            await session.exec(select(OrderException).where(OrderException.kind == "INVOICE_CONFLICT"))
        ).all()
    assert exception.order_id == parent and exception.state == "OPEN"
    assert await group_pending_orders({"runtime": api.runtime}, taobao) is None  # no second exception


async def test_a_wrong_tax_id_is_flagged_and_the_order_still_accepted(api: Api, creds: Credentials) -> None:
    order = await submit(api, creds, "T-9", invoice={**COMPANY, "taxId": "91350100M000100Y44"})
    [own] = await invoice_of(api, creds, order)
    assert own["role"] == "OWN" and own["taxId"] == "91350100M000100Y44"
    assert own["problem"] == "tax id: check character is 4, the first 17 characters give 3"
