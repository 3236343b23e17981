"""Replay of a carrier's recorded events: a request recorded but never applied (the process stopped after the
record stage) is found by a dry run, applied once, and a second apply records nothing; other sources and
partners are left out."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from domain.fulfilment.models import FulfilmentEvidence
from domain.intake.models import InboundMessage, Outcome
from tests.conftest import Api, Credentials
from tests.integration.fulfilment_fixtures import CARRIER, callers, carrier_event

DAY = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
REPLAY = """mutation R($input: ReplayEvidenceInput!) { replayEvidenceEvents(input: $input) {
  events { messageId eventKey orderReference verdict drift error applied outcome } userErrors { field code } } }"""


async def _recorded_not_applied(api: Api, like: InboundMessage, event: dict[str, Any]) -> None:
    """A partner request as the record stage leaves it when the process stops before applying it."""
    body = json.dumps({"query": CARRIER, "variables": {"input": event}}).encode()
    row = InboundMessage(
        source=like.source, kind=like.kind, headers={}, body=api.runtime.core.vault.seal(body), body_size=len(body),
        content_hash="0" * 64, received_at=like.received_at, signature=like.signature,
        partner_key_id=like.partner_key_id, outcome=Outcome.PENDING,
    )  # fmt: skip
    async with api.runtime.core.sessions() as session, session.begin():
        session.add(row)


async def _evidence_count(api: Api) -> int:
    async with api.runtime.core.sessions() as session:
        return int((await session.exec(select(func.count()).select_from(FulfilmentEvidence))).one())


async def test_a_carrier_event_recorded_but_never_applied_is_replayed_once(api: Api, creds: Credentials) -> None:
    who = await callers(api)
    sent = await api.gql(CARRIER, {"input": carrier_event("IN_TRANSIT", DAY, "rp-1")}, headers=who.carrier)
    assert "errors" not in sent
    async with api.runtime.core.sessions() as session:
        first = (await session.exec(select(InboundMessage).order_by(col(InboundMessage.id).desc()))).first()
    assert first is not None
    lost = carrier_event("DELIVERED", DAY + timedelta(hours=5), "rp-2")
    lost["location"], lost["signer"] = "Shanghai Jing'an", "front desk"
    await _recorded_not_applied(api, first, lost)
    window = {"upstream": "CARRIER", "source": "SF", "receivedFrom": (first.received_at - timedelta(minutes=1))
              .isoformat(), "receivedTo": (first.received_at + timedelta(minutes=1)).isoformat()}  # fmt: skip

    before = await _evidence_count(api)
    dry = (await api.gql(REPLAY, {"input": window}, headers=who.ops))["data"]["replayEvidenceEvents"]
    assert dry["userErrors"] == []
    assert [(e["eventKey"], e["verdict"], e["applied"]) for e in dry["events"]] == [
        ("carrier:SF:rp-1", "ON_FILE", False), ("carrier:SF:rp-2", "RECORD", False),
    ]  # fmt: skip
    assert await _evidence_count(api) == before
    assert dry["events"][0]["drift"] == []
    assert "NEW_FIELD details.signer string" in dry["events"][1]["drift"]  # against the carrier's learned shape

    applied = await api.gql(REPLAY, {"input": {**window, "apply": True}}, headers=who.ops)
    events = applied["data"]["replayEvidenceEvents"]["events"]
    assert [(e["eventKey"], e["verdict"], e["applied"]) for e in events] == [
        ("carrier:SF:rp-1", "ON_FILE", False), ("carrier:SF:rp-2", "RECORD", True),
    ]  # fmt: skip
    assert events[1]["outcome"] in {"APPLIED", "NOTED", "HELD"}
    assert await _evidence_count(api) == before + 1
    async with api.runtime.core.sessions() as session:
        found = select(FulfilmentEvidence).where(FulfilmentEvidence.event_key == "carrier:SF:rp-2")
        row = (await session.exec(found)).one()
    assert row.kind == "CARRIER_DELIVERED"

    again = await api.gql(REPLAY, {"input": {**window, "apply": True}}, headers=who.ops)
    assert [e["verdict"] for e in again["data"]["replayEvidenceEvents"]["events"]] == ["ON_FILE", "ON_FILE"]
    assert await _evidence_count(api) == before + 1

    other = await api.gql(REPLAY, {"input": {**window, "source": "carrier:ZTO"}}, headers=who.ops)
    assert other["data"]["replayEvidenceEvents"]["events"] == []
    warehouse = await api.gql(REPLAY, {"input": {**window, "upstream": "WAREHOUSE"}}, headers=who.ops)
    assert warehouse["data"]["replayEvidenceEvents"]["events"] == []
    wrong = await api.gql(REPLAY, {"input": {**window, "upstream": "PAYMENT"}}, headers=who.ops)
    assert wrong["data"]["replayEvidenceEvents"]["userErrors"] == [{"field": ["input", "upstream"], "code": "INVALID"}]
    refused = await api.gql(REPLAY, {"input": window}, headers=who.carrier)
    assert refused.get("errors") and not (refused.get("data") or {}).get("replayEvidenceEvents")


async def test_cli_replay_applies_a_carriers_lost_event(api: Api) -> None:
    who = await callers(api)
    assert "errors" not in await api.gql(
        CARRIER, {"input": carrier_event("PICKED_UP", DAY, "cli-1")}, headers=who.carrier
    )
    async with api.runtime.core.sessions() as session:
        first = (await session.exec(select(InboundMessage).order_by(col(InboundMessage.id).desc()))).first()
    assert first is not None
    await _recorded_not_applied(api, first, carrier_event("IN_TRANSIT", DAY + timedelta(hours=2), "cli-2"))
    settings = api.runtime.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERHUB_")}
    env |= {"ORDERHUB_DATABASE_URL": str(settings.database_url), "ORDERHUB_VAULT_KEY": "test-vault-key",
            "ORDERHUB_DATA_DIR": str(settings.data_dir), "ORDERHUB_IDENTITY_KEY": "test-identity-key-0123456789",
            "ORDERHUB_TOKEN_SECRET": "x" * 32}  # fmt: skip
    args = ["replay", "--carrier", "SF", "--from", "2000-01-01T00:00:00+08:00", "--to", "2100-01-01T00:00:00Z"]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli.main", *args, "--apply", env=env, cwd=Path(__file__).parents[2],
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    assert "2 event(s), 1 applied, 1 on file" in out.decode()
    async with api.runtime.core.sessions() as session:
        keys = (await session.exec(select(FulfilmentEvidence.event_key).order_by(col(FulfilmentEvidence.id)))).all()
    assert list(keys) == ["carrier:SF:cli-1", "carrier:SF:cli-2"]
