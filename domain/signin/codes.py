"""One-time sign-in codes sent by SMS: six digits, good for one sign-in within their lifetime and a few tries.

A code is stored as a keyed hash beside the phone's keyed hash: six digits hashed without a key are
reversed by trying a million values. Only the latest code of a phone counts; a new request voids the
previous one, and a code whose SMS could not be sent is voided before the answer goes back.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.errors import Problem
from domain.i18n import Message, msg
from domain.signin.errors import SignInErrorCode
from domain.signin.models import SignInCode

CODE_DIGITS = 6


def code_hash(key: bytes, phone_key: str, code: str) -> str:
    return hmac.new(key, f"code:v1:{phone_key}:{code}".encode(), hashlib.sha256).hexdigest()


def new_code_text() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


async def issue_code(session: AsyncSession, key: bytes, phone_key: str, code: str, lifetime_s: int) -> int:
    """Stores `code` as the phone's only valid one; returns its id (to void it if the SMS fails)."""
    now = utcnow()
    await session.exec(
        update(SignInCode)
        .where(
            col(SignInCode.phone_key) == phone_key,
            col(SignInCode.used_at).is_(None),
            col(SignInCode.void_reason).is_(None),
        )
        .values(void_reason="SUPERSEDED")
        .execution_options(synchronize_session=False)
    )
    row = SignInCode(
        phone_key=phone_key,
        code_hash=code_hash(key, phone_key, code),
        created_at=now,
        expires_at=now + timedelta(seconds=lifetime_s),
    )
    session.add(row)
    await session.flush()
    assert row.id is not None
    return row.id


async def void_code(session: AsyncSession, code_id: int, reason: str) -> None:
    row = await session.get(SignInCode, code_id)
    if row is not None and row.void_reason is None:
        row.void_reason = reason
        session.add(row)
        await session.flush()


def _refused(message: Message, code: SignInErrorCode) -> Problem:
    return Problem(("code",), message, code)


async def redeem_code(
    session: AsyncSession, key: bytes, phone_key: str, code: str, max_attempts: int
) -> Problem | None:
    """None when `code` signs the phone in (and is spent). A refusal is returned, not raised: the attempt it
    counts must commit with it. A phone that never asked for a code is refused like a wrong code."""
    query = (
        select(SignInCode)
        .where(SignInCode.phone_key == phone_key, col(SignInCode.void_reason).is_(None))
        .order_by(col(SignInCode.created_at).desc(), col(SignInCode.id).desc())
        .limit(1)
    )
    row = (await session.exec(query)).first()
    offered = code_hash(key, phone_key, code.strip())
    if row is None:
        return _refused(msg("wrong code"), SignInErrorCode.INVALID_CODE)
    if row.used_at is not None:
        if hmac.compare_digest(row.code_hash, offered):
            return _refused(msg("this code was already used; request a new one"), SignInErrorCode.CODE_ALREADY_USED)
        return _refused(msg("wrong code"), SignInErrorCode.INVALID_CODE)
    if row.attempts >= max_attempts:
        return _refused(msg("too many wrong codes; request a new one"), SignInErrorCode.TOO_MANY_ATTEMPTS)
    if row.expires_at <= utcnow():
        return _refused(msg("code expired; request a new one"), SignInErrorCode.CODE_EXPIRED)
    # Counted by a guarded update, so that parallel guesses cannot share one attempt.
    counted = await session.exec(
        update(SignInCode)
        .where(col(SignInCode.id) == row.id, col(SignInCode.attempts) < max_attempts, col(SignInCode.used_at).is_(None))
        .values(attempts=SignInCode.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if counted.rowcount != 1:
        return _refused(msg("too many wrong codes; request a new one"), SignInErrorCode.TOO_MANY_ATTEMPTS)
    if not hmac.compare_digest(row.code_hash, offered):
        left = max_attempts - row.attempts - 1
        return _refused(msg("wrong code ({left} tries left)", left=left), SignInErrorCode.INVALID_CODE)
    used = await session.exec(
        update(SignInCode)
        .where(col(SignInCode.id) == row.id, col(SignInCode.used_at).is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:
        return _refused(msg("this code was already used; request a new one"), SignInErrorCode.CODE_ALREADY_USED)
    return None
