"""Recorded partner requests read back into evidence: inputs as variables or literals, aliases, the operation
named, and bodies that are not GraphQL requests."""

from __future__ import annotations

import json
from typing import Any

import pytest

from api.graphql.fulfilment.replay import read_evidence
from api.graphql.schema import build_schema

SCHEMA = build_schema()
CARRIER = {"eventId": "e1", "carrierCode": "SF", "trackingNumber": "SF1402938475612", "action": "DELIVERED",
           "occurredAt": "2026-11-24T12:00:00+08:00", "signer": "front desk"}  # fmt: skip
BY_VARIABLE = "mutation C($input: CarrierEventInput!) { recordCarrierEvent(input: $input) { outcome } }"
LITERAL = """mutation W { scanned: recordWarehouseEvent(input: {scan: {eventId: "s1", deliveryOrderCode: "4102",
  warehouseCode: "WH1", scanType: "PACKED", scannedAt: "2026-11-24T10:00:00+08:00"}}) { outcome } }"""


def _body(query: str, variables: dict[str, Any] | None = None, name: str | None = None) -> bytes:
    return json.dumps({"query": query, "variables": variables, "operationName": name}).encode()


def test_a_carrier_event_sent_as_a_variable_is_read_and_validated() -> None:
    [(evidence, problems)] = read_evidence(SCHEMA, _body(BY_VARIABLE, {"input": CARRIER}))
    assert problems.items == [] and evidence is not None
    assert (evidence.event_key, evidence.kind.value, evidence.order_reference) == (
        "carrier:SF:e1", "CARRIER_DELIVERED", "SF1402938475612",
    )  # fmt: skip


def test_a_literal_aliased_warehouse_scan_is_read_and_only_the_named_operation_counts() -> None:
    both = LITERAL + "\n" + BY_VARIABLE
    [(scan, _)] = read_evidence(SCHEMA, _body(both, {"input": CARRIER}, name="W"))
    assert scan is not None and (scan.warehouse_code, scan.kind.value) == ("WH1", "SCAN_PACKED")
    [(carrier, _)] = read_evidence(SCHEMA, _body(both, {"input": CARRIER}, name="C"))
    assert carrier is not None and carrier.carrier_code == "SF"


def test_an_event_today_s_validation_refuses_comes_back_with_its_problems() -> None:
    [(evidence, problems)] = read_evidence(SCHEMA, _body(BY_VARIABLE, {"input": {**CARRIER, "eventId": " "}}))
    assert evidence is None and problems.items


@pytest.mark.parametrize("body", [b"not json", b'{"variables": {}}', b'{"query": "mutation {"}'])
def test_a_body_that_is_no_graphql_request_is_a_value_error(body: bytes) -> None:
    with pytest.raises(ValueError, match="not a GraphQL request"):
        read_evidence(SCHEMA, body)


def test_queries_and_other_mutations_carry_no_evidence() -> None:
    assert read_evidence(SCHEMA, _body("query { __typename }")) == []
    assert read_evidence(SCHEMA, _body(BY_VARIABLE, {"input": {"eventId": "x"}})) == []
