"""Webhook endpoints over GraphQL: a partner manages its own, staff see all and admins manage all; bad input
is refused naming the field; a rotated secret and the old one both sign during the overlap; a redelivery
carries the same webhook-id."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from api.graphql.ids import decode_gid, encode_gid
from domain.access.service import issue_partner_key
from domain.webhooks.models import WebhookDelivery, WebhookEndpoint
from runtime.queues import WEBHOOKS
from tests.conftest import Api, Credentials
from tests.integration.test_webhooks import _attempts, _deliveries, _submit, _until, _workers
from tests.integration.webhook_receivers import Receivers, start_receivers

CREATE = """mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) {
  endpoint { id url eventTypes state } secret userErrors { field message code } } }"""
ROTATE = """mutation($input: RotateWebhookSecretInput!) { rotateWebhookSecret(input: $input) {
  endpoint { previousSecretUntil } secret userErrors { field code } } }"""
REDELIVER = """mutation($input: RedeliverWebhookInput!) { redeliverWebhook(input: $input) {
  delivery { id webhookId state } userErrors { field code } } }"""
UPDATE = """mutation($input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(input: $input) {
  endpoint { state disabledReason } userErrors { field code } } }"""
LIST = """{ webhookEndpoints(first: 10) { edges { node { id url deliveries(first: 5) { edges { node {
  id webhookId eventType state attemptCount attempts(first: 10) { edges { node {
    attempt trigger responseStatus succeeded durationMs } } } } } } } } } }"""
NODE = """query($id: ID!) { node(id: $id) { __typename id } }"""
WHY = """query($id: ID!) { node(id: $id) { ... on WebhookEndpoint { state disabledReason } } }"""


@pytest.fixture(scope="module")
def receivers() -> Iterator[Receivers]:
    started = start_receivers()
    yield started
    started.server.stop()


def _create(url: str, types: list[str], **more: Any) -> dict[str, Any]:
    return {"input": {"url": url, "eventTypes": types, **more}}


async def test_bad_input_is_refused_naming_the_field(api: Api, creds: Credentials) -> None:
    cases = [
        (_create("ftp://erp.example/in", ["ORDER_SHIPPED"]), ["input", "url"], "INVALID_URL"),
        (_create("https://erp.example/in", ["PAYMENT_POSTED"]), ["input", "eventTypes", "0"], "EVENT_TYPE_NOT_ALLOWED"),
        (_create("https://erp.example/in", []), ["input", "eventTypes"], "NO_EVENT_TYPES"),
    ]
    for variables, field, code in cases:
        answer = await api.gql(CREATE, variables, headers=creds.reader)
        payload = answer["data"]["createWebhookEndpoint"]
        assert payload["endpoint"] is None and payload["secret"] is None
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(field, code)]
    refused = await api.gql(CREATE, _create("https://wms.example/in", ["ORDER_SHIPPED"]), headers=creds.wms_only)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    admin_needs_key = await api.gql(CREATE, _create("https://erp.example/in", ["ORDER_SHIPPED"]), headers=creds.admin)
    assert admin_needs_key["data"]["createWebhookEndpoint"]["userErrors"][0]["field"] == ["input", "partnerKeyId"]


async def test_partners_manage_their_own_endpoints_and_rotation_and_redelivery_keep_working(
    api: Api, creds: Credentials, receivers: Receivers
) -> None:
    rt = api.runtime
    receivers.received.clear()
    async with rt.core.sessions() as session, session.begin():
        key = await issue_partner_key(session, "finance-erp", ["orders:read"])
    partner = {"X-Api-Key": key.key}
    url = receivers.url("/ok/a")
    made = (await api.gql(CREATE, _create(url, ["ORDER_STATUS_CHANGED"]), headers=partner))["data"]
    created = made["createWebhookEndpoint"]
    assert created["userErrors"] == [] and created["secret"].startswith("whsec_")
    endpoint_id, old = created["endpoint"]["id"], created["secret"]
    granted = await api.gql(
        CREATE, _create(url, ["RECONCILIATION_FINISHED"], partnerKeyId=encode_gid("PartnerKey", key.id)),
        headers=creds.admin,
    )  # fmt: skip
    assert granted["data"]["createWebhookEndpoint"]["userErrors"] == []

    mine = (await api.gql(LIST, headers=partner))["data"]["webhookEndpoints"]["edges"]
    assert len(mine) == 2  # its own, including the one an admin granted it
    assert (await api.gql(LIST, headers=creds.reader))["data"]["webhookEndpoints"]["edges"] == []
    assert (await api.gql(NODE, {"id": endpoint_id}, headers=creds.reader))["data"]["node"] is None
    assert (await api.gql(NODE, {"id": endpoint_id}, headers=creds.cs))["data"]["node"]["id"] == endpoint_id
    stranger = await api.gql(UPDATE, {"input": {"id": endpoint_id, "enabled": False}}, headers=creds.reader)
    assert stranger["data"]["updateWebhookEndpoint"]["userErrors"] == [{"field": ["input", "id"], "code": "NOT_FOUND"}]

    rotated = (await api.gql(ROTATE, {"input": {"id": endpoint_id, "overlapHours": 1}}, headers=partner))["data"]
    new = rotated["rotateWebhookSecret"]["secret"]
    assert new.startswith("whsec_") and new != old and rotated["rotateWebhookSecret"]["endpoint"]["previousSecretUntil"]
    receivers.secrets["/ok/a"] = [old, new]
    await _submit(api, creds, "WH-API-1")
    endpoint_key = int(endpoint_id.rsplit("/", 1)[1])

    async def delivered(count: int) -> bool:
        """Received `count` times, and the last attempt recorded."""
        if len(receivers.at("/ok/a")) != count:
            return False
        logged = await _attempts(rt, endpoint_key)
        return len(logged) == count and all(a.succeeded for a in logged)

    async with _workers(rt, WEBHOOKS):
        await _until(lambda: delivered(1))
        [got] = receivers.at("/ok/a")
        assert got.signatures == 2 and got.verified_by == [old, new]  # either secret verifies during the overlap
        [delivery] = await _deliveries(rt, endpoint_key)
        delivery_id = encode_gid("WebhookDelivery", delivery.id or 0)
        again = (await api.gql(REDELIVER, {"input": {"deliveryId": delivery_id}}, headers=partner))["data"]
        assert again["redeliverWebhook"]["userErrors"] == []
        await _until(lambda: delivered(2))
    first, second = receivers.at("/ok/a")
    assert first.webhook_id == second.webhook_id == again["redeliverWebhook"]["delivery"]["webhookId"]

    listed = (await api.gql(LIST, headers=partner))["data"]["webhookEndpoints"]["edges"]
    [shown] = [e["node"] for e in listed if e["node"]["id"] == endpoint_id]
    [entry] = shown["deliveries"]["edges"]
    node = entry["node"]
    assert (node["eventType"], node["state"], node["attemptCount"]) == ("ORDER_STATUS_CHANGED", "DELIVERED", 2)
    log = [(a["node"]["attempt"], a["node"]["trigger"], a["node"]["responseStatus"]) for a in node["attempts"]["edges"]]
    assert log == [(1, "initial", 200), (2, "manual:partner:finance-erp", 200)]
    assert (await api.gql(NODE, {"id": node["id"]}, headers=partner))["data"]["node"]["__typename"] == "WebhookDelivery"

    overlap_over = await api.gql(ROTATE, {"input": {"id": endpoint_id, "overlapHours": 0}}, headers=partner)
    newest = overlap_over["data"]["rotateWebhookSecret"]["secret"]
    async with rt.core.sessions() as session:
        row = await session.get(WebhookDelivery, delivery.id)
    assert row is not None
    receivers.secrets["/ok/a"] = [new, newest]
    async with _workers(rt, WEBHOOKS):
        await api.gql(REDELIVER, {"input": {"deliveryId": delivery_id}}, headers=creds.admin)
        await _until(lambda: delivered(3))
    third = receivers.at("/ok/a")[2]
    assert third.signatures == 1 and third.verified_by == [newest]  # the overlap of 0 h ended the old secret


async def test_why_an_endpoint_is_off_reads_in_the_callers_language(api: Api, creds: Credentials) -> None:
    async with api.runtime.core.sessions() as session, session.begin():
        key = await issue_partner_key(session, "wms-off", ["orders:read"])
    made = await api.gql(
        CREATE, _create("https://wms.example/in", ["ORDER_SHIPPED"], partnerKeyId=encode_gid("PartnerKey", key.id)),
        headers=creds.admin,
    )  # fmt: skip
    endpoint_id = made["data"]["createWebhookEndpoint"]["endpoint"]["id"]
    off = await api.gql(UPDATE, {"input": {"id": endpoint_id, "enabled": False}}, headers=creds.admin)
    assert off["data"]["updateWebhookEndpoint"]["userErrors"] == []

    async def why(language: str) -> str:
        answer = await api.gql(WHY, {"id": endpoint_id}, headers={**creds.admin, "Accept-Language": language})
        assert answer["data"]["node"]["state"] == "DISABLED"
        return str(answer["data"]["node"]["disabledReason"])

    actor = "staff:admin@shop.example"
    assert (await why("en"), await why("zh-CN")) == (f"disabled by {actor}", f"由 {actor} 停用")
    _type, row_id = decode_gid(endpoint_id, "WebhookEndpoint")
    async with api.runtime.core.sessions() as session, session.begin():
        row = await session.get(WebhookEndpoint, row_id)
        assert row is not None and row.disabled_reason == f"disabled by {actor}"  # the English stays for machines
        # an endpoint switched off before its sentence was kept: the text as written, in every language
        row.disabled_reason, row.sentences = "3 attempts in a row failed since 2026-12-01 09:00 (UTC+08:00)", None
    assert await why("zh-CN") == await why("en") == "3 attempts in a row failed since 2026-12-01 09:00 (UTC+08:00)"
