"""The shipped rule, the evidence validation, the journey arithmetic and the simulated floor, without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.errors import Problems
from domain.fulfilment.evidence import (
    CarrierSubmission,
    ConfirmationSubmission,
    EvidenceKind,
    ScanSubmission,
    validate_carrier,
    validate_confirmation,
    validate_scan,
)
from domain.fulfilment.journey import customer_flow, where
from domain.fulfilment.models import ExceptionKind
from domain.fulfilment.rule import ShippedRule, judge_outbound
from domain.fulfilment.service import PhysicalTimeRefused, physical_times
from domain.i18n import use_language
from domain.i18n.durations import format_duration
from domain.orders.models import Order, OrderEvent
from domain.orders.service import Provenance
from domain.orders.status import Source
from sim.day import generate_day
from sim.fulfilment import generate_fulfilment

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
RULE = ShippedRule()


@pytest.mark.parametrize(
    ("requested", "outbound", "reason"),
    [
        (T0, T0 + timedelta(minutes=5), None),
        (T0, T0 + timedelta(hours=17), None),
        (T0, T0 + timedelta(minutes=4, seconds=59), "TOO_SOON"),
        (T0, T0 - timedelta(seconds=1), "BEFORE_REQUEST"),
        (None, T0, "NO_SHIP_REQUEST"),
        (T0, None, "NO_OUTBOUND_TIME"),
        (T0, T0 + timedelta(days=2), "FUTURE_TIME"),
    ],
)
def test_shipped_rule(requested: datetime | None, outbound: datetime | None, reason: str | None) -> None:
    now = T0 + timedelta(days=1)
    breach = judge_outbound(RULE, requested, outbound, now)
    assert (breach.reason if breach else None) == reason


def test_rule_parameters_are_data() -> None:
    relaxed = ShippedRule(version=3, min_minutes_after_request=0, require_outbound_time=False)
    assert judge_outbound(relaxed, T0, T0, T0) is None
    assert judge_outbound(relaxed, T0, None, T0) is None
    strict = ShippedRule(version=4, min_minutes_after_request=60)
    breach = judge_outbound(strict, T0, T0 + timedelta(minutes=59), T0 + timedelta(hours=2))
    assert breach is not None and breach.kind is ExceptionKind.SUSPICIOUS_OUTBOUND


@pytest.mark.parametrize("source", [Source.STAFF, Source.CUSTOMER, Source.CHANNEL, Source.SYSTEM])
def test_only_warehouse_and_carrier_write_physical_times(source: Source) -> None:
    with pytest.raises(PhysicalTimeRefused):
        physical_times(Provenance(source, "someone"), shipped_at=T0)
    assert physical_times(Provenance(Source.WMS, "wms"), shipped_at=T0) == {"shipped_at": T0}
    assert physical_times(Provenance(Source.CARRIER, "sf"), delivered_at=T0) == {"delivered_at": T0}


def test_confirmation_maps_status_and_finality() -> None:
    problems = Problems()
    base = ConfirmationSubmission("4102", "WH-SH-01", "DELIVERED", "B-1", operate_time=T0, express_code="SF1")
    final = validate_confirmation(base, (), problems)
    assert final is not None and final.kind is EvidenceKind.WAREHOUSE_OUTBOUND
    assert final.event_key == "confirm:WH-SH-01:B-1" and final.tracking_number == "SF1"
    partial = validate_confirmation(
        ConfirmationSubmission("4102", "WH-SH-01", "DELIVERED", "B-2", confirm_type="INTERMEDIATE"), (), problems
    )
    assert partial is not None and partial.kind is EvidenceKind.WAREHOUSE_PARTIAL_OUTBOUND
    assert problems.items == []


def test_validation_names_every_bad_field() -> None:
    problems = Problems()
    naive = datetime(2026, 11, 24, 12, 0)
    assert validate_scan(ScanSubmission("", "4102", " ", "FLOATED", naive), ("scan",), problems) is None
    assert {(p.field, p.code) for p in problems.items} == {
        (("scan", "event_id"), "REQUIRED"),
        (("scan", "warehouse_code"), "REQUIRED"),
        (("scan", "scan_type"), "INVALID_VALUE"),
        (("scan", "scanned_at"), "INVALID_TIME"),
    }
    problems = Problems()
    assert validate_carrier(CarrierSubmission("e", "SF", "SF1", "LOST", T0), (), problems) is None
    assert [p.field for p in problems.items] == [("action",)]


def test_flow_keeps_status_changes_only_and_durations_read_well() -> None:
    statuses = ["PENDING_PAYMENT", "PAID", "SHIP_REQUESTED", "SHIP_REQUESTED", "PACKED"]
    events = [
        OrderEvent(order_id=1, version=i + 1, type="X", status=s, source="WMS", actor="a",
                   occurred_at=T0 + timedelta(minutes=10 * i), recorded_at=T0, data={})
        for i, s in enumerate(statuses)
    ]  # fmt: skip
    order = Order(current_station="packing station B", current_zone="P", warehouse_code="WH-SH-01")
    with use_language("en"):
        assert [s.label for s in customer_flow(events)] == ["order placed", "paid", "ship request", "packed"]
        assert format_duration(17 * 3600 + 22 * 60 + 5) == "17 h 22 min"
        assert where(order) == "packing station B (P, WH-SH-01)"
    with use_language("zh-CN"):
        assert [s.label for s in customer_flow(events)] == ["已下单", "已付款", "已申请发货", "已打包"]
        assert where(order) == "packing station B（P, WH-SH-01）"


def test_simulated_floor_is_deterministic_and_stops_at_the_cutoff() -> None:
    day = generate_day(7, date(2024, 11, 11), 300)
    cutoff = datetime(2024, 11, 11, 18, tzinfo=UTC)
    first = generate_fulfilment(day, cutoff, limit=150)
    assert first == generate_fulfilment(day, cutoff, limit=150)
    assert all(e.at <= cutoff for e in first.events)
    assert first.truth["orders"] == 150
    assert first.truth["clicked"] >= first.truth["physically_shipped"] >= first.truth["delivered"]
    kinds = {e.kind for e in first.events}
    assert kinds == {"request", "warehouse", "carrier"}
    for events in first.by_order():
        assert [e.at for e in events] == sorted(e.at for e in events)
