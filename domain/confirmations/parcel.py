"""What a channel is told about a parcel that left: the channel's order id, the courier and the tracking number."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ParcelLine:
    item_id: str
    quantity: int


@dataclass(frozen=True)
class Parcel:
    """`lines`: what this parcel carries when the order left in several and the channel is told per parcel
    (`split`), else the whole order. `number`: the parcel's place among the order's (1 for the first).
    `others`: the order's other parcels (tracking number, carrier), for a channel told of all of them at once."""

    channel_order_id: str
    tracking_number: str
    carrier_code: str | None
    shipped_at: datetime | None
    lines: tuple[ParcelLine, ...] = ()
    split: bool = False
    number: int = 1
    others: tuple[tuple[str, str | None], ...] = ()


def company_code(codes: dict[str, str], carrier_code: str | None) -> str:
    """The channel's code for the courier; a code it does not list is sent as the warehouse wrote it, and the
    channel's refusal (wrong company code) opens an exception for a person to fix the mapping."""
    given = (carrier_code or "").strip()
    return codes.get(given.upper(), given)
