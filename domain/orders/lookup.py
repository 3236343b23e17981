"""Finding an order by what a person holds in hand: the channel's order number, a parcel's tracking number, or
the buyer's phone number.

Staff answer a buyer who quotes one of these, so each is an exact match on an indexed column. The phone is
hashed here into the buyer UIDs it may be stored under (one per identity key during a rotation) and dropped:
it is never written, logged, or compared in plaintext, exactly as when an order arrives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import union
from sqlalchemy.sql import Select
from sqlmodel import col, select

from domain.errors import UserError
from domain.fulfilment.models import Parcel
from domain.i18n import msg
from domain.orders.errors import OrderErrorCode
from domain.orders.models import Order

if TYPE_CHECKING:
    from domain.identity.service import BuyerIdentity


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


def ids_by_tracking(tracking_number: str) -> Select[tuple[int]]:
    """Ids of the orders that carry this tracking number now (the last waybill the warehouse or carrier reported)
    or on any of their parcels: an order that left in two parcels is found by either one's number.

    A union of two index lookups rather than an OR across a join, so that PostgreSQL and SQLite each answer it
    from `ix_orders_tracking_number` and `ix_parcel_tracking_number` without scanning orders."""
    current = select(col(Order.id)).where(col(Order.tracking_number) == tracking_number)
    parcels = select(col(Parcel.order_id)).where(col(Parcel.tracking_number) == tracking_number)
    return union(current, parcels)  # type: ignore[return-value]
