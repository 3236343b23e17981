"""Finding an order by what a person holds in hand: the channel's order number, a parcel's tracking number, or
the buyer's phone number.

Staff answer a buyer who quotes one of these, so each is an exact match on an indexed column, alone or all at
once behind one search box (`ids_by_reference`), which costs the same union of index lookups. The phone is
hashed here into the buyer UIDs it may be stored under (one per identity key during a rotation) and dropped:
it is never written, logged, or compared in plaintext, exactly as when an order arrives.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import union
from sqlalchemy.sql.selectable import CompoundSelect
from sqlmodel import col, select

from domain.errors import UserError
from domain.fulfilment.models import Parcel
from domain.i18n import msg
from domain.orders.errors import OrderErrorCode
from domain.orders.models import Order

if TYPE_CHECKING:
    from domain.identity.service import BuyerIdentity

_UID = re.compile(r"[0-9a-f]{64}")


def phone_buyers(identity: BuyerIdentity, phone: str) -> tuple[str, ...]:
    """The buyer UIDs this phone is keyed to under every active identity key; a number that cannot key a buyer
    (masked, a landline, an extension) is refused, naming the field, as no order can carry its UID."""
    key = identity.key_for_phone(phone)
    if not key.candidates:
        raise UserError.one(
            ("phone",),
            msg("not a usable mobile number ({reason}): give the buyer's full 11-digit mobile", reason=key.problem),
            OrderErrorCode.INVALID_PHONE,
        )
    return key.candidates


def ids_by_tracking(tracking_number: str) -> CompoundSelect[int]:
    """Ids of the orders that carry this tracking number now (the last waybill the warehouse or carrier reported)
    or on any of their parcels: an order that left in two parcels is found by either one's number.

    A union of two index lookups rather than an OR across a join, so that PostgreSQL and SQLite each answer it
    from `ix_orders_tracking_number` and `ix_parcel_tracking_number` without scanning orders."""
    current = select(col(Order.id)).where(col(Order.tracking_number) == tracking_number)
    parcels = select(col(Parcel.order_id)).where(col(Parcel.tracking_number) == tracking_number)
    return union(current, parcels)


def reference_buyers(identity: BuyerIdentity, reference: str) -> tuple[str, ...]:
    """The buyers a pasted reference may name: the phone's UIDs when it reads as a full mobile number (hashed,
    as `phone_buyers` does), and the reference itself when it is shaped like a buyer UID. Anything else names
    no buyer, without an error: it may still be an order or tracking number."""
    uids = list(identity.key_for_phone(reference).candidates)
    if _UID.fullmatch(reference):
        uids.append(reference)
    return tuple(uids)


def ids_by_reference(reference: str, buyer_uids: Sequence[str]) -> CompoundSelect[int]:
    """Ids of the orders a reference a buyer quotes may name: as a channel order number, a tracking number (the
    order's or a parcel's), or, with `buyer_uids` from `reference_buyers`, the buyer. One union of index lookups,
    so that a single search box costs what the exact filters cost."""
    by_number = select(col(Order.id)).where(col(Order.channel_order_id) == reference)
    current = select(col(Order.id)).where(col(Order.tracking_number) == reference)
    parcels = select(col(Parcel.order_id)).where(col(Parcel.tracking_number) == reference)
    if not buyer_uids:
        return union(by_number, current, parcels)
    return union(by_number, current, parcels, select(col(Order.id)).where(col(Order.buyer_uid).in_(buyer_uids)))
