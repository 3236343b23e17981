"""The ledger's GraphQL types: an order's money, vouchers, adjustments, statements, reconciliation runs and
their items, settlement by buyer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import strawberry
from strawberry.types import Info

from api.graphql.context import Context
from api.graphql.ids import decode_cursor, decode_gid, encode_cursor, encode_gid
from api.graphql.node import Node
from api.graphql.pagination import Connection, check_page_size, connection
from api.graphql.permissions import allow
from api.graphql.scalars import Money
from domain.access.policy import Role
from domain.invoices import models as invoice_models
from domain.invoices import service as invoices
from domain.ledger import errors
from domain.ledger import models as ledger
from domain.ledger.gaps import gaps_closed
from domain.ledger.queries import OrderBalance
from domain.ledger.service import adjustment_reason_of
from domain.money import Money as DomainMoney
from domain.reconcile import models as recon
from domain.reconcile import service
from domain.reconcile.layouts import reason_of

FINANCE = dict(roles=frozenset({Role.FINANCE, Role.ADMIN}))
ReconDrift = strawberry.enum(recon.Drift, name="ReconDrift")
ReconResolution = strawberry.enum(recon.Resolution, name="ReconResolution")


MoneyErrorCode = strawberry.enum(errors.MoneyErrorCode)


@strawberry.type
class MoneyUserError:
    field: list[str] | None
    message: str
    code: MoneyErrorCode  # type: ignore[valid-type]


@strawberry.type
class FundVoucher(Node):
    provider: str
    provider_transaction_id: str
    kind: str
    status: str
    order_ref: str | None
    amount: Money
    reverses_id: strawberry.ID | None
    actor: str | None
    reason: str | None
    order_id: strawberry.ID | None = strawberry.field(description="Null while the payment sits in suspense.")
    received_at: datetime

    @classmethod
    def of(cls, row: ledger.FundVoucher) -> FundVoucher:
        assert row.id is not None
        return cls(
            id=strawberry.ID(encode_gid("FundVoucher", row.id)), provider=row.provider,
            provider_transaction_id=row.provider_txn_id, kind=row.kind, status=row.status, order_ref=row.order_ref,
            amount=Money.of(row.amount, row.currency),
            reverses_id=strawberry.ID(encode_gid("FundVoucher", row.reverses_id)) if row.reverses_id else None,
            actor=row.actor, reason=row.reason,
            order_id=strawberry.ID(encode_gid("Order", row.order_id)) if row.order_id else None,
            received_at=row.received_at,
        )  # fmt: skip


@strawberry.type(description="One change of an order's received amount, with who made it and why.")
class OrderAdjustment(Node):
    amount: Money
    voucher_id: strawberry.ID
    actor: str
    reason: str
    created_at: datetime

    @classmethod
    def of(cls, row: ledger.OrderAdjustment) -> OrderAdjustment:
        assert row.id is not None
        return cls(
            id=strawberry.ID(encode_gid("OrderAdjustment", row.id)), amount=Money.of(row.amount, row.currency),
            voucher_id=strawberry.ID(encode_gid("FundVoucher", row.voucher_id)), actor=row.actor,
            reason=adjustment_reason_of(row), created_at=row.created_at,
        )  # fmt: skip


@strawberry.type(
    description="What an order is due and what it received. Only a payment whose amount and currency equal "
    "what is due pays an order; anything else stays visible here and opens an exception for finance."
)
class OrderMoney:
    order_id: strawberry.Private[int]
    due: strawberry.Private[DomainMoney]

    async def _balance(self, info: Info[Context, None]) -> OrderBalance:
        return OrderBalance.of(self.due, await info.context.loaders.adjustments.load(self.order_id))

    @strawberry.field(description="The order's total.")
    def amount_due(self) -> Money:
        return Money.of(self.due.minor, self.due.currency)

    @strawberry.field(description="Payments less refunds and reversals, in the order's currency.")
    async def amount_received(self, info: Info[Context, None]) -> Money:
        received = (await self._balance(info)).received
        return Money.of(received.minor, received.currency)

    @strawberry.field(description="Due minus received: positive while money is owed, negative when overpaid.")
    async def balance(self, info: Info[Context, None]) -> Money:
        balance = (await self._balance(info)).balance
        return Money.of(balance.minor, balance.currency)

    @strawberry.field(description="Money received in another currency than the order's: kept apart, never converted.")
    async def received_in_other_currencies(self, info: Info[Context, None]) -> list[Money]:
        return [Money.of(m.minor, m.currency) for m in (await self._balance(info)).other_currencies]

    @strawberry.field(
        description="Staff only: the order's vouchers with the providers' transaction ids, oldest first.",
        extensions=allow(any_staff=True),
    )
    async def vouchers(
        self, info: Info[Context, None], first: int, after: str | None = None
    ) -> Connection[FundVoucher]:
        rows = await info.context.loaders.vouchers.load(self.order_id)
        return _page(rows, first, after, "voucher", FundVoucher.of)

    @strawberry.field(
        description="Staff only: the adjustments that make up the received amount, oldest first.",
        extensions=allow(any_staff=True),
    )
    async def adjustments(
        self, info: Info[Context, None], first: int, after: str | None = None
    ) -> Connection[OrderAdjustment]:
        rows = await info.context.loaders.adjustments.load(self.order_id)
        return _page(rows, first, after, "adjustment", OrderAdjustment.of)


def order_money(order_id: int, total: int, currency: str) -> OrderMoney:
    return OrderMoney(order_id=order_id, due=DomainMoney(total, currency))


R = TypeVar("R", ledger.FundVoucher, ledger.OrderAdjustment)
N = TypeVar("N")


def _page(rows: list[R], first: int, after: str | None, kind: str, node: Callable[[R], N]) -> Connection[N]:
    """Keyset on the row id over the order's rows, which the request's loader already holds."""
    check_page_size(first, None)
    after_id = decode_cursor(after, kind) or 0
    rest = [r for r in rows if r.id is not None and r.id > after_id]
    page = rest[:first]
    return connection([node(r) for r in page], [encode_cursor(kind, r.id) for r in page if r.id is not None],
                      len(rest) > first, after_id > 0)  # fmt: skip


@strawberry.type
class Statement(Node):
    provider: str
    format: str
    filename: str
    lines: int
    period_start: datetime
    period_end: datetime
    already_imported: bool = strawberry.field(description="True when an upload was a file imported before.")

    @classmethod
    def of(cls, row: recon.Statement, already_imported: bool = False) -> Statement:
        assert row.id is not None
        return cls(
            id=strawberry.ID(encode_gid("Statement", row.id)), provider=row.provider, format=row.format,
            filename=row.filename, lines=row.line_count, period_start=row.period_start, period_end=row.period_end,
            already_imported=already_imported,
        )  # fmt: skip


@strawberry.type(description="A statement file held because its layout is not its format's pinned one.")
class HeldStatement(Node):
    source: str = strawberry.field(description="The format it is watched under, such as bank-csv:icbc.")
    provider: str
    filename: str
    reason: str = strawberry.field(description="What changed, in words: the columns gone and new, the encoding.")
    held_at: datetime
    held_by: str
    released_at: datetime | None
    released_by: str | None
    statement_id: strawberry.ID | None = strawberry.field(description="The statement it became once accepted.")

    @classmethod
    def of(cls, row: recon.HeldStatement) -> HeldStatement:
        assert row.id is not None
        statement = strawberry.ID(encode_gid("Statement", row.statement_id)) if row.statement_id else None
        return cls(
            id=strawberry.ID(encode_gid("HeldStatement", row.id)), source=row.source, provider=row.provider,
            filename=row.filename, reason=reason_of(row), held_at=row.held_at, held_by=row.held_by,
            released_at=row.released_at, released_by=row.released_by, statement_id=statement,
        )  # fmt: skip


@strawberry.type
class ReconItem(Node):
    drift: ReconDrift  # type: ignore[valid-type]
    provider_transaction_id: str
    voucher_id: strawberry.ID | None
    system_amount: Money | None
    statement_amount: Money | None
    resolution: ReconResolution | None  # type: ignore[valid-type]
    resolved_by: str | None
    note: str | None

    @classmethod
    def of(cls, row: recon.ReconItem) -> ReconItem:
        assert row.id is not None
        currency = row.currency or "CNY"
        return cls(
            id=strawberry.ID(encode_gid("ReconItem", row.id)), drift=recon.Drift(row.drift),
            provider_transaction_id=row.provider_txn_id,
            voucher_id=strawberry.ID(encode_gid("FundVoucher", row.voucher_id)) if row.voucher_id else None,
            system_amount=Money.of(row.system_amount, currency) if row.system_amount is not None else None,
            statement_amount=Money.of(row.statement_amount, currency) if row.statement_amount is not None else None,
            resolution=recon.Resolution(row.resolution) if row.resolution else None,
            resolved_by=row.resolved_by, note=row.note,
        )  # fmt: skip


@strawberry.type
class DriftCount:
    drift: ReconDrift  # type: ignore[valid-type]
    count: int


@strawberry.type
class ReconRun(Node):
    provider: str
    period_start: datetime
    period_end: datetime
    statement_lines: int
    matched: int
    match_rate: float
    drifts: list[DriftCount]

    @classmethod
    def of(cls, row: recon.ReconRun) -> ReconRun:
        assert row.id is not None
        return cls(
            id=strawberry.ID(encode_gid("ReconRun", row.id)), provider=row.provider, period_start=row.period_start,
            period_end=row.period_end, statement_lines=row.statement_lines, matched=row.matched,
            match_rate=service.match_rate(row),
            drifts=[DriftCount(drift=recon.Drift(d), count=n) for d, n in sorted(row.counts.items())],
        )  # fmt: skip

    @strawberry.field(
        description="Gaps a payment query closed: orders paid without a voucher, asked about just before this run, "
        "and this run's MISSING_IN_SYSTEM lines, asked about after it; each posted a voucher the provider signed."
    )
    async def gaps_closed_by_query(self, info: Info[Context, None]) -> int:
        _, run_id = decode_gid(self.id, "ReconRun")
        async with info.context.read() as session:
            return (await gaps_closed(session, [run_id])).get(run_id, 0)

    @strawberry.field(description="What is left to check, oldest first.")
    async def items(self, info: Info[Context, None], first: int, after: str | None = None) -> Connection[ReconItem]:
        check_page_size(first, None)
        _, run_id = decode_gid(self.id, "ReconRun")
        async with info.context.read() as session:
            rows = await service.items_of(session, run_id, decode_cursor(after, "recon-item"), first + 1)
        page = rows[:first]
        cursors = [encode_cursor("recon-item", r.id) for r in page if r.id is not None]
        return connection([ReconItem.of(r) for r in page], cursors, len(rows) > first, after is not None)


@strawberry.type
class BuyerSettlement:
    buyer_uid: str
    received: Money
    orders: int


InvoiceRole = strawberry.enum(invoice_models.InvoiceRole, name="InvoiceRole")


@strawberry.type(description="One order's part in its group's invoice, with its request as the channel sent it.")
class GroupInvoiceLine:
    order_id: strawberry.ID
    channel: str
    channel_order_id: str
    role: InvoiceRole  # type: ignore[valid-type]
    amount: Money | None = strawberry.field(description="What to invoice: the group's total on the group's line.")
    kind: str | None
    title: str | None
    tax_id: str | None
    email: str | None
    address: str | None
    problem: str | None = strawberry.field(description="Why the request cannot be issued as asked (a bad tax id).")

    @classmethod
    def of(cls, line: invoices.InvoiceLine) -> GroupInvoiceLine:
        assert line.order.id is not None
        r = line.request
        amount = None if line.amount is None else Money.of(line.amount, line.order.currency)
        return cls(
            order_id=strawberry.ID(encode_gid("Order", line.order.id)), channel=line.order.channel,
            channel_order_id=line.order.channel_order_id, role=line.role, amount=amount,
            kind=r.kind if r else None, title=r.title if r else None, tax_id=r.tax_id if r else None,
            email=r.email if r else None, address=r.address if r else None, problem=line.problem,
        )  # fmt: skip
