"""Who is calling: resolved once per request from its headers (or websocket connection params)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import HTTPConnection

from api.auth.tokens import TokenInvalid, decode_token
from domain.access.service import active_staff, find_partner_key
from domain.i18n import Message, msg
from domain.signin.sessions import is_live

NO_CREDENTIALS = msg("no credentials")


@dataclass(frozen=True)
class Anonymous:
    reason: Message = NO_CREDENTIALS  # what the caller is told, in their language


@dataclass(frozen=True)
class Customer:
    buyer_uid: str
    session: str | None = None
    """The sign-in the token belongs to (domain/signin); None for tokens minted by the command line."""


@dataclass(frozen=True)
class Partner:
    key_id: int
    name: str
    scopes: frozenset[str]
    channels: frozenset[str] | None = None
    """The sales channels the key serves; None: every channel."""


@dataclass(frozen=True)
class Staff:
    user_id: int
    email: str
    roles: frozenset[str]
    language: str | None = None


Principal = Anonymous | Customer | Partner | Staff

SESSIONS_REMEMBERED = 100_000


class Accounts:
    """The credential store as one process sees it. A staff token only says who signed in: whether
    that account may still act, and with which roles, is read from the database at most once per
    `ttl_s` per account and process, so a disabled or demoted account loses its access within
    `ttl_s`, not when its token expires hours later."""

    def __init__(self, sessions: Callable[[], AsyncSession], ttl_s: float, session_ttl_s: float = 0) -> None:
        self.sessions = sessions
        self.ttl_s = ttl_s
        self.session_ttl_s = session_ttl_s
        self._seen: dict[int, tuple[float, Staff | None]] = {}
        self._sessions: dict[str, tuple[float, bool]] = {}

    async def current(self, user_id: int) -> Staff | None:
        """The account's principal now; None when it is disabled or gone."""
        now = time.monotonic()
        cached = self._seen.get(user_id)
        if cached is not None and now - cached[0] < self.ttl_s:
            return cached[1]
        async with self.sessions() as session:
            user = await active_staff(session, user_id)
        staff = None if user is None else Staff(user_id, user.email, frozenset(user.roles), user.language)
        if self.ttl_s > 0:
            self._seen[user_id] = (now, staff)
        return staff

    def forget(self, user_id: int) -> None:
        self._seen.pop(user_id, None)

    async def signed_in(self, family: str) -> bool:
        """Whether a customer sign-in still stands, read at most once per `session_ttl_s` per sign-in and
        process: the process that revokes it forgets at once, the others within `session_ttl_s`."""
        ttl_s = self.session_ttl_s
        now = time.monotonic()
        cached = self._sessions.get(family)
        if cached is not None and now - cached[0] < ttl_s:
            return cached[1]
        async with self.sessions() as session:
            live = await is_live(session, family)
        if ttl_s > 0:
            if len(self._sessions) > SESSIONS_REMEMBERED:
                self._sessions.clear()
            self._sessions[family] = (now, live)
        return live

    def forget_session(self, family: str) -> None:
        self._sessions.pop(family, None)


def accounts_of(connection: HTTPConnection) -> Accounts:
    """One per application (process), built with it."""
    accounts: Accounts = connection.app.state.accounts
    return accounts


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


async def partner_of(session: AsyncSession, key: str) -> Partner | Anonymous:
    """The partner an API key stands for, read in the caller's session (a recorded request's own)."""
    row = await find_partner_key(session, key)
    if row is None or row.id is None:
        return Anonymous(msg("invalid API key"))
    channels = None if row.channels is None else frozenset(row.channels)
    return Partner(row.id, row.name, frozenset(row.scopes), channels)


async def authenticate(headers: Mapping[str, str], token_secret: str, accounts: Accounts) -> Principal:
    key = api_key_of(headers)
    if key is not None:
        async with accounts.sessions() as session:
            return await partner_of(session, key)
    token = bearer_of(headers)
    if token is None:
        return Anonymous()
    try:
        claims = decode_token(token_secret, token)
    except TokenInvalid as exc:
        return Anonymous(exc.reason)
    if claims["typ"] == "customer":
        family = claims.get("sid")
        if family is None:
            return Customer(str(claims["sub"]))
        if not await accounts.signed_in(str(family)):
            return Anonymous(msg("signed out"))
        return Customer(str(claims["sub"]), str(family))
    if claims["typ"] == "staff":
        staff = await accounts.current(int(str(claims["sub"])))
        return Anonymous(msg("staff account disabled")) if staff is None else staff
    return Anonymous(msg("unknown token type"))
