"""What staff read of shipment confirmations: each order's parcels and where telling the channel stands."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.confirmations.models import ShipmentConfirmation


async def confirmations_of(session: AsyncSession, order_ids: Sequence[int]) -> dict[int, list[ShipmentConfirmation]]:
    query = (
        select(ShipmentConfirmation)
        .where(col(ShipmentConfirmation.order_id).in_(list(order_ids)))
        .order_by(col(ShipmentConfirmation.id))
    )
    found: dict[int, list[ShipmentConfirmation]] = defaultdict(list)
    for row in (await session.exec(query)).all():
        found[row.order_id].append(row)
    return found
