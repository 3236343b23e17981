"""Who is calling: resolved once per request from its headers (or websocket connection params)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from api.auth.tokens import TokenInvalid, decode_token
from domain.access.service import find_partner_key


@dataclass(frozen=True)
class Anonymous:
    reason: str = "no credentials"


@dataclass(frozen=True)
class Customer:
    buyer_uid: str


@dataclass(frozen=True)
class Partner:
    key_id: int
    name: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class Staff:
    user_id: int
    email: str
    roles: frozenset[str]


Principal = Anonymous | Customer | Partner | Staff


def api_key_of(headers: Mapping[str, str]) -> str | None:
    key = headers.get("x-api-key")
    if key:
        return key.strip()
    auth = headers.get("authorization", "")
    if auth.lower().startswith("apikey "):
        return auth[7:].strip()
    return None


def bearer_of(headers: Mapping[str, str]) -> str | None:
    auth = headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else None


async def authenticate(
    headers: Mapping[str, str], token_secret: str, sessions: async_sessionmaker[AsyncSession]
) -> Principal:
    key = api_key_of(headers)
    if key is not None:
        async with sessions() as session:
            row = await find_partner_key(session, key)
        if row is None or row.id is None:
            return Anonymous("invalid API key")
        return Partner(row.id, row.name, frozenset(row.scopes))
    token = bearer_of(headers)
    if token is None:
        return Anonymous()
    try:
        claims = decode_token(token_secret, token)
    except TokenInvalid as exc:
        return Anonymous(str(exc))
    if claims["typ"] == "customer":
        return Customer(str(claims["sub"]))
    if claims["typ"] == "staff":
        roles = claims.get("roles")
        return Staff(
            int(str(claims["sub"])), str(claims.get("email", "")), frozenset(roles if isinstance(roles, list) else [])
        )
    return Anonymous("unknown token type")
