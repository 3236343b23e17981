"""Each kind of bad input gets a precise error, the raw message is kept with its reason,
and no partial order is written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from domain.intake.models import InboundMessage, Outcome
from domain.orders.models import Order, OrderLine
from tests.conftest import Api, Credentials
from tests.integration.orders_fixtures import ORDER, SUBMIT_ORDER, order_input


async def recorded(api: Api) -> list[InboundMessage]:
    async with api.runtime.core.sessions() as session:
        return list((await session.exec(select(InboundMessage).order_by(col(InboundMessage.id)))).scalars())


async def nothing_written(api: Api) -> None:
    async with api.runtime.core.sessions() as session:
        orders = (await session.execute(select(func.count()).select_from(Order))).scalar_one()
        lines = (await session.execute(select(func.count()).select_from(OrderLine))).scalar_one()
    assert (orders, lines) == (0, 0)


async def test_malformed_json_is_recorded_with_its_position(api: Api, creds: Credentials) -> None:
    body = b'{"query": "mutation { submitOrder(input: {}) { order { id } } }", "variables": {'
    response = await api.client.post(
        "/graphql", content=body, headers={**creds.writer, "content-type": "application/json"}
    )
    assert response.status_code == 400
    [message] = await recorded(api)
    assert message.outcome == Outcome.REJECTED
    assert message.error is not None and message.error.startswith("malformed JSON at line 1 column")
    assert message.body_size == len(body)
    await nothing_written(api)


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"channelOrderId": "  "}, ["input", "channelOrderId"], "REQUIRED"),
        ({"lines": []}, ["input", "lines"], "REQUIRED"),
        ({"currencyCode": "RMB"}, ["input", "currencyCode"], "INVALID_CURRENCY"),
        ({"shippingAmount": "-8.00"}, ["input", "shippingAmount"], "NEGATIVE_AMOUNT"),
        ({"discountAmount": "20.001"}, ["input", "discountAmount"], "INVALID_AMOUNT"),
        ({"totalAmount": "96.00"}, ["input", "totalAmount"], "AMOUNT_MISMATCH"),
        ({"status": "SHIPPED"}, ["input", "status"], "STATUS_NOT_SUBMITTABLE"),
        ({"status": "PAID"}, ["input", "paidAt"], "REQUIRED"),
        ({"placedAt": "2026-11-24T20:15:03"}, ["input", "placedAt"], "INVALID_TIME"),
    ],
)
async def test_invalid_field_gives_user_error_and_keeps_raw(
    api: Api, creds: Credentials, overrides: dict[str, object], field: list[str], code: str
) -> None:
    result = await api.gql(SUBMIT_ORDER, {"input": order_input(**overrides)}, headers=creds.writer)
    payload = result["data"]["submitOrder"]
    assert payload["order"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(field, code)]
    [message] = await recorded(api)
    assert message.outcome == Outcome.REJECTED
    assert message.error is not None and code in message.error
    await nothing_written(api)


async def test_negative_line_price_names_the_line(api: Api, creds: Credentials) -> None:
    lines = [{"sku": "A", "quantity": 1, "unitPrice": "10.00"}, {"sku": "B", "quantity": 1, "unitPrice": "-1.00"}]
    result = await api.gql(SUBMIT_ORDER, {"input": order_input(lines=lines, totalAmount=None)}, headers=creds.writer)
    errors = result["data"]["submitOrder"]["userErrors"]
    assert [(e["field"], e["code"]) for e in errors] == [(["input", "lines", "1", "unitPrice"], "NEGATIVE_AMOUNT")]
    await nothing_written(api)


async def test_missing_required_field_is_a_validation_error_and_recorded(api: Api, creds: Credentials) -> None:
    incomplete = order_input()
    del incomplete["currencyCode"]
    result = await api.gql(SUBMIT_ORDER, {"input": incomplete}, headers=creds.writer)
    assert result["data"] is None
    assert "currencyCode" in result["errors"][0]["message"]
    [message] = await recorded(api)
    assert message.outcome == Outcome.REJECTED
    assert message.error is not None and "currencyCode" in message.error
    await nothing_written(api)


@pytest.mark.parametrize(("overrides", "named"), [({"channel": "PINDUODUO"}, "SalesChannel"),
                                                 ({"status": "ON_HOLD"}, "OrderStatus")])  # fmt: skip
async def test_a_value_outside_an_enum_is_refused_by_name_and_recorded(
    api: Api, creds: Credentials, overrides: dict[str, str], named: str
) -> None:
    result = await api.gql(SUBMIT_ORDER, {"input": order_input(**overrides)}, headers=creds.writer)
    assert result["data"] is None
    [value] = overrides.values()
    assert f"Value '{value}' does not exist in '{named}' enum" in result["errors"][0]["message"]
    [message] = await recorded(api)
    assert message.outcome == Outcome.REJECTED and message.error is not None and value in message.error
    await nothing_written(api)


async def test_amount_as_json_number_is_refused(api: Api, creds: Credentials) -> None:
    result = await api.gql(SUBMIT_ORDER, {"input": order_input(shippingAmount=8.0)}, headers=creds.writer)
    assert result["data"] is None
    assert "Decimal values are strings" in result["errors"][0]["message"]
    await nothing_written(api)


async def test_key_without_scope_is_forbidden_and_recorded(api: Api, creds: Credentials) -> None:
    result = await api.gql(SUBMIT_ORDER, {"input": order_input()}, headers=creds.wms_only)
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "orders:write" in result["errors"][0]["message"]
    [message] = await recorded(api)
    assert (message.outcome, message.source) == (Outcome.REJECTED, "partner:wms")
    await nothing_written(api)


async def test_unknown_key_is_unauthenticated_and_recorded(api: Api, creds: Credentials) -> None:
    result = await api.gql(SUBMIT_ORDER, {"input": order_input()}, headers={"X-Api-Key": "ohk_not-a-real-key"})
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    [message] = await recorded(api)
    assert message.signature == "INVALID"
    assert message.outcome == Outcome.REJECTED
    await nothing_written(api)


async def test_customer_token_for_another_buyer_sees_nothing(api: Api, creds: Credentials) -> None:
    created = await api.gql(SUBMIT_ORDER, {"input": order_input()}, headers=creds.writer)
    gid = created["data"]["submitOrder"]["order"]["id"]
    stranger = creds.customer(api.runtime, "f" * 64)
    result = await api.gql(ORDER, {"id": gid}, headers=stranger)
    assert result == {"data": {"order": None}, "extensions": result["extensions"]}


async def test_idempotency_key_records_a_repeat_once(api: Api, creds: Credentials) -> None:
    headers = {**creds.writer, "Idempotency-Key": "bridge-batch-0001"}
    await api.gql(SUBMIT_ORDER, {"input": order_input()}, headers=headers)
    await api.gql(SUBMIT_ORDER, {"input": order_input()}, headers=headers)
    [message] = await recorded(api)
    assert message.repeats == 1
    assert message.natural_key == "bridge-batch-0001"
