"""Issue and verify partner keys and staff passwords."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from pwdlib import PasswordHash
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.access.models import PartnerKey, StaffUser
from domain.access.policy import Role, Scope, parse_roles, parse_scopes
from domain.clock import utcnow

_passwords = PasswordHash.recommended()
KEY_PREFIX = "ohk_"


@dataclass(frozen=True)
class IssuedKey:
    id: int
    name: str
    key: str
    scopes: list[Scope]


def _hash_key(key: str) -> str:
    # A random 256-bit key cannot be guessed, so a fast hash is enough and permits lookup by hash.
    return hashlib.sha256(key.encode()).hexdigest()


async def issue_partner_key(session: AsyncSession, name: str, scopes: list[str]) -> IssuedKey:
    parsed = parse_scopes(scopes)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = PartnerKey(
        name=name, key_hash=_hash_key(key), last4=key[-4:], scopes=[s.value for s in parsed], created_at=utcnow()
    )
    session.add(row)
    await session.flush()
    assert row.id is not None
    return IssuedKey(row.id, name, key, parsed)


async def find_partner_key(session: AsyncSession, key: str) -> PartnerKey | None:
    row = (await session.exec(select(PartnerKey).where(PartnerKey.key_hash == _hash_key(key)))).first()
    return None if row is None or row.revoked_at is not None else row


async def create_staff(session: AsyncSession, email: str, password: str, roles: list[str]) -> StaffUser:
    parsed: list[Role] = parse_roles(roles)
    if len(password) < 12:
        raise ValueError("staff passwords need at least 12 characters")
    user = StaffUser(
        email=email.strip().lower(),
        password_hash=_passwords.hash(password),
        roles=[r.value for r in parsed],
        created_at=utcnow(),
    )
    session.add(user)
    await session.flush()
    return user


async def verify_staff(session: AsyncSession, email: str, password: str) -> StaffUser | None:
    user = (await session.exec(select(StaffUser).where(StaffUser.email == email.strip().lower()))).first()
    if user is None or user.disabled_at is not None:
        _passwords.hash(password)  # same cost whether or not the account exists
        return None
    return user if _passwords.verify(password, user.password_hash) else None
