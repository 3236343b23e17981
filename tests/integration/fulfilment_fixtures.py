"""Callers, documents and warehouse/carrier payloads shared by the fulfilment tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select

from api.auth.tokens import issue_staff_token
from domain.access.service import create_staff, issue_partner_key
from domain.clock import utcnow
from domain.fulfilment.models import OrderException
from domain.outbox.models import OutboxMessage
from tests.conftest import Api, Credentials
from tests.integration.orders_fixtures import SUBMIT_ORDER, order_input

ORDER_FIELDS = """id status warehouseCode trackingNumber carrierCode currentOperator shipRequestedAt shippedAt
  deliveredAt pickedAt packedAt version predictedNextAt lastStageDuration { seconds text }"""

REQUEST = f"""mutation($input: RequestShipmentInput!) {{ requestShipment(input: $input) {{
  order {{ {ORDER_FIELDS} }} userErrors {{ field message code }} }} }}"""

EVIDENCE_FIELDS = f"""outcome decision repeated order {{ {ORDER_FIELDS} }}
  exceptions {{ id kind state summary details order {{ id }} }} userErrors {{ field message code }}"""

WAREHOUSE = (
    f"""mutation($input: WarehouseEventInput!) {{ recordWarehouseEvent(input: $input) {{ {EVIDENCE_FIELDS} }} }}"""
)
CARRIER = f"""mutation($input: CarrierEventInput!) {{ recordCarrierEvent(input: $input) {{ {EVIDENCE_FIELDS} }} }}"""

EXCEPTIONS = """query($first: Int!, $filter: OrderExceptionFilter) { orderExceptions(first: $first, filter: $filter) {
  edges { node { id kind state summary assignedTo resolver resolution resolvedAt order { id } } } } }"""
RESOLVE = """mutation($input: ResolveExceptionInput!) { resolveException(input: $input) {
  exception { id state resolver resolution resolvedAt } userErrors { field message code } } }"""
ASSIGN = """mutation($input: AssignExceptionInput!) { assignException(input: $input) {
  exception { id assignedTo } userErrors { field message code } } }"""
RULE = """mutation($input: ChangeShippedRuleInput!) { changeShippedRule(input: $input) {
  rule { version minMinutesAfterRequest requireOutboundTime clockSkewMinutes
         history { version changedBy reason previous } } userErrors { field message code } } }"""
TIMELINE = """query($id: ID!) { order(id: $id) { timeline { flow { status label at }
  systemLog(first: 50) { edges { node { version type status source actor decision } } } }
  backtrack { stages { label fromStatus toStatus duration { seconds text } }
    blockingPoint { status waitingFor station zone operator warehouseCode summary duration { seconds } } } } }"""


@dataclass
class Callers:
    ops: dict[str, str]
    carrier: dict[str, str]


async def callers(api: Api) -> Callers:
    rt = api.runtime
    async with rt.core.sessions() as session, session.begin():
        ops = await create_staff(session, "ops@shop.example", "correct horse battery", ["ops"])
        carrier = await issue_partner_key(session, "sf-express", ["carrier:write"])
    assert ops.id
    token = issue_staff_token(rt.settings.secret("token_secret"), ops.id, ops.email, ops.roles, 10).token
    return Callers(ops={"Authorization": f"Bearer {token}"}, carrier={"X-Api-Key": carrier.key})


async def paid_order(api: Api, creds: Credentials, channel_order_id: str = "4102938475610293847") -> dict[str, Any]:
    placed = utcnow() - timedelta(hours=6)
    order = order_input(
        channel_order_id,
        status="PAID",
        placedAt=placed.isoformat(),
        paidAt=(placed + timedelta(minutes=2)).isoformat(),
    )
    result = await api.gql(SUBMIT_ORDER, {"input": order}, headers=creds.writer)
    created: dict[str, Any] = result["data"]["submitOrder"]["order"]
    return created


async def request_ship(api: Api, who: Callers, gid: str, at: datetime) -> dict[str, Any]:
    result = await api.gql(REQUEST, {"input": {"orderId": gid, "requestedAt": at.isoformat()}}, headers=who.ops)
    payload: dict[str, Any] = result["data"]["requestShipment"]
    return payload


def scan(kind: str, at: datetime, event_id: str, code: str = "4102938475610293847", **extra: Any) -> dict[str, Any]:
    body = {
        "eventId": event_id,
        "deliveryOrderCode": code,
        "warehouseCode": "WH-SH-01",
        "scanType": kind,
        "scannedAt": at.isoformat(),
        "zone": "P",
        "station": "packing station B",
        "operatorCode": "E1024",
        "operatorName": "Li Lei",
    }
    return {"scan": {**body, **extra}}


def confirmation(at: datetime | None, dedup: str, code: str = "4102938475610293847", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "deliveryOrderCode": code,
        "warehouseCode": "WH-SH-01",
        "status": "DELIVERED",
        "outBizCode": dedup,
        "confirmType": "FINAL",
        "operatorCode": "E2048",
        "operatorName": "Han Meimei",
        "operateTime": None if at is None else at.isoformat(),
        "logisticsCode": "SF",
        "expressCode": "SF1402938475612",
        "packages": [
            {"logisticsCode": "SF", "expressCode": "SF1402938475612", "weightGrams": 730,
             "items": [{"itemCode": "SKU-TEA-001", "quantity": 1}, {"itemCode": "SKU-CUP-002", "quantity": 1}]}
        ],
        "orderLines": [
            {"orderLineNo": "1", "itemCode": "SKU-TEA-001", "planQty": 1, "actualQty": 1},
            {"orderLineNo": "2", "itemCode": "SKU-CUP-002", "planQty": 1, "actualQty": 1},
        ],
    }  # fmt: skip
    body.update(extra)
    return {"confirmation": body}


def carrier_event(action: str, at: datetime, event_id: str, tracking: str = "SF1402938475612") -> dict[str, Any]:
    return {
        "eventId": event_id,
        "carrierCode": "SF",
        "trackingNumber": tracking,
        "action": action,
        "occurredAt": at.isoformat(),
        "location": "Shanghai Qingpu hub",
        "courier": "Wang Qiang",
    }


async def outbox_rows(api: Api, target: str) -> list[OutboxMessage]:
    async with api.runtime.core.sessions() as session:
        query = select(OutboxMessage).where(OutboxMessage.target == target).order_by(col(OutboxMessage.id))
        return list((await session.exec(query)).all())


async def exceptions(api: Api) -> list[OrderException]:
    async with api.runtime.core.sessions() as session:
        return list((await session.exec(select(OrderException).order_by(col(OrderException.id)))).all())
