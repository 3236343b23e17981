"""Issue and verify partner keys and staff passwords; disable and re-role staff accounts."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from pwdlib import PasswordHash
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.access.errors import AccessErrorCode
from domain.access.models import PartnerKey, StaffUser
from domain.access.policy import Role, Scope, parse_channels, parse_roles, parse_scopes
from domain.clock import utcnow
from domain.errors import UserError
from domain.outbox.service import Outbox

_passwords = PasswordHash.recommended()
KEY_PREFIX = "ohk_"
ACCESS_TOPIC = "access"
"""Pub/sub topic of staff accounts whose access changed: API processes close those accounts' websockets."""


@dataclass(frozen=True)
class IssuedKey:
    id: int
    name: str
    key: str
    scopes: list[Scope]
    channels: list[str] | None


def _hash_key(key: str) -> str:
    # A random 256-bit key cannot be guessed, so a fast hash is enough and permits lookup by hash.
    return hashlib.sha256(key.encode()).hexdigest()


async def issue_partner_key(
    session: AsyncSession, name: str, scopes: list[str], channels: Sequence[str] | None = None
) -> IssuedKey:
    """`channels` None: the key serves every channel (what keys issued before channels were bound do)."""
    parsed = parse_scopes(scopes)
    bound = None if channels is None else parse_channels(channels)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = PartnerKey(
        name=name,
        key_hash=_hash_key(key),
        last4=key[-4:],
        scopes=[s.value for s in parsed],
        channels=bound,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    assert row.id is not None
    return IssuedKey(row.id, name, key, parsed, bound)


async def find_partner_key(session: AsyncSession, key: str) -> PartnerKey | None:
    row = (await session.exec(select(PartnerKey).where(PartnerKey.key_hash == _hash_key(key)))).first()
    return None if row is None or row.revoked_at is not None else row


async def create_staff(session: AsyncSession, email: str, password: str, roles: list[str]) -> StaffUser:
    parsed: list[Role] = parse_roles(roles)
    if len(password) < 12:
        raise ValueError("staff passwords need at least 12 characters")
    user = StaffUser(
        email=email.strip().lower(),
        password_hash=await asyncio.to_thread(_passwords.hash, password),
        roles=[r.value for r in parsed],
        created_at=utcnow(),
    )
    session.add(user)
    await session.flush()
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


async def _staff_by_email(session: AsyncSession, email: str) -> StaffUser:
    user = (await session.exec(select(StaffUser).where(StaffUser.email == email.strip().lower()))).first()
    if user is None:
        raise UserError.one(("email",), f"no staff account {email!r}", AccessErrorCode.NOT_FOUND)
    return user


async def disable_staff(session: AsyncSession, email: str, outbox: Outbox) -> StaffUser:
    """Its tokens stop working within the accounts cache time, and its open websockets close."""
    user = await _staff_by_email(session, email)
    if user.disabled_at is None:
        user.disabled_at = utcnow()
        session.add(user)
    await _revoked(session, user, outbox)
    return user


async def set_staff_roles(session: AsyncSession, email: str, roles: list[str], outbox: Outbox) -> StaffUser:
    """Takes effect on the next request: tokens carry no authority of their own, the account does."""
    parsed = parse_roles(roles)
    user = await _staff_by_email(session, email)
    user.roles = [r.value for r in parsed]
    session.add(user)
    await _revoked(session, user, outbox)
    return user


async def _revoked(session: AsyncSession, user: StaffUser, outbox: Outbox) -> None:
    await session.flush()
    outbox.publish(ACCESS_TOPIC, {"staff_user_id": user.id})
    await outbox.flush(session)
