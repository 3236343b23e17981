"""Warehouse and carrier messages in the shapes partners really send, validated into one canonical evidence.

A warehouse sends a delivery-order confirmation (the Qimen-style `deliveryorder.confirm`: order code,
warehouse, status, a dedup business code, final or intermediate, operator, operate time, logistics
company, tracking number, packages and lines) and finer scans from its floor (PICKED, PACKED, WEIGHED,
SHIPPED at a zone and station). A carrier sends pickup, transit and signed-for events keyed by tracking
number. Validation collects every problem with its field path, so a partner fixes a message in one trip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.columns import check_row
from domain.errors import Problems
from domain.fulfilment.errors import FulfilmentErrorCode
from domain.fulfilment.models import FulfilmentEvidence
from domain.i18n import msg
from domain.orders.status import Source

Path = tuple[str | int, ...]
MAX_ITEMS = 100


class EvidenceKind(StrEnum):
    WAREHOUSE_ACCEPTED = "WAREHOUSE_ACCEPTED"
    WAREHOUSE_PARTIAL_OUTBOUND = "WAREHOUSE_PARTIAL_OUTBOUND"
    WAREHOUSE_OUTBOUND = "WAREHOUSE_OUTBOUND"
    WAREHOUSE_EXCEPTION = "WAREHOUSE_EXCEPTION"
    SCAN_PICKED = "SCAN_PICKED"
    SCAN_PACKED = "SCAN_PACKED"
    SCAN_WEIGHED = "SCAN_WEIGHED"
    SCAN_SHIPPED = "SCAN_SHIPPED"
    CARRIER_PICKED_UP = "CARRIER_PICKED_UP"
    CARRIER_IN_TRANSIT = "CARRIER_IN_TRANSIT"
    CARRIER_DELIVERED = "CARRIER_DELIVERED"


SCANS = frozenset(
    {EvidenceKind.SCAN_PICKED, EvidenceKind.SCAN_PACKED, EvidenceKind.SCAN_WEIGHED, EvidenceKind.SCAN_SHIPPED}
)
OUTBOUND = frozenset({EvidenceKind.WAREHOUSE_OUTBOUND, EvidenceKind.SCAN_SHIPPED, EvidenceKind.CARRIER_PICKED_UP})

CONFIRM_STATUSES = ("ACCEPT", "PARTDELIVERED", "DELIVERED", "EXCEPTION")
CONFIRM_TYPES = ("FINAL", "INTERMEDIATE")
SCAN_TYPES = {"PICKED": EvidenceKind.SCAN_PICKED, "PACKED": EvidenceKind.SCAN_PACKED,
              "WEIGHED": EvidenceKind.SCAN_WEIGHED, "SHIPPED": EvidenceKind.SCAN_SHIPPED}  # fmt: skip
CARRIER_ACTIONS = {"PICKED_UP": EvidenceKind.CARRIER_PICKED_UP, "IN_TRANSIT": EvidenceKind.CARRIER_IN_TRANSIT,
                   "DELIVERED": EvidenceKind.CARRIER_DELIVERED}  # fmt: skip


@dataclass(frozen=True)
class PackageItem:
    item_code: str
    quantity: int


@dataclass(frozen=True)
class PackageSubmission:
    logistics_code: str | None = None
    express_code: str | None = None
    weight_grams: int | None = None
    items: list[PackageItem] = field(default_factory=list)


@dataclass(frozen=True)
class ConfirmLine:
    order_line_no: str
    item_code: str
    plan_qty: int
    actual_qty: int


@dataclass(frozen=True)
class ConfirmationSubmission:
    delivery_order_code: str
    warehouse_code: str
    status: str
    out_biz_code: str
    confirm_type: str = "FINAL"
    operator_code: str | None = None
    operator_name: str | None = None
    operate_time: datetime | None = None
    logistics_code: str | None = None
    express_code: str | None = None
    packages: list[PackageSubmission] = field(default_factory=list)
    lines: list[ConfirmLine] = field(default_factory=list)
    customer_id: str | None = None  # the warehouse system's own customer record, compared by health
    customer_grade: str | None = None


@dataclass(frozen=True)
class ScanSubmission:
    event_id: str
    delivery_order_code: str
    warehouse_code: str
    scan_type: str
    scanned_at: datetime
    zone: str | None = None
    station: str | None = None
    operator_code: str | None = None
    operator_name: str | None = None
    express_code: str | None = None
    weight_grams: int | None = None
    customer_id: str | None = None
    customer_grade: str | None = None


@dataclass(frozen=True)
class CarrierSubmission:
    event_id: str
    carrier_code: str
    tracking_number: str
    action: str
    occurred_at: datetime
    location: str | None = None
    courier: str | None = None
    signer: str | None = None


@dataclass(frozen=True)
class Evidence:
    """`order_reference` is the delivery order code (the channel order id) or, for carriers, the tracking number."""

    source: Source
    event_key: str
    kind: EvidenceKind
    order_reference: str
    by_tracking: bool
    occurred_at: datetime | None
    warehouse_code: str | None = None
    zone: str | None = None
    station: str | None = None
    operator: str | None = None
    carrier_code: str | None = None
    tracking_number: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    customer_id: str | None = None  # what the warehouse system calls the order's customer, if it said
    customer_grade: str | None = None


def validate_confirmation(sub: ConfirmationSubmission, at: Path, problems: Problems) -> Evidence | None:
    start = len(problems.items)
    code = _required(sub.delivery_order_code, (*at, "delivery_order_code"), problems)
    warehouse = _required(sub.warehouse_code, (*at, "warehouse_code"), problems)
    dedup = _required(sub.out_biz_code, (*at, "out_biz_code"), problems)
    if sub.status not in CONFIRM_STATUSES:
        problems.add(
            (*at, "status"),
            msg(
                "unknown status {status}; one of {confirm_statuses}",
                status=repr(sub.status),
                confirm_statuses=", ".join(CONFIRM_STATUSES),
            ),
            FulfilmentErrorCode.INVALID_VALUE,
        )
    if sub.confirm_type not in CONFIRM_TYPES:
        problems.add(
            (*at, "confirm_type"),
            msg("unknown confirm type {confirm_type}", confirm_type=repr(sub.confirm_type)),
            FulfilmentErrorCode.INVALID_VALUE,
        )
    operate_time = problems.aware_time(sub.operate_time, (*at, "operate_time"))
    customer_id, customer_grade = _customer(sub.customer_id, sub.customer_grade, at, problems)
    if len(sub.packages) > MAX_ITEMS:
        problems.add(
            (*at, "packages"), msg("at most {max_items} packages", max_items=MAX_ITEMS), FulfilmentErrorCode.TOO_MANY
        )
    if len(sub.lines) > MAX_ITEMS:
        problems.add(
            (*at, "order_lines"), msg("at most {max_items} lines", max_items=MAX_ITEMS), FulfilmentErrorCode.TOO_MANY
        )
    for index, line in enumerate(sub.lines[:MAX_ITEMS]):
        if line.actual_qty < 0 or line.plan_qty < 0:
            problems.add(
                (*at, "order_lines", index, "actual_qty"),
                msg("quantities cannot be negative"),
                FulfilmentErrorCode.INVALID_QUANTITY,
            )
    for index, package in enumerate(sub.packages[:MAX_ITEMS]):
        if package.weight_grams is not None and package.weight_grams < 0:
            problems.add(
                (*at, "packages", index, "weight_grams"),
                msg("weight cannot be negative"),
                FulfilmentErrorCode.INVALID_QUANTITY,
            )
    if len(problems.items) > start:
        return None
    assert code and warehouse and dedup
    tracking = sub.express_code or next((p.express_code for p in sub.packages if p.express_code), None)
    carrier = sub.logistics_code or next((p.logistics_code for p in sub.packages if p.logistics_code), None)
    kind = {
        "ACCEPT": EvidenceKind.WAREHOUSE_ACCEPTED,
        "PARTDELIVERED": EvidenceKind.WAREHOUSE_PARTIAL_OUTBOUND,
        "EXCEPTION": EvidenceKind.WAREHOUSE_EXCEPTION,
    }.get(sub.status, EvidenceKind.WAREHOUSE_OUTBOUND)
    if kind is EvidenceKind.WAREHOUSE_OUTBOUND and sub.confirm_type == "INTERMEDIATE":
        kind = EvidenceKind.WAREHOUSE_PARTIAL_OUTBOUND  # only the final confirmation says everything left
    evidence = Evidence(
        source=Source.WMS,
        event_key=f"confirm:{warehouse}:{dedup}",
        kind=kind,
        order_reference=code,
        by_tracking=False,
        occurred_at=operate_time,
        warehouse_code=warehouse,
        operator=_operator(sub.operator_code, sub.operator_name),
        carrier_code=(carrier or "").strip() or None,
        tracking_number=(tracking or "").strip() or None,
        customer_id=customer_id,
        customer_grade=customer_grade,
        details={
            "status": sub.status,
            "confirmType": sub.confirm_type,
            "packages": [
                {
                    "logisticsCode": p.logistics_code,
                    "expressCode": p.express_code,
                    "weightGrams": p.weight_grams,
                    "items": [{"itemCode": i.item_code, "quantity": i.quantity} for i in p.items],
                }
                for p in sub.packages
            ],
            "orderLines": [
                {
                    "orderLineNo": x.order_line_no,
                    "itemCode": x.item_code,
                    "planQty": x.plan_qty,
                    "actualQty": x.actual_qty,
                }
                for x in sub.lines
            ],
        },
    )
    return _storable(evidence, at, problems, _CONFIRMATION_INPUTS)


def validate_warehouse(
    confirmation: ConfirmationSubmission | None, scan: ScanSubmission | None, problems: Problems
) -> Evidence | None:
    """A warehouse event is exactly one of a delivery-order confirmation or a floor scan."""
    if (confirmation is None) == (scan is None):
        problems.add(("confirmation",), msg("give exactly one of confirmation or scan"), FulfilmentErrorCode.ONE_OF)
        return None
    if confirmation is not None:
        return validate_confirmation(confirmation, ("confirmation",), problems)
    assert scan is not None
    return validate_scan(scan, ("scan",), problems)


def validate_scan(sub: ScanSubmission, at: Path, problems: Problems) -> Evidence | None:
    start = len(problems.items)
    event_id = _required(sub.event_id, (*at, "event_id"), problems)
    code = _required(sub.delivery_order_code, (*at, "delivery_order_code"), problems)
    warehouse = _required(sub.warehouse_code, (*at, "warehouse_code"), problems)
    kind = SCAN_TYPES.get(sub.scan_type)
    if kind is None:
        problems.add(
            (*at, "scan_type"),
            msg(
                "unknown scan type {scan_type}; one of {scan_types}",
                scan_type=repr(sub.scan_type),
                scan_types=", ".join(SCAN_TYPES),
            ),
            FulfilmentErrorCode.INVALID_VALUE,
        )
    scanned_at = problems.aware_time(sub.scanned_at, (*at, "scanned_at"))
    customer_id, customer_grade = _customer(sub.customer_id, sub.customer_grade, at, problems)
    if sub.weight_grams is not None and sub.weight_grams < 0:
        problems.add((*at, "weight_grams"), msg("weight cannot be negative"), FulfilmentErrorCode.INVALID_QUANTITY)
    if len(problems.items) > start:
        return None
    assert event_id and code and warehouse and kind
    evidence = Evidence(
        source=Source.WMS,
        event_key=f"scan:{warehouse}:{event_id}",
        kind=kind,
        order_reference=code,
        by_tracking=False,
        occurred_at=scanned_at,
        warehouse_code=warehouse,
        zone=sub.zone,
        station=sub.station,
        operator=_operator(sub.operator_code, sub.operator_name),
        tracking_number=(sub.express_code or "").strip() or None,
        details={"scanType": sub.scan_type, "weightGrams": sub.weight_grams},
        customer_id=customer_id,
        customer_grade=customer_grade,
    )
    return _storable(evidence, at, problems, _SCAN_INPUTS)


def validate_carrier(sub: CarrierSubmission, at: Path, problems: Problems) -> Evidence | None:
    start = len(problems.items)
    event_id = _required(sub.event_id, (*at, "event_id"), problems)
    carrier = _required(sub.carrier_code, (*at, "carrier_code"), problems)
    tracking = _required(sub.tracking_number, (*at, "tracking_number"), problems)
    kind = CARRIER_ACTIONS.get(sub.action)
    if kind is None:
        problems.add(
            (*at, "action"),
            msg(
                "unknown action {action}; one of {carrier_actions}",
                action=repr(sub.action),
                carrier_actions=", ".join(CARRIER_ACTIONS),
            ),
            FulfilmentErrorCode.INVALID_VALUE,
        )
    occurred_at = problems.aware_time(sub.occurred_at, (*at, "occurred_at"))
    if len(problems.items) > start:
        return None
    assert event_id and carrier and tracking and kind
    evidence = Evidence(
        source=Source.CARRIER,
        event_key=f"carrier:{carrier}:{event_id}",
        kind=kind,
        order_reference=tracking,
        by_tracking=True,
        occurred_at=occurred_at,
        station=sub.location,
        operator=sub.courier,
        carrier_code=carrier,
        tracking_number=tracking,
        details={"action": sub.action, "location": sub.location, "signer": sub.signer},
    )
    return _storable(evidence, at, problems, _CARRIER_INPUTS)


def _required(text: str | None, at: Path, problems: Problems) -> str | None:
    value = (text or "").strip()
    if not value:
        problems.add(at, msg("required"), FulfilmentErrorCode.REQUIRED)
        return None
    if len(value) > 100:
        problems.add(at, msg("longer than 100 characters"), FulfilmentErrorCode.TOO_LONG)
        return None
    return value


def _operator(code: str | None, name: str | None) -> str | None:
    parts = [p.strip() for p in (name, code) if p and p.strip()]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else f"{parts[0]} ({parts[1]})"


def _customer(
    customer_id: str | None, grade: str | None, at: Path, problems: Problems
) -> tuple[str | None, str | None]:
    cleaned = (customer_id or "").strip() or None
    cleaned_grade = (grade or "").strip() or None
    if cleaned is not None and len(cleaned) > 100:
        problems.add(
            (*at, "customer_id"), msg("customer id is longer than 100 characters"), FulfilmentErrorCode.TOO_LONG
        )
    if cleaned_grade is not None and len(cleaned_grade) > 40:
        problems.add(
            (*at, "customer_grade"), msg("customer grade is longer than 40 characters"), FulfilmentErrorCode.TOO_LONG
        )
    if cleaned is None and cleaned_grade is not None:
        problems.add(
            (*at, "customer_id"), msg("a customer grade needs the customer id it grades"), FulfilmentErrorCode.REQUIRED
        )
    return cleaned, cleaned_grade


# The input field behind each stored column, per kind of evidence: a refusal names what the partner sent.
_CONFIRMATION_INPUTS: dict[str, str] = {
    "event_key": "out_biz_code",
    "order_reference": "delivery_order_code",
    "warehouse_code": "warehouse_code",
    "operator": "operator_name",
    "carrier_code": "logistics_code",
    "tracking_number": "express_code",
    "details": "",  # packages and order lines: the confirmation as a whole
}
_SCAN_INPUTS: dict[str, str] = {
    "event_key": "event_id",
    "order_reference": "delivery_order_code",
    "warehouse_code": "warehouse_code",
    "zone": "zone",
    "station": "station",
    "operator": "operator_name",
    "tracking_number": "express_code",
}
_CARRIER_INPUTS: dict[str, str] = {
    "event_key": "event_id",
    "carrier_code": "carrier_code",
    "tracking_number": "tracking_number",
    "station": "location",
    "operator": "courier",
    "details": "signer",
}


def _storable(evidence: Evidence, at: Path, problems: Problems, inputs: dict[str, str]) -> Evidence | None:
    """What the evidence row will hold, held to its columns (`check_row`), each named by the input it came from."""
    row = {name: getattr(evidence, name) for name in inputs}
    start = len(problems.items)
    check_row(
        problems, FulfilmentEvidence, row, {name: (*at, field) if field else at for name, field in inputs.items()}
    )
    return evidence if len(problems.items) == start else None
