"""Invoice requests kept with their orders, and the one invoice of a group of duplicate orders.

Grouping (`domain/identity/grouping.py`) makes one parent order of a buyer's repeated orders. The group is
invoiced once: the request of the order from the buyer's primary channel, for the group's total; every
other order of the group contributes logistics only. When the grouped orders asked for different invoices
(another title or tax id), nothing is chosen: an INVOICE_CONFLICT exception asks a person. A split gives
each order its own request back.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.fulfilment.exceptions import open_exception
from domain.fulfilment.models import ExceptionKind
from domain.health.xlsx import XlsxStream
from domain.i18n import msg
from domain.identity.queries import primary_channel
from domain.intake.vault import Vault
from domain.invoices.models import InvoiceRequestRow, InvoiceRole
from domain.invoices.request import InvoiceRequest
from domain.orders.models import Order
from domain.outbox.service import Outbox

EXPORT_COLUMNS = ("order_id", "channel", "channel_order_id", "role", "amount_minor", "currency", "kind", "title",
                  "tax_id", "email", "address", "problem")  # fmt: skip


async def _rows(session: AsyncSession, order_ids: Sequence[int]) -> dict[int, InvoiceRequestRow]:
    found = await session.exec(select(InvoiceRequestRow).where(col(InvoiceRequestRow.order_id).in_(order_ids)))
    return {row.order_id: row for row in found.all()}


async def derive_for_group(session: AsyncSession, outbox: Outbox, parent: Order, children: Sequence[Order]) -> None:
    """The group's one request, from the primary channel's order, or an exception when the requests differ."""
    assert parent.id is not None and parent.buyer_uid is not None
    ids = [c.id for c in children if c.id is not None]
    rows = await _rows(session, [*ids, parent.id])
    asked = [rows[i] for i in ids if i in rows and rows[i].sealed is not None]
    if not asked:
        return
    now = utcnow()
    await session.exec(
        update(InvoiceRequestRow)
        .where(col(InvoiceRequestRow.order_id).in_(ids))
        .values(role=InvoiceRole.LOGISTICS_ONLY.value, updated_at=now)
    )
    group = rows.get(parent.id) or InvoiceRequestRow(order_id=parent.id, role="", kind="", updated_at=now)
    group.amount, group.currency, group.updated_at = parent.total_amount, parent.currency, now
    if len({row.fingerprint for row in asked}) > 1:
        group.role, group.kind, group.sealed, group.fingerprint = InvoiceRole.UNDECIDED.value, "", None, None
        group.problem, group.source_order_id = "the grouped orders ask for different invoices", None
        session.add(group)
        await session.flush()
        summary = msg(
            "grouped orders {orders} ask for different invoices", orders=", ".join(str(r.order_id) for r in asked)
        )
        await open_exception(
            session, outbox, ExceptionKind.INVOICE_CONFLICT, summary, order_id=parent.id,
            details={"orders": [r.order_id for r in asked]}, dedup_key=f"invoice-conflict:{parent.id}:{len(asked)}",
        )  # fmt: skip
        return
    source = await _source(session, parent.buyer_uid, children, asked)
    group.role, group.kind, group.sealed = InvoiceRole.GROUP.value, source.kind, source.sealed
    group.fingerprint, group.problem, group.source_order_id = source.fingerprint, source.problem, source.order_id
    session.add(group)
    await session.exec(
        update(InvoiceRequestRow)
        .where(col(InvoiceRequestRow.order_id) == source.order_id)
        .values(role=InvoiceRole.GROUP_SOURCE.value)
    )
    await session.flush()


async def _source(
    session: AsyncSession, uid: str, children: Sequence[Order], asked: list[InvoiceRequestRow]
) -> InvoiceRequestRow:
    """The primary channel's order with a request (its latest); else the earliest order that asked."""
    primary = await primary_channel(session, uid)
    channel_of = {c.id: c.channel for c in children}
    on_primary = [r for r in asked if primary is not None and channel_of.get(r.order_id) == primary.channel]
    return on_primary[-1] if on_primary else asked[0]


async def restore_on_split(session: AsyncSession, parent_id: int, child_ids: Sequence[int]) -> None:
    """Each order invoices itself again with the request it came with; the group's request goes."""
    await session.exec(delete(InvoiceRequestRow).where(col(InvoiceRequestRow.order_id) == parent_id))
    await session.exec(
        update(InvoiceRequestRow)
        .where(col(InvoiceRequestRow.order_id).in_(child_ids))
        .values(role=InvoiceRole.OWN.value, updated_at=utcnow())
    )


@dataclass(frozen=True)
class InvoiceLine:
    order: Order
    role: InvoiceRole
    request: InvoiceRequest | None
    amount: int | None
    problem: str | None


async def group_invoice(session: AsyncSession, vault: Vault, order_id: int) -> list[InvoiceLine]:
    """The invoice data of the order's group (the parent first, then each grouped order with its own request as
    sent), or of the order alone when it is in no group."""
    given = await session.get(Order, order_id)
    if given is None:
        return []
    parent_id = given.parent_order_id or order_id
    orders = list(
        (
            await session.exec(
                select(Order)
                .where((col(Order.id) == parent_id) | (col(Order.parent_order_id) == parent_id))
                .order_by(col(Order.id))
            )
        ).all()
    )
    rows = await _rows(session, [o.id for o in orders if o.id is not None])
    orders.sort(key=lambda o: o.id != parent_id)
    lines = []
    for order in orders:
        row = rows.get(order.id or 0)
        if row is None:
            continue
        request = InvoiceRequest.from_json(vault.open(row.sealed)) if row.sealed else None
        amount = (
            row.amount
            if row.role == InvoiceRole.GROUP
            else (order.total_amount if row.role == InvoiceRole.OWN else None)
        )
        lines.append(InvoiceLine(order, InvoiceRole(row.role), request, amount, row.problem))
    return lines


def as_csv(lines: Sequence[InvoiceLine]) -> bytes:
    """UTF-8 with a BOM, so that finance's spreadsheet reads the Chinese titles."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for line in lines:
        writer.writerow(export_row(line))
    return ("\ufeff" + out.getvalue()).encode()


def export_row(line: InvoiceLine) -> list[Any]:
    r = line.request
    return [
        line.order.id, line.order.channel, line.order.channel_order_id, line.role.value,
        "" if line.amount is None else line.amount,
        line.order.currency, r.kind if r else "", r.title if r else "", (r.tax_id or "") if r else "",
        (r.email or "") if r else "", (r.address or "") if r else "", line.problem or "",
    ]  # fmt: skip


def as_xlsx(lines: Sequence[InvoiceLine]) -> bytes:
    """The same columns as the CSV, beside the order export's XLSX (text cells stay text: tax ids keep zeros)."""
    sheet = XlsxStream(EXPORT_COLUMNS, sheet_name="invoices")
    return sheet.header() + sheet.rows(export_row(line) for line in lines) + sheet.close()
