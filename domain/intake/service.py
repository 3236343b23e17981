"""Record first, in a transaction of its own; the outcome is written later by whoever processes it."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.intake.models import InboundMessage, Outcome
from domain.intake.vault import Vault
from domain.sql import insert_or_count_repeat

# Headers worth keeping for an investigation; credentials are never among them.
KEPT_HEADERS = frozenset(
    {"content-type", "content-length", "user-agent", "x-request-id", "idempotency-key",
     "x-forwarded-for", "x-real-ip", "wechatpay-serial", "wechatpay-timestamp",
     "wechatpay-nonce", "wechatpay-signature", "wechatpay-signature-type"}
)  # fmt: skip


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items() if k.lower() in KEPT_HEADERS}


async def record_inbound(
    session: AsyncSession,
    vault: Vault,
    *,
    source: str,
    kind: str,
    body: bytes,
    headers: Mapping[str, str],
    signature: str,
    natural_key: str | None = None,
    partner_key_id: int | None = None,
    received_at: datetime | None = None,
) -> tuple[int, bool]:
    """Store the message; returns (id, is_new). A repeat of a natural key is counted, not stored again."""
    values: dict[str, Any] = {
        "source": source,
        "kind": kind,
        "natural_key": natural_key,
        "headers": kept_headers(headers),
        "body": vault.seal(body),
        "body_size": len(body),
        "content_hash": hashlib.sha256(body).hexdigest(),
        "received_at": received_at or utcnow(),
        "signature": signature,
        "partner_key_id": partner_key_id,
        "outcome": Outcome.PENDING,
        "repeats": 0,
    }
    if natural_key is not None:
        return await insert_or_count_repeat(session, InboundMessage, values, ("source", "kind", "natural_key"))
    message = InboundMessage(**values)
    session.add(message)
    await session.flush()
    assert message.id is not None
    return message.id, True


async def mark_outcome(
    session: AsyncSession, message_id: int, outcome: Outcome, error: str | None = None, *, only_pending: bool = False
) -> None:
    """`only_pending` leaves an outcome a processor already wrote untouched."""
    statement = update(InboundMessage).where(col(InboundMessage.id) == message_id)
    if only_pending:
        statement = statement.where(col(InboundMessage.outcome) == Outcome.PENDING)
    await session.exec(statement.values(outcome=outcome, error=error, processed_at=utcnow()))


async def read_body(session: AsyncSession, vault: Vault, message_id: int) -> bytes:
    message = await session.get(InboundMessage, message_id)
    if message is None:
        raise LookupError(f"no inbound message {message_id}")
    return vault.open(message.body)
