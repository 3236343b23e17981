"""Replay of a payment provider's recorded notifications into the ledger: one that was recorded with a valid
signature but never posted (the posting failed) is found by a dry run and posted once; a second apply posts
nothing; an unsigned one is never replayed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from domain.intake.models import InboundMessage, Outcome, SignatureVerdict
from domain.ledger.models import FundVoucher
from domain.pipeline.payment import KIND
from sim.payment_providers import AlipayPlatform, WechatPayPlatform, generic_notification
from tests.conftest import Api, Credentials
from tests.integration.test_payments import GENERIC_SECRET, Providers, providers_configured

URL = "/payments/lianlian/notify"
REPLAY = """mutation R($input: ReplayPaymentsInput!) { replayPaymentPostings(input: $input) {
  payments { providerTxnId verdict amount currency applied outcome error } } }"""
BASE = {"kind": "payment", "order_ref": "NO-SUCH", "amount": "9.90", "currency": "CNY", "status": "confirmed",
        "occurred_at": "2026-11-24T20:45:00+08:00"}  # fmt: skip


@pytest.fixture
async def pay(api: Api, tmp_path: Path) -> AsyncIterator[Api]:
    async with providers_configured(api, Providers(WechatPayPlatform(), AlipayPlatform()), tmp_path) as configured:
        yield configured


async def _recorded(api: Api, like: InboundMessage, txn: str, signature: SignatureVerdict) -> None:
    """A notification as the record stage leaves it when its posting failed."""
    _, body = generic_notification(GENERIC_SECRET, BASE | {"transaction_id": txn, "amount": "12.30"})
    row = InboundMessage(
        source=like.source, kind=KIND, headers={}, body=api.runtime.core.vault.seal(body), body_size=len(body),
        content_hash=txn.ljust(64, "0"), received_at=like.received_at, signature=signature, outcome=Outcome.FAILED,
        error="posting failed: OperationalError: database is locked",
    )  # fmt: skip
    async with api.runtime.core.sessions() as session, session.begin():
        session.add(row)


async def _vouchers(api: Api) -> list[tuple[str, int]]:
    async with api.runtime.core.sessions() as session:
        rows = (await session.exec(select(FundVoucher).order_by(col(FundVoucher.id)))).all()
    return [(r.provider_txn_id, r.amount) for r in rows]


async def test_a_notification_whose_posting_failed_is_posted_once_by_replay(pay: Api, creds: Credentials) -> None:
    headers, body = generic_notification(GENERIC_SECRET, BASE | {"transaction_id": "RP-1"})
    assert (await pay.client.post(URL, content=body, headers=headers)).json()["outcome"] == "POSTED"
    async with pay.runtime.core.sessions() as session:
        first = (await session.exec(select(InboundMessage).where(InboundMessage.kind == KIND))).one()
    await _recorded(pay, first, "RP-2", SignatureVerdict.VALID)
    await _recorded(pay, first, "RP-FORGED", SignatureVerdict.INVALID)
    window = {"provider": "lianlian", "receivedFrom": (first.received_at - timedelta(minutes=1)).isoformat(),
              "receivedTo": (first.received_at + timedelta(minutes=1)).isoformat()}  # fmt: skip

    dry = (await pay.gql(REPLAY, {"input": window}, headers=creds.admin))["data"]["replayPaymentPostings"]
    assert [(p["providerTxnId"], p["verdict"], p["amount"], p["applied"]) for p in dry["payments"]] == [
        ("RP-1", "ON_FILE", 990, False), ("RP-2", "POST", 1230, False),
    ]  # fmt: skip
    assert await _vouchers(pay) == [("RP-1", 990)]

    applied = await pay.gql(REPLAY, {"input": {**window, "apply": True}}, headers=creds.admin)
    posted = applied["data"]["replayPaymentPostings"]["payments"]
    assert [(p["verdict"], p["applied"], p["outcome"]) for p in posted] == [
        ("ON_FILE", False, None), ("POST", True, "POSTED"),
    ]  # fmt: skip
    assert await _vouchers(pay) == [("RP-1", 990), ("RP-2", 1230)]
    async with pay.runtime.core.sessions() as session:
        outcomes = (await session.exec(select(InboundMessage.outcome).order_by(col(InboundMessage.id)))).all()
    assert list(outcomes) == ["APPLIED", "APPLIED", "FAILED"]

    again = await pay.gql(REPLAY, {"input": {**window, "apply": True}}, headers=creds.admin)
    assert [p["verdict"] for p in again["data"]["replayPaymentPostings"]["payments"]] == ["ON_FILE", "ON_FILE"]
    async with pay.runtime.core.sessions() as session:
        repeats = (await session.exec(select(func.sum(FundVoucher.repeats)))).one()
    assert await _vouchers(pay) == [("RP-1", 990), ("RP-2", 1230)] and not repeats
    refused = await pay.gql(REPLAY, {"input": window}, headers=creds.cs)
    assert refused.get("errors") and not (refused.get("data") or {}).get("replayPaymentPostings")
