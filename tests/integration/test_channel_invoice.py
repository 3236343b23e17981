"""An invoice request read from a channel's own payload is kept sealed on the order and answers the group
invoice query like one sent in OrderInput.invoice."""

from __future__ import annotations

from sqlmodel import select

from api.graphql.ids import encode_gid
from domain.invoices.models import InvoiceRequestRow
from domain.orders.models import Order
from tests.conftest import Api, Credentials
from tests.fixtures.channels import order_object, payload
from tests.integration.test_channel_intake import submit
from tests.integration.test_group_invoice import invoice_of

TITLE = "杭州明前茶业有限公司"


async def test_a_taobao_invoice_title_is_sealed_on_the_order(api: Api, creds: Credentials) -> None:
    data = payload("TAOBAO")
    order_object("TAOBAO", data).update(invoice_name=TITLE, buyer_email="finance@tea.example")
    assert (await submit(api, creds, "TAOBAO", data))["userErrors"] == []
    async with api.runtime.core.sessions() as session:
        order = (await session.exec(select(Order).where(Order.channel_order_id == "3916620753462938475"))).one()
        row = (await session.exec(select(InvoiceRequestRow).where(InvoiceRequestRow.order_id == order.id))).one()
    assert row.sealed is not None and TITLE.encode() not in row.sealed and b"finance@" not in row.sealed
    assert order.id is not None
    [line] = await invoice_of(api, creds, order.id)
    assert (line["orderId"], line["role"], line["title"], line["email"]) == (
        encode_gid("Order", order.id), "OWN", TITLE, "finance@tea.example",
    )  # fmt: skip
