"""Which buyer a sign-in is: by phone (the buyer UID, under whichever identity key already knows it), or by
channel accounts (platform buyer ids, openids, unionids), which become aliases of the buyer they resolve to.

An account orderhub has never seen gets a UID of its own, keyed from the account itself, so a buyer of a
WeChat mini-program can sign in before a phone ever names them. Signing in with accounts also claims the
orders that carry them and no buyer yet (phone-less Douyin and WeChat Channels orders): those become the
buyer's. An order that already has a buyer is never moved to another.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.errors import Problem
from domain.i18n import msg
from domain.identity.models import AliasKind, BuyerAlias, BuyerChannel
from domain.identity.service import DEFAULT_ALIAS_KIND, BuyerIdentity
from domain.orders.models import Order
from domain.signin.errors import SignInErrorCode
from domain.signin.models import CustomerSession
from domain.sql import dialect

Account = tuple[str, str]
"""(alias kind, platform id), as identity stores aliases."""

CLAIMING_CHANNELS: dict[str, frozenset[str]] = {
    AliasKind.WECHAT_UNIONID: frozenset({"WECHAT_MINI", "WECHAT_CHANNELS", "DOUYIN"}),
    AliasKind.WECHAT_OPENID: frozenset({"WECHAT_MINI", "WECHAT_CHANNELS"}),
    **{
        kind: frozenset(c for c, k in DEFAULT_ALIAS_KIND.items() if k == kind)
        for kind in (AliasKind.TAOBAO_OPEN_UID, AliasKind.DOUYIN_OPEN_ID, AliasKind.AMAZON_BUYER_ID)
    },
}
"""Channels whose orders name a buyer by this kind of id in `platform_buyer_id`: a unionid is shared by every
app of the merchant's WeChat open platform account, Douyin included when it passes the unionid along."""


@dataclass(frozen=True)
class Buyer:
    uid: str
    key_version: int


ACCOUNT_ID_LENGTH = 200
"""As long as an alias may be (`buyer_alias.value`)."""


def channel_accounts(
    channel: str, buyer_id: str | None, openid: str | None, unionid: str | None
) -> list[Account] | list[Problem]:
    """A buyer's accounts on one channel, in order of trust (a unionid spans the merchant's WeChat apps)."""
    problems: list[Problem] = []
    found: list[Account] = []
    named = (("unionid", AliasKind.WECHAT_UNIONID.value, unionid), ("openid", AliasKind.WECHAT_OPENID.value, openid))
    default = DEFAULT_ALIAS_KIND.get(channel)
    for name, kind, raw in (*named, ("buyer_id", default.value if default else None, buyer_id)):
        value = (raw or "").strip()
        if not value:
            continue
        at = ("account", name)
        if kind is None:
            problems.append(
                Problem(
                    at,
                    msg("channel {channel} has no platform buyer id", channel=channel),
                    SignInErrorCode.INVALID_ACCOUNT,
                )
            )
        elif len(value) > ACCOUNT_ID_LENGTH or "\x00" in value:
            message = msg("at most {limit} characters, no NUL", limit=ACCOUNT_ID_LENGTH)
            problems.append(Problem(at, message, SignInErrorCode.INVALID_ACCOUNT))
        else:
            found.append((kind, value))
    if not found and not problems:
        message = msg("give the buyer's buyerId, openid or unionid on the channel")
        problems.append(Problem(("account",), message, SignInErrorCode.INVALID_ACCOUNT))
    return problems or found


async def buyer_for_phone(session: AsyncSession, identity: BuyerIdentity, phone: str) -> Buyer | Problem:
    """The same UID the buyer's orders carry; the answer is the same whether or not any order does."""
    key = identity.key_for_phone(phone)
    if key.uid is None or key.key_version is None:
        return Problem(
            ("phone",),
            msg("not a usable mobile number ({problem})", problem=key.problem),
            SignInErrorCode.INVALID_PHONE,
        )
    if len(key.candidates) > 1:
        known = await _known(session, key.candidates)
        for uid, version in zip(key.candidates, [k.version for k in identity.keys], strict=True):
            if uid in known:
                return Buyer(uid, version)
    return Buyer(key.uid, key.key_version)


async def _known(session: AsyncSession, uids: Sequence[str]) -> set[str]:
    channels = select(BuyerChannel.uid).where(col(BuyerChannel.uid).in_(uids))
    sessions = select(CustomerSession.buyer_uid).where(col(CustomerSession.buyer_uid).in_(uids))
    return set((await session.exec(channels)).all()) | set((await session.exec(sessions)).all())


def account_uid(identity: BuyerIdentity, account: Account) -> str:
    """The UID of a buyer known only by an account: keyed like a phone's, in a namespace of its own."""
    kind, value = account
    return hmac.new(identity.current.secret, f"uid:v1:alias:{kind}:{value}".encode(), hashlib.sha256).hexdigest()


async def buyer_for_accounts(session: AsyncSession, identity: BuyerIdentity, accounts: Sequence[Account]) -> Buyer:
    """The buyer the first known account belongs to (the accounts in order of trust: a unionid before an
    openid), else a new buyer keyed from the first account; the unknown accounts become its aliases."""
    assert accounts, "at least one account"
    owners = await _owners(session, accounts)
    owner = next((owners[a] for a in accounts if a in owners), None)
    buyer = owner or Buyer(account_uid(identity, accounts[0]), identity.current.version)
    new = [a for a in dict.fromkeys(accounts) if a not in owners]
    if new:
        table = BuyerAlias.__table__  # type: ignore[attr-defined]
        insert_fn = pg_insert if dialect(session) == "postgresql" else sqlite_insert
        now = utcnow()
        rows = [
            {
                "kind": k,
                "value": v,
                "uid": buyer.uid,
                "key_version": buyer.key_version,
                "order_id": None,
                "created_at": now,
            }
            for k, v in new
        ]
        await session.execute(insert_fn(table).on_conflict_do_nothing(index_elements=["kind", "value"]), rows)
    await _claim_orders(session, buyer, accounts)
    return buyer


async def _owners(session: AsyncSession, accounts: Sequence[Account]) -> dict[Account, Buyer]:
    query = select(BuyerAlias.kind, BuyerAlias.value, BuyerAlias.uid, BuyerAlias.key_version).where(
        col(BuyerAlias.kind).in_({k for k, _ in accounts}), col(BuyerAlias.value).in_({v for _, v in accounts})
    )
    wanted = set(accounts)
    return {(k, v): Buyer(u, n) for k, v, u, n in (await session.exec(query)).all() if (k, v) in wanted}


async def _claim_orders(session: AsyncSession, buyer: Buyer, accounts: Sequence[Account]) -> None:
    for kind, value in accounts:
        channels = CLAIMING_CHANNELS.get(kind, frozenset())
        if not channels:
            continue
        await session.exec(
            update(Order)
            .where(
                col(Order.buyer_uid).is_(None),
                col(Order.platform_buyer_id) == value,
                col(Order.channel).in_(channels),
            )
            .values(buyer_uid=buyer.uid, buyer_key_version=buyer.key_version, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
