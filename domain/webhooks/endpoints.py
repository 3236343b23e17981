"""Registering, changing and rotating the secret of a partner's webhook endpoints.

A partner key manages only its own endpoints, and subscribes itself only to the events about what its scopes
already let it read (events.SELF_SERVICE); an admin may register any event type for any partner key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.access.models import PartnerKey
from domain.clock import utcnow
from domain.columns import check_text
from domain.errors import Problems, UserError
from domain.i18n import Message, msg, tr
from domain.i18n.stored import render_sentence, stored_sentences
from domain.intake.vault import Vault
from domain.sql import take_sqlite_write_lock
from domain.webhooks.errors import WebhookErrorCode
from domain.webhooks.events import SELF_SERVICE, WebhookEventType
from domain.webhooks.models import DeliveryState, EndpointState, WebhookDelivery, WebhookEndpoint
from domain.webhooks.signing import new_secret

MAX_URL = 2000


@dataclass(frozen=True)
class Owner:
    """Who acts on endpoints: a partner key (its own endpoints, its scopes) or an admin (any, every type)."""

    actor: str
    partner_key_id: int | None = None
    scopes: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return self.partner_key_id is None


def check_url(problems: Problems, url: str) -> None:
    """http(s) with a host and no credentials in it: anything else could not be posted to, or leaks a password
    into the delivery log. Redirects are not followed, so the URL must be the endpoint itself."""
    check_text(problems, ("url",), url, MAX_URL)
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        problems.add(("url",), msg("not a URL: {exc}", exc=exc), WebhookErrorCode.INVALID_URL)
        return
    if parts.scheme not in ("http", "https"):
        problems.add(("url",), msg("must start with http:// or https://"), WebhookErrorCode.INVALID_URL)
    elif not parts.hostname:
        problems.add(("url",), msg("has no host"), WebhookErrorCode.INVALID_URL)
    elif parts.username is not None or parts.password is not None:
        problems.add(("url",), msg("must not carry a user name or password"), WebhookErrorCode.INVALID_URL)
    elif port == 0:
        problems.add(("url",), msg("port 0 cannot be posted to"), WebhookErrorCode.INVALID_URL)


def parse_event_types(problems: Problems, names: Sequence[str], owner: Owner) -> list[str]:
    if not names:
        problems.add(("event_types",), msg("subscribe to at least one event type"), WebhookErrorCode.NO_EVENT_TYPES)
    known = {t.value: t for t in WebhookEventType}
    chosen: list[str] = []
    for i, name in enumerate(names):
        kind = known.get(name)
        if kind is None:
            listed = ", ".join(known)
            unknown = msg("unknown event type {name}; known: {listed}", name=repr(name), listed=listed)
            problems.add(("event_types", i), unknown, WebhookErrorCode.UNKNOWN_EVENT_TYPE)
        elif not owner.is_admin and not (SELF_SERVICE.get(kind, frozenset()) & owner.scopes):
            refusal = msg("{name} needs an admin to grant it, or a scope that reads it", name=name)
            problems.add(("event_types", i), refusal, WebhookErrorCode.EVENT_TYPE_NOT_ALLOWED)
        elif name not in chosen:
            chosen.append(name)
    return sorted(chosen)


async def register(
    session: AsyncSession,
    vault: Vault,
    owner: Owner,
    *,
    url: str,
    event_types: Sequence[str],
    description: str = "",
    partner_key_id: int | None = None,
) -> tuple[WebhookEndpoint, str]:
    """The new endpoint and its signing secret, which is shown this once. A partner registers for itself;
    an admin names the partner key."""
    problems = Problems()
    check_url(problems, url)
    check_text(problems, ("description",), description, col(WebhookEndpoint.description))
    types = parse_event_types(problems, event_types, owner)
    key_id = owner.partner_key_id if not owner.is_admin else partner_key_id
    if key_id is None:
        problems.add(("partner_key_id",), msg("name the partner key the endpoint serves"), WebhookErrorCode.INVALID)
    elif owner.is_admin:
        key = await session.get(PartnerKey, key_id)
        if key is None or key.revoked_at is not None:
            problems.add(("partner_key_id",), msg("no such partner key, or it is revoked"), WebhookErrorCode.NOT_FOUND)
    problems.raise_if_any()
    assert key_id is not None
    secret = new_secret()
    row = WebhookEndpoint(
        partner_key_id=key_id, url=url.strip(), description=description, event_types=types,
        secret_sealed=vault.seal(secret.encode()), created_at=utcnow(), created_by=owner.actor,
    )  # fmt: skip
    session.add(row)
    await session.flush()
    return row, secret


async def endpoint_of(session: AsyncSession, owner: Owner, endpoint_id: int, *, lock: bool = False) -> WebhookEndpoint:
    """The endpoint, if the owner may act on it; a partner asking for another partner's endpoint is told it does
    not exist, as for one that does not."""
    statement = select(WebhookEndpoint).where(col(WebhookEndpoint.id) == endpoint_id)
    if lock:
        await take_sqlite_write_lock(session)
        statement = statement.with_for_update()
    row = (await session.exec(statement)).first()
    if row is None or (not owner.is_admin and row.partner_key_id != owner.partner_key_id):
        raise UserError.one(("id",), msg("no such webhook endpoint"), WebhookErrorCode.NOT_FOUND)
    return row


async def change(
    session: AsyncSession,
    owner: Owner,
    endpoint_id: int,
    *,
    url: str | None = None,
    event_types: Sequence[str] | None = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    """Enabling a disabled endpoint starts its failure count afresh; what failed meanwhile is redelivered on
    request (redeliverWebhook), not all at once."""
    row = await endpoint_of(session, owner, endpoint_id, lock=True)
    problems = Problems()
    if url is not None:
        check_url(problems, url)
    types = None if event_types is None else parse_event_types(problems, event_types, owner)
    problems.raise_if_any()
    if url is not None:
        row.url = url.strip()
    if types is not None:
        row.event_types = types
    if enabled is True and row.state != EndpointState.ACTIVE:
        row.state, row.disabled_at, row.disabled_reason, row.sentences = EndpointState.ACTIVE.value, None, None, None
        row.consecutive_failures, row.failing_since = 0, None
    elif enabled is False and row.state == EndpointState.ACTIVE:
        await disable(session, row, msg("disabled by {actor}", actor=owner.actor), utcnow())
    session.add(row)
    await session.flush()
    return row


async def disable(session: AsyncSession, row: WebhookEndpoint, reason: Message, now: datetime) -> int:
    """Switches the endpoint off and gives up its pending deliveries (they stay in the log, redeliverable);
    returns how many were given up."""
    row.state, row.disabled_at, row.disabled_reason = EndpointState.DISABLED.value, now, str(reason)
    row.sentences = stored_sentences(disabled_reason=reason)
    session.add(row)
    given_up = await session.exec(
        update(WebhookDelivery)
        .where(col(WebhookDelivery.endpoint_id) == row.id, col(WebhookDelivery.state) == DeliveryState.PENDING)
        .values(state=DeliveryState.FAILED.value, next_attempt_at=None, last_error=f"endpoint disabled: {reason}")
    )
    return int(given_up.rowcount)


async def rotate_secret(
    session: AsyncSession, vault: Vault, owner: Owner, endpoint_id: int, overlap: timedelta
) -> tuple[WebhookEndpoint, str]:
    """A new secret signs from now on; the current one keeps signing beside it for `overlap`, so the partner can
    switch its receiver without a gap. A rotation during an overlap ends the older secret at once."""
    row = await endpoint_of(session, owner, endpoint_id, lock=True)
    if overlap < timedelta(0) or overlap > timedelta(days=7):
        raise UserError.one(("overlap_hours",), msg("between 0 and 168 hours"), WebhookErrorCode.INVALID)
    secret = new_secret()
    row.previous_secret_sealed, row.previous_secret_until = row.secret_sealed, utcnow() + overlap
    row.secret_sealed = vault.seal(secret.encode())
    session.add(row)
    await session.flush()
    return row, secret


def signing_secrets(vault: Vault, row: WebhookEndpoint, now: datetime) -> list[str]:
    """The current secret, and the previous one while its overlap lasts."""
    found = [vault.open(row.secret_sealed).decode()]
    if row.previous_secret_sealed is not None and row.previous_secret_until and now < row.previous_secret_until:
        found.append(vault.open(row.previous_secret_sealed).decode())
    return found


def disabled_reason_of(row: WebhookEndpoint) -> str | None:
    """Why the endpoint is off, in the reader's language; as written for an endpoint switched off before."""
    if row.disabled_reason is None:
        return None
    return render_sentence(row.sentences, "disabled_reason", row.disabled_reason)


async def endpoints(
    session: AsyncSession, owner: Owner, first: int, after_id: int | None
) -> tuple[list[WebhookEndpoint], bool]:
    statement = select(WebhookEndpoint).order_by(col(WebhookEndpoint.id)).limit(first + 1)
    if not owner.is_admin:
        statement = statement.where(col(WebhookEndpoint.partner_key_id) == owner.partner_key_id)
    if after_id is not None:
        statement = statement.where(col(WebhookEndpoint.id) > after_id)
    rows = list((await session.exec(statement)).all())
    return rows[:first], len(rows) > first


async def disabled_notice(session: AsyncSession, endpoint_id: int) -> tuple[str, str] | None:
    """The group chats' message about an endpoint switched off for failing; None if it is active again."""
    row = await session.get(WebhookEndpoint, endpoint_id)
    if row is None or row.state != EndpointState.DISABLED:
        return None
    key = await session.get(PartnerKey, row.partner_key_id)
    partner = key.name if key is not None else tr("partner key {id}", id=row.partner_key_id)
    title = tr("orderhub: webhook endpoint of {partner} disabled", partner=partner)
    why = disabled_reason_of(row) or ""
    text = "\n".join(
        (
            "### " + tr("Webhook endpoint disabled"),
            "- " + tr("partner: {partner}", partner=partner),
            "- " + tr("url: {url}", url=row.url),
            "- " + tr("why: {reason}", reason=why),
            tr(
                "- its pending deliveries stopped; enable it again (updateWebhookEndpoint) and redeliver what it missed"
            ),
        )
    )
    return title, text
