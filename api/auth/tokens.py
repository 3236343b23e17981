"""Signed, expiring bearer tokens for customers (bound to one buyer UID) and staff (with roles)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from domain.clock import utcnow
from domain.i18n import Message, msg

_ALGORITHM = "HS256"
_ISSUER = "orderhub"


class TokenInvalid(Exception):
    """`reason` is what the caller is told, in their language; str() is its English."""

    def __init__(self, reason: Message) -> None:
        super().__init__(str(reason))
        self.reason = reason


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


def issue_customer_token(secret: str, buyer_uid: str, minutes: int, session: str | None = None) -> IssuedToken:
    """`session`: the sign-in (refresh token family) the token belongs to, checked against revocation on every
    use. Tokens minted by `orderhub token customer` belong to none and live until they expire."""
    claims: dict[str, object] = {"typ": "customer", "sub": buyer_uid}
    if session is not None:
        claims["sid"] = session
    return _issue(secret, claims, minutes)


def issue_staff_token(secret: str, user_id: int, email: str, roles: list[str], minutes: int) -> IssuedToken:
    return _issue(secret, {"typ": "staff", "sub": str(user_id), "email": email, "roles": roles}, minutes)


def _issue(secret: str, claims: dict[str, object], minutes: int) -> IssuedToken:
    now = utcnow()
    expires = now + timedelta(minutes=minutes)
    payload = {**claims, "iss": _ISSUER, "iat": now, "exp": expires}
    return IssuedToken(jwt.encode(payload, secret, algorithm=_ALGORITHM), expires)


def decode_token(secret: str, token: str) -> dict[str, object]:
    try:
        claims: dict[str, object] = jwt.decode(
            token, secret, algorithms=[_ALGORITHM], issuer=_ISSUER, options={"require": ["exp", "sub", "typ"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenInvalid(msg("token expired")) from exc
    except jwt.InvalidTokenError as exc:
        raise TokenInvalid(msg("token invalid")) from exc
    return claims
