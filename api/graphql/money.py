"""The ledger over GraphQL: an order's money, statement uploads, reconciliation runs, reversals, re-attaching
suspense payments and settlement by buyer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Annotated, TypeVar

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types import Info

from api.auth.principal import Staff
from api.graphql.context import Context
from api.graphql.errors import code_of, field_path
from api.graphql.ids import decode_cursor, decode_gid, encode_cursor, encode_gid
from api.graphql.node import Node, NodeLoader, visible_row
from api.graphql.pagination import Connection, check_page_size, connection
from api.graphql.permissions import allow, may
from api.graphql.scalars import Money
from domain.access.policy import Role
from domain.errors import Problem, UserError
from domain.ledger import models as ledger
from domain.ledger.queries import OrderBalance, settlement_by_buyer, suspense_vouchers
from domain.ledger.service import reattach_voucher, reverse_voucher
from domain.money import Money as DomainMoney
from domain.outbox.service import Outbox
from domain.reconcile import models as recon
from domain.reconcile import service
from domain.reconcile.statements.lines import StatementError

FINANCE = dict(roles=frozenset({Role.FINANCE, Role.ADMIN}))

ReconDrift = strawberry.enum(recon.Drift, name="ReconDrift")
ReconResolution = strawberry.enum(recon.Resolution, name="ReconResolution")


@strawberry.enum
class MoneyErrorCode(Enum):
    NOT_FOUND = "NOT_FOUND"
    ALREADY_REVERSED = "ALREADY_REVERSED"
    NOT_REVERSIBLE = "NOT_REVERSIBLE"
    NOT_CONFIRMED = "NOT_CONFIRMED"
    NOT_IN_SUSPENSE = "NOT_IN_SUSPENSE"
    REASON_REQUIRED = "REASON_REQUIRED"
    ALREADY_RESOLVED = "ALREADY_RESOLVED"
    NOTE_REQUIRED = "NOTE_REQUIRED"
    INVALID_CHARACTER = "INVALID_CHARACTER"
    TOO_LONG = "TOO_LONG"
    NOTHING_TO_REVERSE = "NOTHING_TO_REVERSE"
    INVALID_STATEMENT = "INVALID_STATEMENT"
    ALREADY_RECONCILING = "ALREADY_RECONCILING"
    INVALID = "INVALID"


@strawberry.type
class MoneyUserError:
    field: list[str] | None
    message: str
    code: MoneyErrorCode


def _errors(problems: list[Problem]) -> list[MoneyUserError]:
    return [
        MoneyUserError(
            field=field_path(("input",), p), message=p.message,
            code=code_of(MoneyErrorCode, p.code, MoneyErrorCode.INVALID),
        )
        for p in problems
    ]  # fmt: skip


def _actor(info: Info[Context, None]) -> str:
    principal = info.context.principal
    return principal.email if isinstance(principal, Staff) else "unknown"


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
            voucher_id=strawberry.ID(encode_gid("FundVoucher", row.voucher_id)), actor=row.actor, reason=row.reason,
            created_at=row.created_at,
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


@strawberry.input
class UploadStatementInput:
    file: Upload
    provider: str | None = strawberry.field(default=None, description="For bank CSVs: whose money it is.")


@strawberry.type
class UploadStatementPayload:
    statement: Statement | None
    user_errors: list[MoneyUserError]


@strawberry.input
class RunReconciliationInput:
    statement_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Defaults to every statement not yet reconciled."
    )


@strawberry.type
class RunReconciliationPayload:
    runs: list[ReconRun]
    user_errors: list[MoneyUserError]


@strawberry.input
class ReverseVoucherInput:
    voucher_id: strawberry.ID
    reason: str


@strawberry.type
class ReverseVoucherPayload:
    reversal: FundVoucher | None
    user_errors: list[MoneyUserError]


@strawberry.input
class ReattachVoucherInput:
    voucher_id: strawberry.ID
    order_id: strawberry.ID
    reason: str


@strawberry.type
class ReattachVoucherPayload:
    voucher: FundVoucher | None
    user_errors: list[MoneyUserError]


@strawberry.input
class ResolveReconItemInput:
    item_id: strawberry.ID
    resolution: ReconResolution  # type: ignore[valid-type]
    note: str


@strawberry.type
class ResolveReconItemPayload:
    item: ReconItem | None
    user_errors: list[MoneyUserError]


@strawberry.type
class MoneyMutations:
    @strawberry.mutation(
        description="Upload a provider or bank statement (multipart); the same file twice is imported once.",
        extensions=allow(**FINANCE),
    )
    async def upload_statement(self, info: Info[Context, None], input: UploadStatementInput) -> UploadStatementPayload:
        data: bytes = await input.file.read()
        filename = str(getattr(input.file, "filename", None) or "upload")
        try:
            parsed = service.parse_statement(filename, data, provider=input.provider or "bank")
        except StatementError as exc:
            problem = Problem(("file",), str(exc), "INVALID_STATEMENT")
            return UploadStatementPayload(statement=None, user_errors=_errors([problem]))
        async with info.context.unit_of_work() as session:
            imported = await service.import_statement(session, filename, data, parsed, _actor(info))
        statement = Statement(
            id=strawberry.ID(encode_gid("Statement", imported.statement_id)), provider=parsed.provider,
            format=parsed.fmt, filename=filename, lines=imported.lines, period_start=parsed.period_start,
            period_end=parsed.period_end, already_imported=not imported.is_new,
        )  # fmt: skip
        return UploadStatementPayload(statement=statement, user_errors=[])

    @strawberry.mutation(description="Reconcile statements against confirmed vouchers.", extensions=allow(**FINANCE))
    async def run_reconciliation(
        self, info: Info[Context, None], input: RunReconciliationInput
    ) -> RunReconciliationPayload:
        try:
            async with info.context.unit_of_work() as session:
                if input.statement_ids is None:
                    ids = [s.id for s in await service.unreconciled(session) if s.id is not None]
                else:
                    ids = [decode_gid(i, "Statement")[1] for i in input.statement_ids]
                runs = await service.reconcile(session, ids, trigger=f"staff:{_actor(info)}")
        except UserError as error:
            return RunReconciliationPayload(runs=[], user_errors=_errors(error.problems))
        return RunReconciliationPayload(runs=[ReconRun.of(r) for r in runs], user_errors=[])

    @strawberry.mutation(
        description="Append a reversing voucher and adjustment; once per voucher.", extensions=allow(**FINANCE)
    )
    async def reverse_voucher(self, info: Info[Context, None], input: ReverseVoucherInput) -> ReverseVoucherPayload:
        _, voucher_id = decode_gid(input.voucher_id, "FundVoucher")
        try:
            async with info.context.unit_of_work() as session:
                reversal = await reverse_voucher(session, voucher_id, actor=_actor(info), reason=input.reason)
        except UserError as error:
            return ReverseVoucherPayload(reversal=None, user_errors=_errors(error.problems))
        return ReverseVoucherPayload(reversal=FundVoucher.of(reversal), user_errors=[])

    @strawberry.mutation(
        description="Move a payment out of suspense onto the order it was meant for, once; the order is checked "
        "as if the notification had named it (PAID only when amount and currency equal what is due).",
        extensions=allow(**FINANCE),
    )
    async def reattach_voucher(self, info: Info[Context, None], input: ReattachVoucherInput) -> ReattachVoucherPayload:
        _, voucher_id = decode_gid(input.voucher_id, "FundVoucher")
        _, order_id = decode_gid(input.order_id, "Order")
        try:
            async with info.context.unit_of_work() as session:
                voucher = await reattach_voucher(
                    session, Outbox(), voucher_id, order_id, actor=_actor(info), reason=input.reason
                )
        except UserError as error:
            return ReattachVoucherPayload(voucher=None, user_errors=_errors(error.problems))
        return ReattachVoucherPayload(voucher=FundVoucher.of(voucher), user_errors=[])

    @strawberry.mutation(
        description="Close a to-check item: reverse its voucher, or explain it.", extensions=allow(**FINANCE)
    )
    async def resolve_recon_item(
        self, info: Info[Context, None], input: ResolveReconItemInput
    ) -> ResolveReconItemPayload:
        _, item_id = decode_gid(input.item_id, "ReconItem")
        try:
            async with info.context.unit_of_work() as session:
                item = await service.resolve_item(
                    session, item_id, recon.Resolution(input.resolution), actor=_actor(info), note=input.note
                )
        except UserError as error:
            return ResolveReconItemPayload(item=None, user_errors=_errors(error.problems))
        return ResolveReconItemPayload(item=ReconItem.of(item), user_errors=[])


@strawberry.type
class MoneyQueries:
    @strawberry.field(description="A reconciliation run and its to-check list.", extensions=allow(**FINANCE))
    async def recon_run(self, info: Info[Context, None], id: strawberry.ID) -> ReconRun | None:
        _, key = decode_gid(id, "ReconRun")
        async with info.context.read() as session:
            row = await session.get(recon.ReconRun, key)
        return ReconRun.of(row) if row else None

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
    "ReconRun": _recon_run,
    "ReconItem": _recon_item,
}
