"""Each order's invoice request written as it arrived: sealed, fingerprinted, its problem named."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.intake.vault import Vault
from domain.invoices.models import InvoiceRequestRow, InvoiceRole
from domain.invoices.request import InvoiceRequest
from domain.sql import insert_ignore


async def record(
    session: AsyncSession, vault: Vault, key: bytes, requests: Sequence[tuple[int, InvoiceRequest]]
) -> None:
    """Each order's request as sent, sealed; a later snapshot's request replaces the earlier one, and an
    order already grouped keeps its role."""
    now = utcnow()
    for order_id, request in requests:
        values: dict[str, Any] = {
            "order_id": order_id, "role": InvoiceRole.OWN.value, "kind": request.kind[:40],
            "sealed": vault.seal(request.as_json()), "fingerprint": request.fingerprint(key),
            "problem": request.problem(), "updated_at": now,
        }  # fmt: skip
        if await insert_ignore(session, InvoiceRequestRow, values, ("order_id",)) is None:
            changed = {k: values[k] for k in ("kind", "sealed", "fingerprint", "problem", "updated_at")}
            await session.exec(
                update(InvoiceRequestRow).where(col(InvoiceRequestRow.order_id) == order_id).values(**changed)
            )
