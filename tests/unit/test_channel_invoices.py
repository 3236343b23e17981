"""Invoice requests as the channels send them, read by their adapters from realistic payloads."""

from __future__ import annotations

from domain.channels.adapter import normalize
from domain.channels.registry import adapter_for
from domain.invoices.request import InvoiceRequest
from tests.fixtures.channels import order_object, payload

# BuyerInfo as the Selling Partner API Orders v0 model's getOrderBuyerInfo example sends it, with the
# model's TaxClassifications (Name + Value) added.
AMAZON_BUYER = {
    "BuyerEmail": "user@example.com",
    "BuyerName": "John Smith",
    "BuyerTaxInfo": {
        "CompanyLegalName": "Company Name",
        "TaxingRegion": "CN",
        "TaxClassifications": [{"Name": "VATNumber", "Value": "91350100M000100Y43"}],
    },
    "PurchaseOrderNumber": "1234567890123",
}


def _invoice(channel: str, data: dict[str, object]) -> InvoiceRequest | None:
    return normalize(adapter_for(channel), data).invoice  # type: ignore[arg-type]


def test_a_taobao_trade_with_an_invoice_title_carries_the_request() -> None:
    data = payload("TAOBAO")
    order_object("TAOBAO", data).update(invoice_name="杭州某某茶业有限公司", buyer_email="buyer@example.com")
    assert _invoice("TAOBAO", data) == InvoiceRequest(title="杭州某某茶业有限公司", email="buyer@example.com")


def test_a_taobao_trade_without_an_invoice_title_asks_for_none() -> None:
    data = payload("TAOBAO")
    order_object("TAOBAO", data).update(invoice_name="  ")
    assert _invoice("TAOBAO", data) is None
    assert _invoice("TAOBAO", payload("TAOBAO")) is None


def test_an_amazon_business_order_carries_the_buyer_tax_info() -> None:
    data = payload("AMAZON")
    order_object("AMAZON", data)["BuyerInfo"] = AMAZON_BUYER
    invoice = _invoice("AMAZON", data)
    assert invoice == InvoiceRequest(title="Company Name", tax_id="91350100M000100Y43", email="user@example.com")


def test_an_amazon_order_without_buyer_tax_info_asks_for_none() -> None:
    data = payload("AMAZON")
    order_object("AMAZON", data)["BuyerInfo"] = {"BuyerEmail": "user@example.com"}
    assert _invoice("AMAZON", data) is None
    order_object("AMAZON", data)["BuyerInfo"] = {"BuyerTaxInfo": {"CompanyLegalName": "Co", "TaxClassifications": "x"}}
    assert _invoice("AMAZON", data) == InvoiceRequest(title="Co")
