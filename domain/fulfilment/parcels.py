"""Parcels: an order may leave in several packages, from several warehouses, each reported by its own evidence.

A warehouse confirmation lists its packages (each with a tracking number and items); a floor scan or a carrier
pickup names one tracking number. Each becomes a parcel of the order, keyed by its tracking number, so the
warehouse's report and the carrier's of the same package are one parcel. The order is out when its parcels
carry every ordered line; when no parcel says what it carries, the warehouse's final word decides, as before.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.fulfilment.evidence import Evidence, EvidenceKind
from domain.fulfilment.models import Parcel
from domain.orders.models import OrderLine
from domain.sql import insert_ignore


@dataclass(frozen=True)
class ParcelOut:
    key: str
    warehouse_code: str | None
    carrier_code: str | None
    tracking_number: str | None
    items: list[dict[str, Any]]


def parcels_of(ev: Evidence) -> list[ParcelOut]:
    """The packages an outbound evidence reports; a confirmation's order lines stand for its items when its
    packages list none."""
    packages = ev.details.get("packages") or [] if ev.kind in _CONFIRMATIONS else []
    lines = [{"sku": x["itemCode"], "quantity": x["actualQty"]} for x in ev.details.get("orderLines") or []]
    found = []
    for index, package in enumerate(packages):
        tracking = (package.get("expressCode") or "").strip() or None
        items = [{"sku": i["itemCode"], "quantity": i["quantity"]} for i in package.get("items") or []]
        found.append(ParcelOut(
            _key(tracking, ev, index), ev.warehouse_code, package.get("logisticsCode") or ev.carrier_code, tracking,
            items or (lines if len(packages) == 1 else []),
        ))  # fmt: skip
    if not found:
        found.append(ParcelOut(_key(ev.tracking_number, ev, 0), ev.warehouse_code, ev.carrier_code,
                               ev.tracking_number, lines))  # fmt: skip
    return found


_CONFIRMATIONS = frozenset({EvidenceKind.WAREHOUSE_OUTBOUND, EvidenceKind.WAREHOUSE_PARTIAL_OUTBOUND})


def _key(tracking: str | None, ev: Evidence, index: int) -> str:
    return (
        f"tracking:{tracking}" if tracking else f"{ev.warehouse_code or ev.source.value}:{ev.event_key}:{index}"[:200]
    )


async def record_parcels(
    session: AsyncSession, order_id: int, ev: Evidence, evidence_id: int, at: datetime | None
) -> list[ParcelOut]:
    """Idempotent on (order, parcel key): the carrier's pickup of a parcel the warehouse reported adds nothing."""
    out = parcels_of(ev)
    for parcel in out:
        values = {
            "order_id": order_id, "parcel_key": parcel.key, "warehouse_code": parcel.warehouse_code,
            "carrier_code": parcel.carrier_code, "tracking_number": parcel.tracking_number, "items": parcel.items,
            "shipped_at": at, "evidence_id": evidence_id, "created_at": utcnow(),
        }  # fmt: skip
        await insert_ignore(session, Parcel, values, ("order_id", "parcel_key"))
    return out


async def coverage(session: AsyncSession, order_id: int) -> bool | None:
    """Whether the order's parcels carry every ordered line (per SKU, at least the quantity ordered); None when
    no parcel says what it carries, or names items in codes other than the order's SKUs (a warehouse's own item
    codes), which cannot be compared: then the warehouse's final word decides."""
    parcels = (await session.exec(select(Parcel.items).where(Parcel.order_id == order_id))).all()
    shipped: Counter[str] = Counter()
    for items in parcels:
        for item in items or []:
            shipped[str(item.get("sku"))] += int(item.get("quantity") or 0)
    if not shipped:
        return None
    ordered: Counter[str] = Counter()
    for sku, quantity in (await session.exec(select(OrderLine.sku, OrderLine.quantity).where(
            OrderLine.order_id == order_id))).all():  # fmt: skip
        ordered[sku] += quantity
    if not set(shipped) <= set(ordered):
        return None
    return all(shipped[sku] >= quantity for sku, quantity in ordered.items())


async def parcels_of_order(session: AsyncSession, order_id: int) -> list[Parcel]:
    query = select(Parcel).where(Parcel.order_id == order_id).order_by(col(Parcel.id))
    return list((await session.exec(query)).all())


async def mark_delivered(
    session: AsyncSession, order_id: int, tracking: str | None, at: datetime | None
) -> tuple[int, int]:
    """Marks the parcel with this tracking number delivered; returns (delivered, parcels) of the order."""
    if tracking:
        await session.exec(
            update(Parcel)
            .where(col(Parcel.order_id) == order_id, col(Parcel.tracking_number) == tracking,
                   col(Parcel.delivered_at).is_(None))
            .values(delivered_at=at or utcnow())
        )  # fmt: skip
    parcels = await parcels_of_order(session, order_id)
    return sum(1 for p in parcels if p.delivered_at is not None), len(parcels)


async def order_of_tracking(session: AsyncSession, tracking: str) -> int | None:
    """The order one of whose parcels carries this tracking number (a second parcel's number is not the order's)."""
    rows = (
        await session.exec(select(Parcel.order_id).where(Parcel.tracking_number == tracking).distinct().limit(2))
    ).all()
    return rows[0] if len(rows) == 1 else None


async def parcels_of_orders(session: AsyncSession, order_ids: list[int]) -> dict[int, list[Parcel]]:
    """Per order, its parcels in the order they left: one query for a page of orders."""
    found: dict[int, list[Parcel]] = {i: [] for i in order_ids}
    query = select(Parcel).where(col(Parcel.order_id).in_(order_ids)).order_by(col(Parcel.id))
    for row in (await session.exec(query)).all():
        found[row.order_id].append(row)
    return found
