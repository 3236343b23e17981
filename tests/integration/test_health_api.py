"""Health over GraphQL on both databases: partner reports, the five metrics, drill-downs, thresholds, bad input."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from api.auth.tokens import issue_staff_token
from domain.access.service import create_staff, issue_partner_key
from domain.clock import utcnow
from domain.fulfilment.models import OrderException
from tests.conftest import Api, Credentials
from tests.integration.fulfilment_fixtures import WAREHOUSE, callers, request_ship, scan
from tests.integration.orders_fixtures import SUBMIT_ORDER, order_input

METRICS = """query($input: HealthInput) { health(input: $input) { period from to
  metrics { metric dimension channel warehouseCode numerator denominator value threshold healthy healthyBelow }
  userErrors { field message code } } }"""
DRILL = """query($input: HealthDrilldownInput, $first: Int!) { healthDrilldown(input: $input) {
  userErrors { field code message }
  driftingOrders(first: $first) { edges { cursor node { drift statusChanges minimumChanges
    flips { fromStatus toStatus eventType actor } order { id channelOrderId } } } pageInfo { hasNextPage } }
  misattributed(first: $first) { edges { node { landingUrl utmSource missingUtmSource orderCount
    orders(first: 5) { edges { node { channelOrderId attribution { utmSource landingUrl } } } } } } }
  idDisagreements(first: $first) { edges { node { differingSystems order { channelOrderId }
    reports { system customerId customerGrade } } } }
  lateExceptions(first: $first) { edges { node { role hoursOpen exception { kind state } } } }
  lateExceptionsByKind { kind role count } } }"""
REPORT = """mutation($input: ReportOrderCustomerInput!) { reportOrderCustomer(input: $input) {
  repeated order { channelOrderId } userErrors { field code message } } }"""
WITHDRAW = """mutation($input: WithdrawShipmentRequestInput!) { withdrawShipmentRequest(input: $input) {
  order { status } userErrors { field code } } }"""
THRESHOLD = """mutation($input: SetHealthThresholdInput!) { setHealthThreshold(input: $input) {
  threshold { metric value default history { oldValue newValue changedBy reason } } userErrors { field code } } }"""
COMPUTE = """mutation($input: ComputeHealthInput!) { computeHealth(input: $input) {
  alertsRaised alertsCleared report { metrics { metric numerator denominator } } userErrors { field code } } }"""
TREND = """query($input: HealthTrendInput) { healthTrend(input: $input) { userErrors { field code }
  series { metric points { from numerator denominator value stored } } } }"""


def _by_metric(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["metric"]: m for m in body["data"]["health"]["metrics"]}


async def _order(
    api: Api,
    creds: Credentials,
    cid: str,
    channel: str,
    attribution: dict[str, str] | None,
    age: timedelta = timedelta(minutes=50),
) -> str:
    placed = utcnow() - age
    extra: dict[str, Any] = {"channel": channel, "status": "PAID", "placedAt": placed.isoformat(),
                             "paidAt": (placed + age / 50).isoformat()}  # fmt: skip
    if attribution is not None:
        extra["attribution"] = attribution
    result = await api.gql(SUBMIT_ORDER, {"input": order_input(cid, **extra)}, headers=creds.writer)
    assert result["data"]["submitOrder"]["userErrors"] == [], result
    gid: str = result["data"]["submitOrder"]["order"]["id"]
    return gid


async def test_five_metrics_and_their_drilldowns(api: Api, creds: Credentials) -> None:
    who = await callers(api)
    async with api.runtime.core.sessions() as session, session.begin():
        erp = await issue_partner_key(session, "erp", ["erp:write"])
        crm = await issue_partner_key(session, "crm", ["crm:write"])
    good = await _order(api, creds, "T-1", "TAOBAO", {"landingUrl": "https://shop.example/a?utm_source=taobao"})
    drifting = await _order(api, creds, "T-2", "TAOBAO", {"utmSource": "Taobao", "utmMedium": "cpc"})
    live = await _order(api, creds, "D-3", "DOUYIN", {"landingUrl": "https://shop.example/live"})
    await _order(api, creds, "D-4", "DOUYIN", {"utmSource": "taobao"})

    now = utcnow()
    assert (await request_ship(api, who, good, now - timedelta(minutes=40)))["userErrors"] == []
    for step, kind in enumerate(("PICKED", "PACKED")):
        done = await api.gql(WAREHOUSE, {"input": scan(kind, now - timedelta(minutes=30 - step), f"E{step}", "T-1",
                                                        customerId="WMS-77", customerGrade="VIP")},
                             headers=creds.wms_only)  # fmt: skip
        assert done["data"]["recordWarehouseEvent"]["outcome"] == "APPLIED", done
    for gid in (drifting, live):
        await request_ship(api, who, gid, now - timedelta(minutes=40))
        withdrawn = await api.gql(WITHDRAW, {"input": {"orderId": gid, "reason": "wrong parcel"}}, headers=who.ops)
        assert withdrawn["data"]["withdrawShipmentRequest"]["order"]["status"] == "PAID"
        await request_ship(api, who, gid, now - timedelta(minutes=10))
    refused = await api.gql(WITHDRAW, {"input": {"orderId": good, "reason": "x"}}, headers=who.ops)
    assert refused["data"]["withdrawShipmentRequest"]["userErrors"] == [{"field": ["input", "orderId"],
                                                                         "code": "ILLEGAL_TRANSITION"}]  # fmt: skip

    report = {"system": "ERP", "channelOrderId": "T-1", "customerId": "C-1", "customerGrade": "gold"}
    first = await api.gql(REPORT, {"input": report}, headers={"X-Api-Key": erp.key})
    assert first["data"]["reportOrderCustomer"] == {"repeated": False, "order": {"channelOrderId": "T-1"},
                                                    "userErrors": []}  # fmt: skip
    again = await api.gql(REPORT, {"input": report}, headers={"X-Api-Key": erp.key})
    assert again["data"]["reportOrderCustomer"]["repeated"] is True
    await api.gql(
        REPORT, {"input": {**report, "system": "CRM", "channelOrderId": "T-2"}}, headers={"X-Api-Key": crm.key}
    )
    await api.gql(REPORT, {"input": {**report, "channelOrderId": "T-2", "customerId": "C-1"}},
                  headers={"X-Api-Key": erp.key})  # fmt: skip
    forbidden = await api.gql(REPORT, {"input": {**report, "system": "CRM"}}, headers={"X-Api-Key": erp.key})
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    unknown = await api.gql(REPORT, {"input": {**report, "channelOrderId": "NOPE"}}, headers={"X-Api-Key": erp.key})
    assert unknown["data"]["reportOrderCustomer"]["userErrors"][0]["code"] == "NOT_FOUND"

    async with api.runtime.core.sessions() as session, session.begin():
        for age, resolved in ((80, None), (100, 2), (10, None), (5, 1)):
            opened = now - timedelta(hours=age)
            session.add(OrderException(kind="STUCK_AFTER_SHIP_REQUEST", state="OPEN", summary="s", opened_at=opened,
                                       resolved_at=None if resolved is None else opened + timedelta(hours=resolved),
                                       details={}))  # fmt: skip

    span = {"from": (now - timedelta(days=5)).isoformat(), "to": (now + timedelta(hours=1)).isoformat()}
    metrics = _by_metric(await api.gql(METRICS, {"input": span}, headers=creds.admin))
    counts = {name: (m["numerator"], m["denominator"]) for name, m in metrics.items()}
    assert counts == {
        "STATUS_DRIFT": (4, 4),
        "CHANNEL_ATTRIBUTION": (2, 4),
        "VOUCHER_MATCH": (0, 0),
        "ID_CONSISTENCY": (1, 2),  # T-2: ERP and CRM agree; T-1: ERP C-1, WMS WMS-77
        "EXCEPTION_CLOSURE": (2, 3),  # 80 h open, 100 h closed in 2 h, 5 h closed in 1 h; 10 h open waits
    }, counts
    assert metrics["VOUCHER_MATCH"]["value"] is None and metrics["VOUCHER_MATCH"]["healthy"] is None
    assert metrics["STATUS_DRIFT"]["value"] == 1.0 and metrics["STATUS_DRIFT"]["healthy"] is False

    drill = await api.gql(DRILL, {"input": span, "first": 10}, headers=creds.cs)
    body = drill["data"]["healthDrilldown"]
    assert [e["node"]["order"]["channelOrderId"] for e in body["driftingOrders"]["edges"]] == ["D-3", "T-2"]
    top = body["driftingOrders"]["edges"][1]["node"]
    assert (top["drift"], top["statusChanges"], top["minimumChanges"]) == (2, 4, 2)
    assert [f["toStatus"] for f in top["flips"]] == ["PAID", "SHIP_REQUESTED", "PAID", "SHIP_REQUESTED"]
    page = """query($input: HealthDrilldownInput, $after: String) { healthDrilldown(input: $input) {
      driftingOrders(first: 1, after: $after) { edges { cursor node { order { channelOrderId } } }
      pageInfo { hasNextPage } } } }"""
    first = (await api.gql(page, {"input": span}, headers=creds.cs))["data"]["healthDrilldown"]["driftingOrders"]
    assert first["pageInfo"]["hasNextPage"] is True
    after = first["edges"][0]["cursor"]
    second = (await api.gql(page, {"input": span, "after": after}, headers=creds.cs))["data"]["healthDrilldown"]
    assert [e["node"]["order"]["channelOrderId"] for e in second["driftingOrders"]["edges"]] == ["T-2"]
    assert second["driftingOrders"]["pageInfo"]["hasNextPage"] is False
    groups = {(g["node"]["landingUrl"], g["node"]["utmSource"]): g["node"] for g in body["misattributed"]["edges"]}
    assert set(groups) == {("https://shop.example/live", None), (None, "taobao")}
    assert groups[("https://shop.example/live", None)]["missingUtmSource"] is True
    [disagree] = [e["node"] for e in body["idDisagreements"]["edges"]]
    assert disagree["order"]["channelOrderId"] == "T-1"
    assert disagree["differingSystems"] == ["WMS"]
    assert [e["node"]["role"] for e in body["lateExceptions"]["edges"]] == ["ops"]
    assert body["lateExceptionsByKind"] == [{"kind": "STUCK_AFTER_SHIP_REQUEST", "role": "ops", "count": 1}]


async def test_thresholds_alerts_and_trend(api: Api, creds: Credentials) -> None:
    who = await callers(api)
    # no utm_source: attribution 0%; placed seconds ago, so it is in the merchant's current day even just after midnight
    await _order(api, creds, "T-9", "TAOBAO", None, timedelta(seconds=5))
    raised = await api.gql(COMPUTE, {"input": {"period": "DAY"}}, headers=who.ops)
    assert raised["data"]["computeHealth"]["alertsRaised"] == ["CHANNEL_ATTRIBUTION"]
    again = await api.gql(COMPUTE, {"input": {"period": "DAY"}}, headers=who.ops)
    assert again["data"]["computeHealth"]["alertsRaised"] == []  # one alert, not one per computation

    denied = await api.gql(THRESHOLD, {"input": {"metric": "CHANNEL_ATTRIBUTION", "threshold": 0.0, "reason": "x"}},
                           headers=who.ops)  # fmt: skip
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    bad = await api.gql(THRESHOLD, {"input": {"metric": "SPEED", "threshold": 2, "reason": ""}}, headers=creds.admin)
    assert [e["code"] for e in bad["data"]["setHealthThreshold"]["userErrors"]] == [
        "UNKNOWN_METRIC", "OUT_OF_RANGE", "REQUIRED"]  # fmt: skip
    for n in range(3):
        await _order(api, creds, f"T-1{n}", "TAOBAO", {"utmSource": "taobao"}, timedelta(seconds=5))
    lowered = {"metric": "channel_attribution", "threshold": 0.5, "reason": "new shop, utm rolling out"}
    changed = await api.gql(THRESHOLD, {"input": lowered}, headers=creds.admin)
    threshold = changed["data"]["setHealthThreshold"]["threshold"]
    assert threshold["value"] == 0.5 and threshold["default"] == 0.995
    assert threshold["history"] == [{"oldValue": 0.995, "newValue": 0.5, "changedBy": "staff:admin@shop.example",
                                     "reason": "new shop, utm rolling out"}]  # fmt: skip
    cleared = await api.gql(COMPUTE, {"input": {"period": "DAY"}}, headers=who.ops)
    assert cleared["data"]["computeHealth"]["alertsCleared"] == ["CHANNEL_ATTRIBUTION"]  # 3 of 4 > 50%

    trend = await api.gql(TREND, {"input": {"metrics": ["STATUS_DRIFT"], "count": 7}}, headers=creds.cs)
    [series] = trend["data"]["healthTrend"]["series"]
    assert len(series["points"]) == 7
    assert series["points"][-1]["stored"] is True and series["points"][-1]["denominator"] == 4
    assert series["points"][0] == {**series["points"][0], "numerator": 0, "denominator": 0, "value": None}


async def test_bad_input_and_callers(api: Api, creds: Credentials) -> None:
    now = utcnow()
    cases = [
        ({"metrics": ["SPEED"]}, "UNKNOWN_METRIC", ["input", "metrics", "0"]),
        ({"dimension": "REGION"}, "UNKNOWN_DIMENSION", ["input", "dimension"]),
        ({"from": now.isoformat(), "to": (now - timedelta(days=1)).isoformat()}, "INVERTED_RANGE", ["input", "to"]),
        ({"from": (now - timedelta(days=400)).isoformat(), "to": now.isoformat()}, "PERIOD_TOO_LONG", ["input", "to"]),
        ({"period": "WEEK"}, "UNKNOWN_PERIOD", ["input", "period"]),
    ]
    for given, code, field in cases:
        body = await api.gql(METRICS, {"input": given}, headers=creds.admin)
        [error] = body["data"]["health"]["userErrors"]
        assert (error["code"], error["field"]) == (code, field), body
    empty = _by_metric(await api.gql(METRICS, {"input": {"dimension": "CHANNEL"}}, headers=creds.admin))
    assert empty == {}  # no channel had orders: no rows per channel
    overall = _by_metric(await api.gql(METRICS, {}, headers=creds.admin))
    assert {m["denominator"] for m in overall.values()} == {0}
    assert {m["value"] for m in overall.values()} == {None}
    for headers, code in ((creds.reader, "FORBIDDEN"), ({}, "UNAUTHENTICATED")):
        denied = await api.gql(METRICS, {}, headers=headers)
        assert denied["errors"][0]["extensions"]["code"] == code
    async with api.runtime.core.sessions() as session, session.begin():
        staff = await create_staff(session, "fin@shop.example", "correct horse battery", ["finance"])
    assert staff.id
    token = issue_staff_token(api.runtime.settings.secret("token_secret"), staff.id, staff.email, staff.roles, 10)
    denied = await api.gql(COMPUTE, {"input": {}}, headers={"Authorization": f"Bearer {token.token}"})
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
