"""A reconciliation run on both databases: every drift type found, stored, and resolvable."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import due, local, utcnow
from domain.errors import UserError
from domain.ledger.models import FundVoucher, VoucherKind, VoucherStatus
from domain.ledger.service import PaymentNotice, post_notice
from domain.orders.models import Order
from domain.outbox.service import Outbox
from domain.reconcile.bulk import import_and_reconcile_bank_csv, import_bank_csv
from domain.reconcile.models import ReconItem, ReconRun, Resolution, Statement
from domain.reconcile.models import StatementLine as StoredLine
from domain.reconcile.service import (
    AlreadyReconciling,
    import_statement,
    match_rate,
    parse_statement,
    reconcile,
    resolve_item,
)
from domain.reconcile.statements.bank import BankColumns
from domain.reconcile.statements.lines import StatementError
from runtime.process import Runtime
from sim.statements import BillRow, bank_csv
from workers.reconcile_jobs import reconcile_daily

DAY = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
ON_TIME = DAY + timedelta(minutes=1)
LATE = DAY + timedelta(days=1)


def notice(txn: str, amount: int, *, kind: VoucherKind = VoucherKind.PAYMENT, ref: str | None = None) -> PaymentNotice:
    return PaymentNotice("lianlian", txn, kind, ref or f"T-{txn}", amount, "CNY", VoucherStatus.CONFIRMED, DAY)


def every_drift() -> tuple[list[tuple[PaymentNotice, datetime]], list[BillRow]]:
    vouchers = [
        (notice("A", 10000), ON_TIME),
        (notice("B", 9590), ON_TIME),
        (notice("C", 5000), ON_TIME),
        (notice("D", 700), ON_TIME),
        (notice("F", 8000, ref="T9"), ON_TIME),
        (notice("G", 8000, ref="T9"), ON_TIME),
        (notice("H", 1200), LATE),
        (notice("I", 300), ON_TIME),
    ]
    lines = [
        BillRow(DAY, "A", "T-A", "PAYMENT", 10000),
        BillRow(DAY, "A", "T-A", "PAYMENT", 10000),
        BillRow(DAY, "B", "T-B", "PAYMENT", 9500),
        BillRow(DAY, "C", "T-C", "PAYMENT", 5000, currency="USD"),
        BillRow(DAY, "E", "T-E", "PAYMENT", 4400),
        BillRow(DAY, "F", "T9", "PAYMENT", 8000),
        BillRow(DAY, "H", "T-H", "PAYMENT", 1200),
        BillRow(DAY, "I", "T-I", "REFUND", 300),
    ]
    return vouchers, lines


async def post_vouchers(rt: Runtime, vouchers: list[tuple[PaymentNotice, datetime]]) -> None:
    async with rt.core.sessions() as session, session.begin():
        for item, received in vouchers:
            await post_notice(session, item, outbox=Outbox(), received_at=received)


async def test_every_drift_type_is_classified_and_resolvable(rt: Runtime) -> None:
    vouchers, lines = every_drift()
    await post_vouchers(rt, vouchers)
    data = bank_csv(lines)
    parsed = parse_statement("bank-20261124.csv", data, provider="lianlian")
    async with rt.core.sessions() as session, session.begin():
        first = await import_statement(session, "bank-20261124.csv", data, parsed, "finance@shop.example")
        again = await import_statement(session, "renamed.csv", data, parsed, "finance@shop.example")
    assert (first.is_new, again.is_new, again.statement_id, again.lines) == (True, False, first.statement_id, 8)
    async with rt.core.sessions() as session, session.begin():
        [run] = await reconcile(session, [first.statement_id], trigger="test")
    assert run.counts == {
        "DUPLICATE_IN_STATEMENT": 1, "AMOUNT_MISMATCH": 1, "CURRENCY_MISMATCH": 1, "MISSING_IN_SYSTEM": 1,
        "MISSING_IN_STATEMENT": 1, "DUPLICATE_NOTIFICATION": 1, "DELAYED_CALLBACK": 1, "STATUS_MISMATCH": 1,
    }  # fmt: skip
    assert (run.statement_lines, run.matched) == (8, 3)
    assert match_rate(run) == pytest.approx(3 / 8)

    async with rt.core.sessions() as session:
        items = {i.drift: i for i in (await session.exec(select(ReconItem))).all()}
    duplicate = items["DUPLICATE_NOTIFICATION"]
    assert (duplicate.provider_txn_id, duplicate.system_amount, duplicate.statement_amount) == ("G", 8000, None)
    assert items["AMOUNT_MISMATCH"].statement_amount == 9500
    assert duplicate.id is not None
    async with rt.core.sessions() as session, session.begin():
        resolved = await resolve_item(
            session, duplicate.id, Resolution.REVERSED, actor="finance@shop.example", note="sent twice"
        )
    assert (resolved.resolution, resolved.resolved_by) == ("REVERSED", "finance@shop.example")
    with pytest.raises(UserError) as refused:
        async with rt.core.sessions() as session, session.begin():
            await resolve_item(session, duplicate.id, Resolution.EXPLAINED, actor="x", note="again")
    assert refused.value.problems[0].code == "ALREADY_RESOLVED"
    async with rt.core.sessions() as session:
        reversal = (await session.exec(select(FundVoucher).where(FundVoucher.kind == "REVERSAL"))).one()
    assert (reversal.amount, reversal.actor, reversal.reason) == (-8000, "finance@shop.example", "sent twice")

    # A second statement for the same provider reconciles again; the reversed duplicate no longer shows.
    data2 = bank_csv([*lines, BillRow(DAY, "D", "T-D", "PAYMENT", 700)])
    async with rt.core.sessions() as session, session.begin():
        second = await import_statement(
            session, "b2.csv", data2, parse_statement("b2.csv", data2, provider="lianlian"), "finance"
        )
        [rerun] = await reconcile(session, [second.statement_id], trigger="test")
    assert "DUPLICATE_NOTIFICATION" not in rerun.counts
    assert "MISSING_IN_STATEMENT" not in rerun.counts


async def test_daily_job_reconciles_the_folder_once_in_its_local_hour(rt: Runtime, tmp_path: Path) -> None:
    folder = tmp_path / "statements"
    folder.mkdir()
    (folder / "bank.csv").write_bytes(bank_csv([BillRow(DAY, "Z1", "T-Z1", "PAYMENT", 100)]))
    original = rt.core.settings
    rt.core.settings = original.model_copy(update={"statement_dir": folder})
    try:
        away = (local(utcnow(), original.merchant_zone).hour + 12) % 24  # never due now, whatever the hour
        rt.core.settings = original.model_copy(update={"statement_dir": folder, "reconcile_hour": away})
        assert await reconcile_daily({"runtime": rt}) == []
        [run_id] = await reconcile_daily({"runtime": rt}, force=True)
        assert await reconcile_daily({"runtime": rt}, force=True) == []  # same file, nothing new
    finally:
        rt.core.settings = original
    async with rt.core.sessions() as session:
        items = (await session.exec(select(ReconItem).where(ReconItem.run_id == run_id))).all()
    assert [(i.drift, i.provider_txn_id) for i in items] == [("MISSING_IN_SYSTEM", "Z1")]
    shanghai = ZoneInfo("Asia/Shanghai")
    assert due(datetime(2026, 11, 25, 1, 0, tzinfo=UTC), shanghai, 9)
    assert not due(datetime(2026, 11, 25, 9, 0, tzinfo=UTC), shanghai, 9)


async def test_bulk_bank_import_on_postgresql_matches_the_parser(rt: Runtime) -> None:
    if rt.core.engine.dialect.name != "postgresql":
        pytest.skip("the COPY path is PostgreSQL's")
    lines = [BillRow(DAY, "K1", "T-K1", "PAYMENT", 10050), BillRow(DAY, "K2", "", "REFUND", 300)]
    data = bank_csv(lines)
    async with rt.core.sessions() as session, session.begin():
        await post_notice(session, notice("K1", 10050), outbox=Outbox(), received_at=ON_TIME)
    bad = data.replace(b"-3.00", b"-3.005")
    with pytest.raises(StatementError, match=r"bank.csv, line 3, column amount: '-3.005'"):
        async with rt.core.sessions() as session, session.begin():
            await import_bank_csv(session, "bank.csv", bad, BankColumns(), provider="lianlian", tz="Asia/Shanghai",
                                  uploaded_by="t")  # fmt: skip
    odd = bank_csv([*lines, BillRow(DAY, "K3", "", "PAYMENT", 300, currency="JPY")])
    with pytest.raises(StatementError, match=r"bank.csv, line 4, column currency: 'JPY' is not a two-decimal"):
        async with rt.core.sessions() as session, session.begin():
            await import_bank_csv(session, "bank.csv", odd, BankColumns(), provider="lianlian", tz="Asia/Shanghai",
                                  uploaded_by="t")  # fmt: skip
    async with rt.core.sessions() as session, session.begin():
        imported = await import_bank_csv(session, "bank.csv", data, BankColumns(), provider="lianlian",
                                         tz="Asia/Shanghai", uploaded_by="t")  # fmt: skip
        [run] = await reconcile(session, [imported.statement_id], trigger="test")
    parsed = parse_statement("bank.csv", data, provider="lianlian")
    async with rt.core.sessions() as session:
        stored = (await session.exec(select(StoredLine).order_by(col(StoredLine.line_no)))).all()
        statement = await session.get(Statement, imported.statement_id)
    rows = [(s.line_no, s.provider_txn_id, s.kind, s.order_ref, s.amount, s.currency, s.occurred_at) for s in stored]
    assert rows == [
        (x.line_no, x.provider_txn_id, x.kind.value, x.order_ref, x.amount, x.currency, x.occurred_at)
        for x in parsed.lines
    ]  # fmt: skip
    assert statement is not None and (statement.period_start, statement.period_end) == (
        parsed.period_start, parsed.period_end,
    )  # fmt: skip
    assert (run.matched, run.counts) == (1, {"MISSING_IN_SYSTEM": 1})


async def stored_items(session: AsyncSession, run_id: int | None) -> set[tuple[object, ...]]:
    rows = await session.execute(
        select(ReconItem, StoredLine.line_no)
        .outerjoin(StoredLine, col(StoredLine.id) == col(ReconItem.statement_line_id))
        .where(ReconItem.run_id == run_id)
    )
    return {
        (i.drift, i.provider_txn_id, i.voucher_id, line_no, i.system_amount, i.statement_amount, i.currency)
        for i, line_no in rows.all()
    }


async def test_import_and_reconcile_at_once_matches_import_then_reconcile(rt: Runtime) -> None:
    if rt.core.engine.dialect.name != "postgresql":
        pytest.skip("the COPY path is PostgreSQL's")
    vouchers, lines = every_drift()
    await post_vouchers(rt, vouchers)
    data = bank_csv(lines)
    async with rt.core.sessions() as session:
        await session.begin()
        imported = await import_bank_csv(session, "bank.csv", data, BankColumns(), provider="lianlian",
                                         tz="Asia/Shanghai", uploaded_by="t")  # fmt: skip
        [expected_run] = await reconcile(session, [imported.statement_id], trigger="test")
        expected = await stored_items(session, expected_run.id)
        await session.rollback()

    bad = bank_csv([*lines, BillRow(DAY, "J", "T-J", "PAYMENT", 100)]).replace(b",1.00,", b",1.001,")
    with pytest.raises(StatementError, match=r"bank.csv, line 10, column amount: '1.001'"):
        async with rt.core.sessions() as session, session.begin():
            await import_and_reconcile_bank_csv(session, "bank.csv", bad, BankColumns(), provider="lianlian",
                                                tz="Asia/Shanghai", uploaded_by="t", trigger="test")  # fmt: skip
    async with rt.core.sessions() as session:
        assert (await session.exec(select(Statement))).all() == []
        assert (await session.exec(select(StoredLine))).all() == []

    async with rt.core.sessions() as session, session.begin():
        first, [run] = await import_and_reconcile_bank_csv(
            session, "bank.csv", data, BankColumns(), provider="lianlian", tz="Asia/Shanghai", uploaded_by="t",
            trigger="test",
        )  # fmt: skip
    assert (first.is_new, first.lines) == (True, 8)
    assert (run.counts, run.statement_lines, run.matched, run.vouchers) == (
        expected_run.counts, expected_run.statement_lines, expected_run.matched, expected_run.vouchers,
    )  # fmt: skip
    async with rt.core.sessions() as session:
        assert await stored_items(session, run.id) == expected
        statement = await session.get(Statement, first.statement_id)
    assert statement is not None and statement.run_id == run.id
    assert len(expected) == 8
    async with rt.core.sessions() as session, session.begin():
        again, runs = await import_and_reconcile_bank_csv(
            session, "renamed.csv", data, BankColumns(), provider="lianlian", tz="Asia/Shanghai", uploaded_by="t",
            trigger="test",
        )  # fmt: skip
    assert (again.is_new, again.statement_id, runs) == (False, first.statement_id, [])


async def test_two_reconciliations_of_one_statement_at_once_make_one_run(rt: Runtime) -> None:
    data = bank_csv([BillRow(DAY, f"R{n}", f"T-R{n}", "PAYMENT", 100 + n) for n in range(3)])
    async with rt.core.sessions() as session, session.begin():
        imported = await import_statement(session, "r.csv", data, parse_statement("r.csv", data), "finance")

    async def run_once(trigger: str) -> list[ReconRun]:
        async with rt.core.sessions() as session, session.begin():
            return await reconcile(session, [imported.statement_id], trigger=trigger)

    outcomes = await asyncio.gather(run_once("staff"), run_once("cron"), return_exceptions=True)
    [won] = [o for o in outcomes if isinstance(o, list)]
    [lost] = [o for o in outcomes if isinstance(o, BaseException)]
    assert isinstance(lost, AlreadyReconciling) and lost.problems[0].code == "ALREADY_RECONCILING"
    async with rt.core.sessions() as session:
        runs = (await session.exec(select(ReconRun))).all()
        items = (await session.exec(select(ReconItem))).all()
    assert [r.id for r in runs] == [won[0].id]
    assert sorted(i.provider_txn_id for i in items) == ["R0", "R1", "R2"]
    # the daily job meeting the same race skips quietly instead of failing
    async with rt.core.sessions() as session, session.begin():
        await session.exec(update(Statement).values(run_id=None))
    outcomes = await asyncio.gather(
        reconcile_daily({"runtime": rt}, force=True), run_once("staff"), return_exceptions=True
    )
    made = [o for o in outcomes if isinstance(o, list) and o]
    assert len(made) == 1 and not [o for o in outcomes if isinstance(o, BaseException)
                                   and not isinstance(o, AlreadyReconciling)]  # fmt: skip
    async with rt.core.sessions() as session:
        assert len((await session.exec(select(ReconItem))).all()) == 6  # three of the first run, three of this one


async def test_lines_keep_their_vouchers_order_and_vouchers_outside_the_period_take_part(rt: Runtime) -> None:
    """Both paths store on each line the order of the voucher of its transaction id and kind, and both reconcile
    a line against a voucher the provider dated outside the statement's days."""
    async with rt.core.sessions() as session, session.begin():
        for n in range(2):
            session.add(
                Order(channel="TMALL", channel_order_id=f"T-OK{n}", status="PAID", currency="CNY", items_amount=500,
                      shipping_amount=0, discount_amount=0, total_amount=500, placed_at=DAY, created_at=DAY,
                      updated_at=DAY)
            )  # fmt: skip
    early = DAY - timedelta(days=3)
    vouchers = [
        (notice("OK0", 500), ON_TIME),
        (PaymentNotice("lianlian", "OK1", VoucherKind.PAYMENT, "T-OK1", 500, "CNY", VoucherStatus.CONFIRMED, early),
         early),
        (notice("NO", 700), ON_TIME),
    ]  # fmt: skip
    await post_vouchers(rt, vouchers)
    lines = [BillRow(DAY, "OK0", "T-OK0", "PAYMENT", 500), BillRow(DAY, "OK1", "T-OK1", "PAYMENT", 500),
             BillRow(DAY, "NO", "T-NO", "REFUND", 700), BillRow(DAY, "ZZ", "", "PAYMENT", 100)]  # fmt: skip
    data = bank_csv(lines)
    async with rt.core.sessions() as session:
        orders = dict((await session.exec(select(Order.channel_order_id, Order.id))).all())
    want_orders = {"OK0": orders["T-OK0"], "OK1": orders["T-OK1"], "NO": None, "ZZ": None}

    async def stored_orders(session: AsyncSession, statement_id: int) -> dict[str, int | None]:
        found = await session.exec(select(StoredLine).where(StoredLine.statement_id == statement_id))
        return {line.provider_txn_id: line.order_id for line in found.all()}

    async with rt.core.sessions() as session:
        await session.begin()
        parsed = parse_statement("bank.csv", data, provider="lianlian")
        imported = await import_statement(session, "bank.csv", data, parsed, "t")
        [expected_run] = await reconcile(session, [imported.statement_id], trigger="test")
        assert await stored_orders(session, imported.statement_id) == want_orders
        expected = {(drift, txn) for drift, txn, *_ in await stored_items(session, expected_run.id)}
        await session.rollback()
    assert expected == {("STATUS_MISMATCH", "NO"), ("MISSING_IN_SYSTEM", "ZZ")}
    if rt.core.engine.dialect.name != "postgresql":
        return
    async with rt.core.sessions() as session, session.begin():
        first, [run] = await import_and_reconcile_bank_csv(
            session, "bank.csv", data, BankColumns(), provider="lianlian", tz="Asia/Shanghai", uploaded_by="t",
            trigger="test",
        )  # fmt: skip
    async with rt.core.sessions() as session:
        assert await stored_orders(session, first.statement_id) == want_orders
        assert {(drift, txn) for drift, txn, *_ in await stored_items(session, run.id)} == expected
    assert (run.counts, run.matched) == (expected_run.counts, expected_run.matched)
