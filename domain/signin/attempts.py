"""The record of sign-in requests: what was asked, from where, and what became of it."""

from __future__ import annotations

import hashlib
import hmac

from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.identity.masking import mask_phones
from domain.signin.models import SignInAttempt

OK = "OK"


def subject_key(key: bytes, kind: str, value: str) -> str:
    """Who tried, as a keyed hash: the same phone or openid gives the same subject, and the record gives
    neither away."""
    return hmac.new(key, f"signin:v1:{kind}:{value}".encode(), hashlib.sha256).hexdigest()


async def record_attempt(
    session: AsyncSession, action: str, outcome: str, subject: str | None, address: str | None, detail: str | None
) -> None:
    session.add(
        SignInAttempt(
            action=action,
            outcome=outcome,
            subject=subject,
            address=(address or "")[:64] or None,
            detail=mask_phones(detail or "")[:300] or None,  # a provider's answer may quote the number
            created_at=utcnow(),
        )
    )
    await session.flush()
