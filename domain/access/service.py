"""Issue, rotate, revoke and verify partner keys; create, verify, disable and re-role staff accounts. Every
change is appended to the admin log in the same transaction (domain/access/audit.py), whether the API or the
command line asked for it."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from pwdlib import PasswordHash
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.access.audit import SYSTEM_ACTOR, AdminAction, append
from domain.access.errors import AccessErrorCode
from domain.access.models import PartnerKey, StaffUser
from domain.access.policy import PolicyError, Role, Scope, parse_channels, parse_roles, parse_scopes
from domain.clock import utcnow
from domain.errors import ErrorCode, UserError
from domain.i18n import msg, supported
from domain.intake.models import InboundMessage
from domain.outbox.service import Outbox

T = TypeVar("T")
_passwords = PasswordHash.recommended()
KEY_PREFIX = "ohk_"
MIN_PASSWORD = 12
ACCESS_TOPIC = "access"
"""Pub/sub topic of staff accounts whose access changed: API processes close those accounts' websockets."""


@dataclass(frozen=True)
class IssuedKey:
    id: int
    name: str
    key: str
    scopes: list[Scope]
    channels: list[str] | None


@dataclass(frozen=True)
class KeyListing:
    """A key as administrators see it: never its secret, only its last four characters."""

    row: PartnerKey
    last_used_at: datetime | None


def _hash_key(key: str) -> str:
    # A random 256-bit key cannot be guessed, so a fast hash is enough and permits lookup by hash.
    return hashlib.sha256(key.encode()).hexdigest()


def _parsed(parse: Callable[[Sequence[str]], T], names: Sequence[str], field: str, code: ErrorCode) -> T:
    """The policy's parsers raise PolicyError naming what is unknown; an administrator gets it as a user error."""
    try:
        return parse(names)
    except PolicyError as exc:
        raise UserError.one((field,), exc.message, code) from exc


def key_active(row: PartnerKey, now: datetime) -> bool:
    """A rotated key keeps working until its overlap ends; a revoked one stops at once."""
    return row.revoked_at is None or row.revoked_at > now


async def issue_partner_key(
    session: AsyncSession,
    name: str,
    scopes: list[str],
    channels: Sequence[str] | None = None,
    *,
    actor: str = SYSTEM_ACTOR,
) -> IssuedKey:
    """`channels` None: the key serves every channel (what keys issued before channels were bound do)."""
    if not name.strip() or len(name) > 100:
        raise UserError.one(("name",), msg("a key needs a name of 1 to 100 characters"), AccessErrorCode.INVALID)
    parsed: list[Scope] = _parsed(parse_scopes, scopes, "scopes", AccessErrorCode.UNKNOWN_SCOPE)
    bound: list[str] | None = (
        None if channels is None else _parsed(parse_channels, channels, "channels", AccessErrorCode.UNKNOWN_CHANNEL)
    )
    issued = await _new_key(session, name.strip(), [s.value for s in parsed], bound)
    details = {"name": issued.name, "last4": issued.key[-4:], "scopes": [s.value for s in parsed], "channels": bound}
    await append(session, actor, AdminAction.PARTNER_KEY_ISSUED, f"partner_key:{issued.id}", details)
    return issued


async def _new_key(session: AsyncSession, name: str, scopes: list[str], channels: list[str] | None) -> IssuedKey:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = PartnerKey(
        name=name, key_hash=_hash_key(key), last4=key[-4:], scopes=scopes, channels=channels, created_at=utcnow()
    )
    session.add(row)
    await session.flush()
    assert row.id is not None
    return IssuedKey(row.id, name, key, [Scope(s) for s in scopes], channels)


async def find_partner_key(session: AsyncSession, key: str) -> PartnerKey | None:
    """Read on every request, with no cache: a revocation takes effect on the caller's next request."""
    row = (await session.exec(select(PartnerKey).where(PartnerKey.key_hash == _hash_key(key)))).first()
    return row if row is not None and key_active(row, utcnow()) else None


async def _key(session: AsyncSession, key_id: int) -> PartnerKey:
    row = await session.get(PartnerKey, key_id)
    if row is None:
        raise UserError.one(("id",), msg("no partner key {key_id}", key_id=key_id), AccessErrorCode.NOT_FOUND)
    if not key_active(row, utcnow()):
        raise UserError.one(
            ("id",), msg("partner key {key_id} is already revoked", key_id=key_id), AccessErrorCode.ALREADY_REVOKED
        )
    return row


async def revoke_partner_key(session: AsyncSession, key_id: int, *, actor: str) -> PartnerKey:
    row = await _key(session, key_id)
    row.revoked_at = utcnow()
    session.add(row)
    await append(session, actor, AdminAction.PARTNER_KEY_REVOKED, f"partner_key:{key_id}", {"last4": row.last4})
    return row


async def rotate_partner_key(
    session: AsyncSession, key_id: int, *, actor: str, overlap: timedelta = timedelta(0)
) -> IssuedKey:
    """A new key with the same name, scopes and channels; the old one keeps working for `overlap`, so that a
    partner can deploy the new key before the old one stops."""
    if overlap < timedelta(0) or overlap > timedelta(days=7):
        raise UserError.one(("overlap_minutes",), msg("the overlap is 0 to 7 days"), AccessErrorCode.INVALID)
    old = await _key(session, key_id)
    issued = await _new_key(session, old.name, list(old.scopes), None if old.channels is None else list(old.channels))
    old.revoked_at = utcnow() + overlap
    session.add(old)
    details = {
        "old_last4": old.last4,
        "new_key": issued.id,
        "new_last4": issued.key[-4:],
        "old_stops_at": old.revoked_at.isoformat(),
    }
    await append(session, actor, AdminAction.PARTNER_KEY_ROTATED, f"partner_key:{key_id}", details)
    return issued


async def partner_keys(
    session: AsyncSession, first: int, after_id: int | None = None, *, include_revoked: bool = False
) -> tuple[list[KeyListing], bool]:
    """Oldest first. Last use is when the key's latest request was recorded (every partner request is)."""
    query = select(PartnerKey).order_by(col(PartnerKey.id)).limit(first + 1)
    if after_id is not None:
        query = query.where(col(PartnerKey.id) > after_id)
    if not include_revoked:
        query = query.where(col(PartnerKey.revoked_at).is_(None) | (col(PartnerKey.revoked_at) > utcnow()))
    rows = list((await session.exec(query)).all())
    page = rows[:first]
    last = await _last_used(session, [r.id for r in page if r.id is not None])
    return [KeyListing(r, last.get(r.id or 0)) for r in page], len(rows) > first


async def key_listing(session: AsyncSession, key_id: int) -> KeyListing | None:
    row = await session.get(PartnerKey, key_id)
    return None if row is None else KeyListing(row, (await _last_used(session, [key_id])).get(key_id))


async def _last_used(session: AsyncSession, key_ids: list[int]) -> dict[int, datetime | None]:
    used = select(InboundMessage.partner_key_id, func.max(InboundMessage.received_at)).where(
        col(InboundMessage.partner_key_id).in_(key_ids)
    )
    found = (await session.exec(used.group_by(col(InboundMessage.partner_key_id)))).all()
    return {int(key): _aware(at) for key, at in found if key is not None}


def _aware(moment: datetime | None) -> datetime | None:
    """An aggregate skips the column's type on SQLite: the value comes back naive (or as text) in UTC."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


async def create_staff(
    session: AsyncSession, email: str, password: str, roles: list[str], *, actor: str = SYSTEM_ACTOR
) -> StaffUser:
    parsed: list[Role] = _parsed(parse_roles, roles, "roles", AccessErrorCode.UNKNOWN_ROLE)
    address = email.strip().lower()
    if "@" not in address or len(address) > 200:
        raise UserError.one(("email",), msg("an email address of at most 200 characters"), AccessErrorCode.INVALID)
    if len(password) < MIN_PASSWORD:
        raise UserError.one(
            ("password",),
            msg("staff passwords need at least {min_password} characters", min_password=MIN_PASSWORD),
            AccessErrorCode.WEAK_PASSWORD,
        )
    if (await session.exec(select(StaffUser.id).where(StaffUser.email == address))).first() is not None:
        raise UserError.one(
            ("email",), msg("a staff account {address} exists", address=repr(address)), AccessErrorCode.EMAIL_TAKEN
        )
    user = StaffUser(
        email=address,
        password_hash=await asyncio.to_thread(_passwords.hash, password),
        roles=[r.value for r in parsed],
        created_at=utcnow(),
    )
    session.add(user)
    await session.flush()
    await append(session, actor, AdminAction.STAFF_CREATED, f"staff:{address}", {"roles": user.roles})
    return user


async def verify_staff(session: AsyncSession, email: str, password: str) -> StaffUser | None:
    """Hashing takes tens of milliseconds of CPU: it runs in a thread so the event loop keeps serving."""
    user = (await session.exec(select(StaffUser).where(StaffUser.email == email.strip().lower()))).first()
    if user is None or user.disabled_at is not None:
        await asyncio.to_thread(_passwords.hash, password)  # same cost whether or not the account exists
        return None
    valid = await asyncio.to_thread(_passwords.verify, password, user.password_hash)
    return user if valid else None


async def active_staff(session: AsyncSession, user_id: int) -> StaffUser | None:
    """The account behind a staff token as it is now: None once it is disabled or gone."""
    user = await session.get(StaffUser, user_id)
    return None if user is None or user.disabled_at is not None else user


async def set_staff_language(session: AsyncSession, user_id: int, language: str | None) -> StaffUser:
    """The account's own language for human text; None hands the choice back to each request."""
    user = await active_staff(session, user_id)
    if user is None:
        raise UserError.one(("user",), msg("no such staff account"), AccessErrorCode.NOT_FOUND)
    user.language = supported(language) if language is not None else None
    session.add(user)
    await session.flush()
    return user


async def staff_accounts(
    session: AsyncSession, first: int, after_id: int | None = None
) -> tuple[list[StaffUser], bool]:
    query = select(StaffUser).order_by(col(StaffUser.id)).limit(first + 1)
    if after_id is not None:
        query = query.where(col(StaffUser.id) > after_id)
    rows = list((await session.exec(query)).all())
    return rows[:first], len(rows) > first


async def staff_email(session: AsyncSession, user_id: int) -> str:
    user = await session.get(StaffUser, user_id)
    if user is None:
        raise UserError.one(("id",), msg("no staff account {user_id}", user_id=user_id), AccessErrorCode.NOT_FOUND)
    return user.email


async def _staff_by_email(session: AsyncSession, email: str) -> StaffUser:
    user = (await session.exec(select(StaffUser).where(StaffUser.email == email.strip().lower()))).first()
    if user is None:
        raise UserError.one(("email",), msg("no staff account {email}", email=repr(email)), AccessErrorCode.NOT_FOUND)
    return user


async def disable_staff(session: AsyncSession, email: str, outbox: Outbox, *, actor: str = SYSTEM_ACTOR) -> StaffUser:
    """Its tokens stop working within the accounts cache time, and its open websockets close."""
    user = await _staff_by_email(session, email)
    if user.disabled_at is None:
        user.disabled_at = utcnow()
        session.add(user)
        await append(session, actor, AdminAction.STAFF_DISABLED, f"staff:{user.email}", {"roles": user.roles})
    await _revoked(session, user, outbox)
    return user


async def set_staff_roles(
    session: AsyncSession, email: str, roles: list[str], outbox: Outbox, *, actor: str = SYSTEM_ACTOR
) -> StaffUser:
    """Takes effect on the next request: tokens carry no authority of their own, the account does."""
    parsed: list[Role] = _parsed(parse_roles, roles, "roles", AccessErrorCode.UNKNOWN_ROLE)
    user = await _staff_by_email(session, email)
    before = list(user.roles)
    user.roles = [r.value for r in parsed]
    session.add(user)
    details = {"from": before, "to": user.roles}
    await append(session, actor, AdminAction.STAFF_ROLES_CHANGED, f"staff:{user.email}", details)
    await _revoked(session, user, outbox)
    return user


async def _revoked(session: AsyncSession, user: StaffUser, outbox: Outbox) -> None:
    await session.flush()
    outbox.publish(ACCESS_TOPIC, {"staff_user_id": user.id})
    await outbox.flush(session)
