"""Customer sign-ins as families of refresh tokens.

Each sign-in (whichever of the three ways) starts a family; each refresh spends its token and issues the
next one of the same family. A spent token presented again means two holders (the customer and a thief,
in some order), so the whole family is revoked: both lose their access and the customer signs in again.
Access tokens carry the family, so a revocation stops them at once, and API processes close the buyer's
websockets of that family when the revocation is published after commit.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.access.service import ACCESS_TOPIC
from domain.clock import utcnow
from domain.errors import Problem
from domain.i18n import Message, msg
from domain.outbox.service import Outbox
from domain.signin.errors import SignInErrorCode
from domain.signin.models import CustomerSession, RefreshToken, SignInMethod

REFRESH_PREFIX = "ohr_"


@dataclass(frozen=True)
class Grant:
    """What every way of signing in ends with, before the access token is signed."""

    family: str
    buyer_uid: str
    refresh_token: str
    refresh_expires_at: datetime


def token_hash(token: str) -> str:
    # A random 256-bit token cannot be guessed, so a fast hash is enough and permits lookup by hash.
    return hashlib.sha256(token.encode()).hexdigest()


async def start_session(
    session: AsyncSession, buyer_uid: str, key_version: int, method: SignInMethod, refresh_days: int
) -> Grant:
    row = CustomerSession(
        family=secrets.token_hex(16), buyer_uid=buyer_uid, key_version=key_version, method=method, created_at=utcnow()
    )
    session.add(row)
    await session.flush()
    return await _next_token(session, row, refresh_days)


async def _next_token(session: AsyncSession, family: CustomerSession, refresh_days: int) -> Grant:
    assert family.id is not None
    token = REFRESH_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    expires = now + timedelta(days=refresh_days)
    session.add(RefreshToken(session_id=family.id, token_hash=token_hash(token), created_at=now, expires_at=expires))
    await session.flush()
    return Grant(family.family, family.buyer_uid, token, expires)


def _refused(message: Message, code: SignInErrorCode) -> Problem:
    return Problem(("refresh_token",), message, code)


async def rotate(session: AsyncSession, token: str, refresh_days: int, outbox: Outbox) -> Grant | Problem:
    """The next token of the family, or why not. A refusal is returned, not raised: revoking a family on
    reuse must commit with the refusal, where a raised error would roll it back."""
    row = None
    if token.startswith(REFRESH_PREFIX):
        row = (await session.exec(select(RefreshToken).where(RefreshToken.token_hash == token_hash(token)))).first()
    if row is None:
        return _refused(msg("unknown refresh token"), SignInErrorCode.INVALID_REFRESH_TOKEN)
    family = await session.get(CustomerSession, row.session_id)
    assert family is not None
    if family.revoked_at is not None:
        return _refused(msg("this sign-in was ended; sign in again"), SignInErrorCode.SESSION_REVOKED)
    now = utcnow()
    if row.spent_at is None and row.expires_at <= now:
        return _refused(msg("refresh token expired; sign in again"), SignInErrorCode.REFRESH_TOKEN_EXPIRED)
    # Spent by a guarded update: of two requests racing with the same token, exactly one wins.
    spend = (
        update(RefreshToken)
        .where(col(RefreshToken.id) == row.id, col(RefreshToken.spent_at).is_(None))
        .values(spent_at=now)
        .execution_options(synchronize_session=False)
    )
    spent = (await session.exec(spend)).rowcount
    if spent != 1:
        await revoke(session, family, "REFRESH_REUSED", outbox)
        return _refused(msg("refresh token used twice; this sign-in was ended"), SignInErrorCode.REFRESH_TOKEN_REUSED)
    return await _next_token(session, family, refresh_days)


async def revoke(session: AsyncSession, family: CustomerSession, reason: str, outbox: Outbox) -> None:
    """Its access tokens stop at once, and its open websockets close once the revocation is published."""
    if family.revoked_at is None:
        family.revoked_at, family.revoked_reason = utcnow(), reason
        session.add(family)
        await session.flush()
    outbox.publish(ACCESS_TOPIC, {"customer_session": family.family})
    await outbox.flush(session)


async def find_session(session: AsyncSession, family: str) -> CustomerSession | None:
    return (await session.exec(select(CustomerSession).where(CustomerSession.family == family))).first()


async def sign_out(session: AsyncSession, family: str, outbox: Outbox) -> bool:
    """False when there is no such sign-in (a token minted by the command line has none)."""
    row = await find_session(session, family)
    if row is None:
        return False
    await revoke(session, row, "SIGNED_OUT", outbox)
    return True


async def is_live(session: AsyncSession, family: str) -> bool:
    """Whether access tokens of this sign-in may still act: it exists and was not revoked."""
    query = select(CustomerSession.id, CustomerSession.revoked_at).where(CustomerSession.family == family)
    row = (await session.exec(query)).first()
    return row is not None and row[1] is None


async def family_of(session: AsyncSession, refresh_token: str) -> str | None:
    """The sign-in a refresh token (spent or not) belongs to: a client whose access token expired signs out
    with its refresh token."""
    query = (
        select(CustomerSession.family)
        .join(RefreshToken, col(RefreshToken.session_id) == col(CustomerSession.id))
        .where(RefreshToken.token_hash == token_hash(refresh_token))
    )
    return (await session.exec(query)).first()
