"""Registering shops and setting their credentials (admin), and the channel refusing them (the confirmation job)."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.columns import check_text
from domain.errors import Problems, UserError
from domain.i18n import msg
from domain.intake.vault import Vault
from domain.orders.channels import parse_channel
from domain.outbox.service import Outbox
from domain.pull.models import ShopPull
from domain.shops.credentials import FIELD_NAMES, Credentials, fingerprint, seal
from domain.shops.errors import ShopErrorCode
from domain.shops.models import Shop

PULL_SHOP_JOB = "pull_shop"
"""The job that pulls one shop's orders from its channel now (workers/pull_jobs.py)."""
CREDENTIALS_REFUSED_JOB = "alert_refused_credentials"
"""The outbox job that tells people, once per refusal, that a shop's credentials stopped working."""

REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "TAOBAO": ("app_key", "app_secret", "access_token"),
    "TMALL": ("app_key", "app_secret", "access_token"),
    "DOUYIN": ("app_key", "app_secret", "access_token"),
    "WECHAT_CHANNELS": ("access_token",),
    "AMAZON": ("access_token", "marketplace_id"),
}
"""What each channel's calls sign with: credentials missing any of these would only be refused by the channel."""

PULLED_CHANNELS = frozenset({"TAOBAO", "TMALL", "DOUYIN", "AMAZON"})
"""Channels whose orders orderhub can pull (domain/pull/channels.py); WeChat Channels pushes every change."""


async def create_shop(session: AsyncSession, channel: str, code: str, name: str) -> Shop:
    problems = Problems()
    parsed = parse_channel(channel)
    if parsed is None:
        problems.add(
            ("channel",), msg("unknown channel {channel}", channel=repr(channel)), ShopErrorCode.UNKNOWN_CHANNEL
        )
    code, name = code.strip(), name.strip()
    for field, value, column in (("code", code, col(Shop.code)), ("name", name, col(Shop.name))):
        if not value:
            problems.add((field,), msg("required"), ShopErrorCode.REQUIRED)
        check_text(problems, (field,), value, column)
    problems.raise_if_any()
    assert parsed is not None
    taken = await session.exec(select(Shop.id).where(Shop.channel == parsed.value, Shop.code == code))
    if taken.first() is not None:
        raise UserError.one(
            ("code",),
            msg("{channel} already has a shop {code}", channel=parsed.value, code=repr(code)),
            ShopErrorCode.DUPLICATE,
        )
    shop = Shop(channel=parsed.value, code=code, name=name, created_at=utcnow())
    session.add(shop)
    await session.flush()
    return shop


async def set_credentials(session: AsyncSession, vault: Vault, shop_id: int, given: Credentials, actor: str) -> Shop:
    """Replaces the shop's credentials whole and clears a refusal: the next call tries the new ones."""
    shop = await session.get(Shop, shop_id)
    if shop is None:
        raise UserError.one(("shop_id",), msg("no shop {shop_id}", shop_id=shop_id), ShopErrorCode.NOT_FOUND)
    problems = Problems()
    cleaned = Credentials(**{name: getattr(given, name).strip() for name in FIELD_NAMES})
    for name in REQUIRED_FIELDS.get(shop.channel, ()):
        if not getattr(cleaned, name):
            problems.add((name,), msg("{channel} calls need it", channel=shop.channel), ShopErrorCode.REQUIRED)
    for name in FIELD_NAMES:
        check_text(problems, (name,), getattr(cleaned, name), 2000)
    problems.raise_if_any()
    values = {
        "credentials": seal(vault, cleaned), "credentials_fingerprint": fingerprint(cleaned),
        "credentials_set_at": utcnow(), "credentials_set_by": actor[:200],
        "credentials_refused_at": None, "credentials_refusal": None,
    }  # fmt: skip
    await session.exec(update(Shop).where(col(Shop.id) == shop_id).values(**values))
    for name, value in values.items():
        set_committed_value(shop, name, value)
    return shop


async def refuse_credentials(session: AsyncSession, outbox: Outbox, shop_id: int, reason: str) -> bool:
    """Marks the credentials refused until new ones are set. Only the first refusal alerts: the guarded update
    succeeds once however many calls the channel refused meanwhile."""
    statement = (
        update(Shop)
        .where(col(Shop.id) == shop_id, col(Shop.credentials_refused_at).is_(None))
        .values(credentials_refused_at=utcnow(), credentials_refusal=reason[:2000])
    )
    refused = (await session.exec(statement)).rowcount == 1
    if refused:
        outbox.enqueue(CREDENTIALS_REFUSED_JOB, {"shop_id": shop_id})
    return refused


async def list_shops(session: AsyncSession, after_id: int | None, limit: int) -> list[Shop]:
    query = select(Shop).order_by(col(Shop.id)).limit(limit)
    if after_id is not None:
        query = query.where(col(Shop.id) > after_id)
    return list((await session.exec(query)).all())


async def set_pull(session: AsyncSession, outbox: Outbox, shop_id: int, enabled: bool | None) -> ShopPull:
    """Turns the shop's scheduled channel pull on or off (None: leaves it), and, when it is on, queues a pull
    now, after commit. A shop without credentials is accepted: its pulls wait for them."""
    shop = await session.get(Shop, shop_id)
    if shop is None:
        raise UserError.one(("shop_id",), msg("no shop {shop_id}", shop_id=shop_id), ShopErrorCode.NOT_FOUND)
    if shop.channel not in PULLED_CHANNELS:
        raise UserError.one(
            ("shop_id",),
            msg("{channel} pushes every order: nothing to pull", channel=shop.channel),
            ShopErrorCode.INVALID,
        )
    row = await session.get(ShopPull, shop_id)
    if row is None:
        row = ShopPull(shop_id=shop_id, enabled=True if enabled is None else enabled)
        session.add(row)
    elif enabled is not None:
        row.enabled = enabled
    await session.flush()
    if row.enabled:
        outbox.enqueue(PULL_SHOP_JOB, {"shop_id": shop_id})
        await outbox.flush(session)
    return row
