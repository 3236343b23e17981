"""What finance asks of the ledger: vouchers in suspense, reconciliation runs, settlement by buyer, and the
ledger's objects by global id."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from api.graphql.context import Context
from api.graphql.ids import decode_cursor, decode_gid, encode_cursor
from api.graphql.money.types import (
    FINANCE,
    BuyerSettlement,
    FundVoucher,
    GroupInvoiceLine,
    HeldStatement,
    OrderAdjustment,
    ReconItem,
    ReconRun,
    Statement,
)
from api.graphql.node import NodeLoader, visible_row
from api.graphql.pagination import Connection, check_page_size, connection
from api.graphql.permissions import allow, may
from api.graphql.scalars import Money
from domain.invoices import service as invoices
from domain.ledger import models as ledger
from domain.ledger.queries import settlement_by_buyer, suspense_vouchers
from domain.reconcile import layouts, service
from domain.reconcile import models as recon


@strawberry.type
class MoneyQueries:
    @strawberry.field(
        description="Statement files held for a changed layout, oldest first; accepted ones only when asked.",
        extensions=allow(**FINANCE),
    )
    async def held_statements(self, info: Info[Context, None], include_released: bool = False) -> list[HeldStatement]:
        async with info.context.read() as session:
            rows = await layouts.held_statements(session, include_released=include_released)
        return [HeldStatement.of(r) for r in rows]

    @strawberry.field(
        description="A group's invoice data: the group's one invoice, then each grouped order's part (logistics "
        "only, or the primary channel's order it was derived from). Any order of the group may be given.",
        extensions=allow(**FINANCE),
    )
    async def group_invoice(self, info: Info[Context, None], order_id: strawberry.ID) -> list[GroupInvoiceLine]:
        key = decode_gid(order_id, "Order")[1]
        async with info.context.read() as session:
            lines = await invoices.group_invoice(session, info.context.runtime.core.vault, key)
        return [GroupInvoiceLine.of(line) for line in lines]

    @strawberry.field(description="A reconciliation run and its to-check list.", extensions=allow(**FINANCE))
    async def recon_run(self, info: Info[Context, None], id: strawberry.ID) -> ReconRun | None:
        _, key = decode_gid(id, "ReconRun")
        async with info.context.read() as session:
            row = await session.get(recon.ReconRun, key)
        return ReconRun.of(row) if row else None

    @strawberry.field(
        description="Reconciliation runs, newest first: each with its figures by drift type and its to-check list.",
        extensions=allow(**FINANCE),
    )
    async def recon_runs(self, info: Info[Context, None], first: int, after: str | None = None) -> Connection[ReconRun]:
        check_page_size(first, None)
        async with info.context.read() as session:
            rows = await service.runs(session, decode_cursor(after, "recon-run"), first + 1)
        page = rows[:first]
        cursors = [encode_cursor("recon-run", r.id) for r in page if r.id is not None]
        return connection([ReconRun.of(r) for r in page], cursors, len(rows) > first, after is not None)

    @strawberry.field(
        description="Confirmed payments that matched no order, oldest first: re-attach or reverse them.",
        extensions=allow(**FINANCE),
    )
    async def suspense_vouchers(
        self, info: Info[Context, None], first: int, after: str | None = None
    ) -> Connection[FundVoucher]:
        check_page_size(first, None)
        async with info.context.read() as session:
            rows = await suspense_vouchers(session, after_id=decode_cursor(after, "voucher"), limit=first + 1)
        page = rows[:first]
        cursors = [encode_cursor("voucher", r.id) for r in page if r.id is not None]
        return connection([FundVoucher.of(r) for r in page], cursors, len(rows) > first, after is not None)

    @strawberry.field(
        description="Money received in [from, to) per buyer UID and currency.", extensions=allow(**FINANCE)
    )
    async def settlement_by_buyer(
        self,
        info: Info[Context, None],
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
        first: int,
        after: str | None = None,
    ) -> Connection[BuyerSettlement]:
        check_page_size(first, None)
        after_uid = after.removeprefix("buyer:") if after else None
        async with info.context.read() as session:
            rows = await settlement_by_buyer(session, from_, to, after_uid=after_uid, limit=first + 1)
        page = rows[:first]
        nodes = [BuyerSettlement(buyer_uid=r.buyer_uid, received=Money.of(r.received, r.currency), orders=r.orders)
                 for r in page]  # fmt: skip
        return connection(nodes, [f"buyer:{r.buyer_uid}" for r in page], len(rows) > first, after is not None)


async def _voucher(info: Info[Context, None], key: int) -> FundVoucher | None:
    """As listed: on its order's money to any staff, in suspense to finance."""
    row = await visible_row(info, ledger.FundVoucher, key, any_staff=True)
    if row is None or (row.order_id is None and not may(info, **FINANCE)):
        return None
    return FundVoucher.of(row)


async def _adjustment(info: Info[Context, None], key: int) -> OrderAdjustment | None:
    row = await visible_row(info, ledger.OrderAdjustment, key, any_staff=True)
    return None if row is None else OrderAdjustment.of(row)


async def _statement(info: Info[Context, None], key: int) -> Statement | None:
    row = await visible_row(info, recon.Statement, key, **FINANCE)
    return None if row is None else Statement.of(row)


async def _held_statement(info: Info[Context, None], key: int) -> HeldStatement | None:
    row = await visible_row(info, recon.HeldStatement, key, **FINANCE)
    return None if row is None else HeldStatement.of(row)


async def _recon_run(info: Info[Context, None], key: int) -> ReconRun | None:
    row = await visible_row(info, recon.ReconRun, key, **FINANCE)
    return None if row is None else ReconRun.of(row)


async def _recon_item(info: Info[Context, None], key: int) -> ReconItem | None:
    row = await visible_row(info, recon.ReconItem, key, **FINANCE)
    return None if row is None else ReconItem.of(row)


MONEY_NODES: dict[str, NodeLoader] = {
    "FundVoucher": _voucher,
    "OrderAdjustment": _adjustment,
    "Statement": _statement,
    "HeldStatement": _held_statement,
    "ReconRun": _recon_run,
    "ReconItem": _recon_item,
}
