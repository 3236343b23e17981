"""What finance does to the ledger: statement uploads, reconciliation runs, reversals, re-attaching suspense
payments and resolving to-check items."""

from __future__ import annotations

import time

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types import Info

from api.auth.principal import Staff
from api.graphql.context import Context
from api.graphql.errors import user_errors
from api.graphql.ids import decode_gid
from api.graphql.money.types import (
    FINANCE,
    FundVoucher,
    HeldStatement,
    MoneyErrorCode,
    MoneyUserError,
    ReconItem,
    ReconResolution,
    ReconRun,
    Statement,
)
from api.graphql.permissions import allow
from domain.errors import Problem, UserError
from domain.ledger.service import reattach_voucher, reverse_voucher
from domain.outbox.service import Outbox
from domain.reconcile import layouts, service
from domain.reconcile import models as recon
from domain.reconcile.statements.lines import StatementError
from runtime import metrics


def _errors(problems: list[Problem]) -> list[MoneyUserError]:
    return user_errors(MoneyUserError, MoneyErrorCode, problems)


def _actor(info: Info[Context, None]) -> str:
    principal = info.context.principal
    return principal.email if isinstance(principal, Staff) else "unknown"


@strawberry.input
class UploadStatementInput:
    file: Upload
    provider: str | None = strawberry.field(default=None, description="For bank CSVs: whose money it is.")


@strawberry.type
class UploadStatementPayload:
    statement: Statement | None
    held: HeldStatement | None = strawberry.field(
        default=None, description="Set instead of statement when the file's layout changed: it is not imported."
    )
    user_errors: list[MoneyUserError]


@strawberry.input
class ColumnRenameInput:
    column: str = strawberry.field(description="The header name in the new file.")
    reads_as: str = strawberry.field(description="The name the parser reads, as the format's files had it.")


@strawberry.input
class AcceptStatementLayoutInput:
    held_statement_id: strawberry.ID
    renames: list[ColumnRenameInput] = strawberry.field(
        default_factory=list, description="Kept as the format's column rules for every later file."
    )


@strawberry.type
class AcceptStatementLayoutPayload:
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
            async with info.context.unit_of_work() as session:
                taken = await layouts.take_statement(
                    session, filename, data, provider=input.provider or "bank", uploaded_by=_actor(info),
                    vault=info.context.runtime.core.vault,
                )  # fmt: skip
                if isinstance(taken, layouts.Held):
                    held = await session.get(recon.HeldStatement, taken.held_id)
                    assert held is not None
                    return UploadStatementPayload(statement=None, held=HeldStatement.of(held), user_errors=[])
                row = await session.get(recon.Statement, taken.statement_id)
                assert row is not None
        except StatementError as exc:
            problem = Problem(("file",), exc.message, MoneyErrorCode.INVALID_STATEMENT)
            return UploadStatementPayload(statement=None, user_errors=_errors([problem]))
        return UploadStatementPayload(statement=Statement.of(row, not taken.is_new), user_errors=[])

    @strawberry.mutation(
        description="Accept a held statement's layout as its format's baseline and import the file.",
        extensions=allow(**FINANCE),
    )
    async def accept_statement_layout(
        self, info: Info[Context, None], input: AcceptStatementLayoutInput
    ) -> AcceptStatementLayoutPayload:
        renames = {r.column: r.reads_as for r in input.renames}
        try:
            async with info.context.unit_of_work() as session:
                held_id = decode_gid(input.held_statement_id, "HeldStatement")[1]
                vault = info.context.runtime.core.vault
                imported = await layouts.accept_layout(session, vault, held_id, _actor(info), renames)
                row = await session.get(recon.Statement, imported.statement_id)
                assert row is not None
        except UserError as error:
            return AcceptStatementLayoutPayload(statement=None, user_errors=_errors(error.problems))
        except StatementError as exc:
            problem = Problem(("heldStatementId",), exc.message, MoneyErrorCode.INVALID_STATEMENT)
            return AcceptStatementLayoutPayload(statement=None, user_errors=_errors([problem]))
        return AcceptStatementLayoutPayload(statement=Statement.of(row, not imported.is_new), user_errors=[])

    @strawberry.mutation(description="Reconcile statements against confirmed vouchers.", extensions=allow(**FINANCE))
    async def run_reconciliation(
        self, info: Info[Context, None], input: RunReconciliationInput
    ) -> RunReconciliationPayload:
        started = time.perf_counter()
        try:
            async with info.context.unit_of_work() as session:
                if input.statement_ids is None:
                    ids = [s.id for s in await service.unreconciled(session) if s.id is not None]
                else:
                    ids = [decode_gid(i, "Statement")[1] for i in input.statement_ids]
                runs = await service.reconcile(session, ids, trigger=f"staff:{_actor(info)}", outbox=Outbox())
        except UserError as error:
            return RunReconciliationPayload(runs=[], user_errors=_errors(error.problems))
        metrics.count_reconciliation("staff", time.perf_counter() - started, [r.counts for r in runs])
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
