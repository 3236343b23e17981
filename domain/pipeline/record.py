"""The record stage: every inbound message is stored, size-capped, in a transaction of its own, before
anything can fail; whoever processes it later writes the outcome with the true reason.

Every entry point calls `record` (partner GraphQL requests, channel payloads, payment notifications;
warehouse and carrier evidence arrive as partner GraphQL requests). It owns its transaction, unlike
the services, because what it stores must survive whatever the later stages do.

Nothing a sender writes can make the record itself fail:
- the body is kept up to `max_body_bytes`; a larger one keeps its first bytes and its true size and
  is REJECTED at once (the caller answers 413);
- a source, kind or natural key longer than its column is stored as a prefix plus a SHA-256 digest
  of the whole (`bounded`), so the same long key still finds its first record and two different long
  keys stay apart; NUL characters, which PostgreSQL text refuses, are written as `\\0`;
- a natural key (an `Idempotency-Key`) seen before with the same body counts a repeat on the first
  record; seen with a different body, it is not applied: the message is recorded apart (without the
  key, which stays in its headers) and REJECTED "idempotency key reused with a different body".
  A message refused before it could be read gives its key back (`release_key`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.identity.masking import mask_phones
from domain.intake.models import InboundMessage, Outcome, SignatureVerdict
from domain.intake.vault import Vault
from domain.sql import insert_ignore, insert_ignore_many

MAX_SOURCE = 100
MAX_KIND = 100
MAX_NATURAL_KEY = 200
MAX_HEADER = 1000
MAX_ERROR = 2000
KEY_REUSED = "idempotency key reused with a different body"

# Headers worth keeping for an investigation; credentials are never among them.
KEPT_HEADERS = frozenset(
    {"content-type", "content-length", "user-agent", "x-request-id", "idempotency-key",
     "x-forwarded-for", "x-real-ip", "wechatpay-serial", "wechatpay-timestamp",
     "wechatpay-nonce", "wechatpay-signature", "wechatpay-signature-type"}
)  # fmt: skip


class Refusal(StrEnum):
    """Why the record stage itself refused a message; the caller answers 413 or 422."""

    TOO_LARGE = "TOO_LARGE"
    KEY_REUSED = "KEY_REUSED"


REFUSAL_STATUS = {Refusal.TOO_LARGE: 413, Refusal.KEY_REUSED: 422}
"""The status every HTTP entry point answers a refusal of the record stage with."""


@dataclass(frozen=True)
class Arrival:
    """One inbound message as it arrived; `body` holds at most the cap, `size` is the whole body's."""

    source: str
    kind: str
    body: bytes
    size: int
    headers: Mapping[str, str]
    signature: SignatureVerdict
    natural_key: str | None = None
    partner_key_id: int | None = None
    received_at: datetime | None = None


@dataclass(frozen=True)
class Recorded:
    message_id: int
    is_new: bool
    refusal: Refusal | None = None
    reason: str | None = None


def printable(text: str) -> str:
    """What a text column of either database accepts: no NUL, no lone surrogate."""
    return text.replace("\x00", "\\0").encode("utf-8", "replace").decode("utf-8")


def bounded(text: str, limit: int) -> str:
    """`text` if it fits, else a prefix and the SHA-256 of the whole: distinct keys stay distinct."""
    text = printable(text)
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()
    return f"{text[: limit - len(digest) - 1]}~{digest}"


def error_text(error: str | None) -> str | None:
    """Every stored reason passes here: phone-like digits masked, NUL escaped, length capped."""
    if error is None:
        return None
    return printable(mask_phones(error))[:MAX_ERROR]


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): printable(v)[:MAX_HEADER] for k, v in headers.items() if k.lower() in KEPT_HEADERS}


async def record(
    sessions: Callable[[], AsyncSession], vault: Vault, arrival: Arrival, *, max_body_bytes: int
) -> Recorded:
    """Store the message and commit; a refusal of the record stage is stored with its outcome.

    A pooled connection the database dropped while we used it (a restart, a terminated backend) is ours to
    replace, not the sender's problem: the store is tried once more on a fresh connection."""
    try:
        async with sessions() as session, session.begin():
            return await store(session, vault, arrival, max_body_bytes)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    async with sessions() as session, session.begin():
        return await store(session, vault, arrival, max_body_bytes)


async def record_all(
    sessions: Callable[[], AsyncSession], vault: Vault, arrivals: Sequence[Arrival], *, max_body_bytes: int
) -> list[Recorded]:
    """Store many messages under one commit (a bulk sender's batch), each as `record` stores it: the first
    of each natural key not seen before in one statement, the others (a repeat, a key met, one too large,
    one without a key) one by one."""
    async with sessions() as session, session.begin():
        rows = [_values(vault, arrival, max_body_bytes) for arrival in arrivals]
        first: dict[tuple[str, str, str], int] = {}
        for index, (arrival, values) in enumerate(zip(arrivals, rows, strict=True)):
            if arrival.natural_key is not None and values["body_size"] <= max_body_bytes:
                values["natural_key"] = bounded(arrival.natural_key, MAX_NATURAL_KEY)
                first.setdefault((values["source"], values["kind"], values["natural_key"]), index)
        columns = ("source", "kind", "natural_key")
        inserted = await insert_ignore_many(session, InboundMessage, [rows[i] for i in first.values()], columns)
        ids = {(r.source, r.kind, r.natural_key): int(r.id) for r in inserted}
        results = []
        for index, (arrival, values) in enumerate(zip(arrivals, rows, strict=True)):
            key = (values["source"], values["kind"], values["natural_key"])
            if key in ids and first.get(key) == index:
                results.append(Recorded(ids[key], True))
            else:
                results.append(await store(session, vault, arrival, max_body_bytes))
        return results


def _values(
    vault: Vault, arrival: Arrival, max_body_bytes: int, outcome: Outcome = Outcome.PENDING, error: str | None = None
) -> dict[str, Any]:
    kept = arrival.body[:max_body_bytes]
    values: dict[str, Any] = {
        "source": bounded(arrival.source, MAX_SOURCE),
        "kind": bounded(arrival.kind, MAX_KIND),
        "natural_key": None,
        "headers": kept_headers(arrival.headers),
        "body": vault.seal(kept),
        "body_size": max(arrival.size, len(arrival.body)),
        "content_hash": hashlib.sha256(kept).hexdigest(),
        "received_at": arrival.received_at or utcnow(),
        "signature": arrival.signature,
        "partner_key_id": arrival.partner_key_id,
        "outcome": outcome,
        "repeats": 0,
    }
    if outcome is not Outcome.PENDING:
        values |= {"error": error_text(error), "processed_at": utcnow()}
    return values


async def store(
    session: AsyncSession, vault: Vault, arrival: Arrival, max_body_bytes: int,
    *, outcome: Outcome = Outcome.PENDING, error: str | None = None,
) -> Recorded:  # fmt: skip
    """The record stage inside the caller's transaction: a handler that processes the message in the same
    unit of work commits record, change and outcome together, and `outcome` saves the later UPDATE when
    it is known already (a refusal). Whoever calls this must record the message alone if that unit of
    work fails (`Message` does)."""
    values = _values(vault, arrival, max_body_bytes, outcome, error)
    if values["body_size"] > max_body_bytes:
        reason = f"body of {values['body_size']} bytes exceeds the limit of {max_body_bytes}"
        return await _insert_refused(session, values, Refusal.TOO_LARGE, reason)
    if arrival.natural_key is None:
        return Recorded(await _insert(session, values), True)
    values["natural_key"] = bounded(arrival.natural_key, MAX_NATURAL_KEY)
    new_id = await insert_ignore(session, InboundMessage, values, ("source", "kind", "natural_key"))
    if new_id is not None:
        return Recorded(new_id, True)
    table = InboundMessage.__table__  # type: ignore[attr-defined]
    same_key = (table.c.source == values["source"], table.c.kind == values["kind"],
                table.c.natural_key == values["natural_key"])  # fmt: skip
    first = (await session.execute(select(table.c.id, table.c.content_hash).where(*same_key))).first()
    if first is None:  # the key was given back in between
        return Recorded(await _insert(session, values), True)
    first_id, first_hash = first
    if first_hash != values["content_hash"]:
        return await _insert_refused(session, values | {"natural_key": None}, Refusal.KEY_REUSED, KEY_REUSED)
    await session.execute(update(table).where(table.c.id == first_id).values(repeats=table.c.repeats + 1))
    return Recorded(int(first_id), False)


async def _insert(session: AsyncSession, values: dict[str, Any]) -> int:
    """A plain INSERT ... RETURNING id on the table, not an ORM object flushed: the caller needs the id only,
    and the unit-of-work flush cost more CPU than every other statement of a partner's request."""
    table = InboundMessage.__table__  # type: ignore[attr-defined]
    return int((await session.execute(insert(table).returning(table.c.id), values)).scalar_one())


async def _insert_refused(session: AsyncSession, values: dict[str, Any], refusal: Refusal, reason: str) -> Recorded:
    refused = values | {"outcome": Outcome.REJECTED, "error": reason, "processed_at": utcnow()}
    return Recorded(await _insert(session, refused), True, refusal, reason)


async def mark_outcome(
    session: AsyncSession,
    message_id: int,
    outcome: Outcome,
    error: str | None = None,
    *,
    only_pending: bool = False,
    release_key: bool = False,
) -> None:
    """`only_pending` leaves an outcome a processor already wrote untouched. `release_key` gives the
    natural key back, for a message refused before it could be read (a truncated body): the sender's
    corrected retry under the same Idempotency-Key is then a new message, not a reused key."""
    statement = update(InboundMessage).where(col(InboundMessage.id) == message_id)
    if only_pending:
        statement = statement.where(col(InboundMessage.outcome) == Outcome.PENDING)
    values: dict[str, Any] = {"outcome": outcome, "error": error_text(error), "processed_at": utcnow()}
    if release_key:
        values["natural_key"] = None
    await session.exec(statement.values(**values))


async def close(
    sessions: Callable[[], AsyncSession], message_id: int, outcome: Outcome, error: str | None = None,
    *, only_pending: bool = False, release_key: bool = False,
) -> None:  # fmt: skip
    """Write an outcome in a transaction of its own: for a refusal, or after the unit of work failed."""
    async with sessions() as session, session.begin():
        await mark_outcome(session, message_id, outcome, error, only_pending=only_pending, release_key=release_key)
