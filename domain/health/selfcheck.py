"""The self-check: what a new merchant should fix first, read from the real configuration and data.

One ratio (orders shipped without a tracking number) and ten checks, each pass or fail with a one-line fix.
Every check reads the settings in force or the database as it is; the alert robot is probed over the network
by a function the caller passes in, since the domain knows nothing of HTTP. Its text is rendered when it runs,
in the language of the work at hand (the caller's, or the merchant's for the CLI); the keys stay the same.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import case, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.access.models import PartnerKey
from domain.access.policy import Scope
from domain.channels.models import ChannelIntake, SchemaBaseline
from domain.clock import as_utc, shown, zone
from domain.fulfilment.rule import current_rule
from domain.health.metrics import measure
from domain.health.thresholds import Metric, current_thresholds, is_healthy
from domain.health.windows import Window
from domain.i18n import tr
from domain.ledger.providers.verdict import load_rsa_public_key
from domain.orders.models import Order, OrderEvent
from domain.orders.status import PHYSICAL_SOURCES, RULES, EventType, Source
from domain.reconcile.models import ReconRun, Statement
from domain.settings import Settings

WINDOW = timedelta(days=7)
SHIPPED_WITHOUT_TRACKING_LIMIT = 0.05
STATEMENT_MAX_AGE = timedelta(hours=24)
MIN_SECRET_CHARS = 32
MERGE_WINDOW_RANGE = (30, 3600)
WEAK_SECRETS = frozenset({"changeme", "change-me", "secret", "default", "password", "test", "dev", "orderhub"})

RobotProbe = Callable[[], Awaitable[list[tuple[str, str | None]]]]
"""Sends one message through each configured robot; (robot, failure or None) each, [] when none is configured."""


@dataclass(frozen=True)
class Check:
    key: str
    title: str
    passed: bool
    detail: str
    fix: str


@dataclass(frozen=True)
class Ratio:
    """Orders marked shipped in the window, and those of them without a tracking number."""

    shipped: int
    without_tracking: int
    limit: float = SHIPPED_WITHOUT_TRACKING_LIMIT

    @property
    def value(self) -> float | None:
        return None if self.shipped == 0 else self.without_tracking / self.shipped

    @property
    def healthy(self) -> bool:
        """No shipment in the window is no evidence of a problem."""
        value = self.value
        return value is None or value <= self.limit


@dataclass(frozen=True)
class Report:
    generated_at: datetime
    window_start: datetime
    shipped_without_tracking: Ratio
    zone: ZoneInfo  # the merchant's clock, which the human-readable report shows times on
    checks: list[Check] = field(default_factory=list)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    @property
    def passed(self) -> int:
        return len(self.checks) - len(self.failed)

    def as_dict(self) -> dict[str, Any]:
        ratio = self.shipped_without_tracking
        return {
            "generated_at": self.generated_at.isoformat(),
            "window": {"from": self.window_start.isoformat(), "to": self.generated_at.isoformat()},
            "shipped_without_tracking": {
                "shipped": ratio.shipped,
                "without_tracking": ratio.without_tracking,
                "ratio": ratio.value,
                "limit": ratio.limit,
                "healthy": ratio.healthy,
            },
            "checks": [asdict(c) for c in self.checks],
            "passed": self.passed,
            "failed": len(self.failed),
        }

    def json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=2)

    def markdown(self) -> str:
        ratio = self.shipped_without_tracking
        value = tr("n/a (nothing shipped)") if ratio.value is None else f"{ratio.value:.2%}"
        verdict = tr("OK") if ratio.healthy else tr("TOO HIGH")
        lines = [
            "# " + tr("orderhub self-check"),
            "",
            tr(
                "Generated {generated}; window {start} to {end}.",
                generated=shown(self.generated_at, self.zone),
                start=shown(self.window_start, self.zone),
                end=shown(self.generated_at, self.zone),
            ),
            "",
            "## " + tr("Shipped without a tracking number (last 7 days)"),
            "",
            tr(
                "{without} of {shipped} shipped orders: **{value}** (limit {limit}): **{verdict}**",
                without=ratio.without_tracking,
                shipped=ratio.shipped,
                value=value,
                limit=f"{ratio.limit:.0%}",
                verdict=verdict,
            ),
            "",
            "## " + tr("Configuration: {passed} of {total} pass", passed=self.passed, total=len(self.checks)),
            "",
            "| | " + tr("check") + " | " + tr("detail") + " | " + tr("fix") + " |",
            "| --- | --- | --- | --- |",
        ]
        for c in self.checks:
            mark = tr("PASS") if c.passed else tr("FAIL")
            lines.append(f"| {mark} | {_cell(c.title)} | {_cell(c.detail)} | {'' if c.passed else _cell(c.fix)} |")
        return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


async def run_selfcheck(session: AsyncSession, settings: Settings, now: datetime, probe: RobotProbe) -> Report:
    now = as_utc(now)
    since = now - WINDOW
    try:
        tz = settings.merchant_zone
    except (ZoneInfoNotFoundError, ValueError):  # the reconciliation check reports it; times show in UTC meanwhile
        tz = zone("UTC")
    checks = [
        await physical_outbound_sources(session),
        await shipped_rule(session),
        identity_key(settings),
        merge_window(settings),
        payment_providers(settings),
        await reconciliation(session, settings, tz),
        await statement_received(session, now, tz),
        await schema_baselines(session, since),
        await alert_robot(probe),
        await exception_closure(session, since, now),
    ]
    return Report(now, since, await shipped_without_tracking(session, since, now), tz, checks)


async def shipped_without_tracking(session: AsyncSession, since: datetime, now: datetime) -> Ratio:
    missing = or_(col(Order.tracking_number).is_(None), col(Order.tracking_number) == "")
    query = select(func.count(), func.coalesce(func.sum(case((missing, 1), else_=0)), 0)).where(
        col(Order.shipped_at) >= since, col(Order.shipped_at) < now
    )
    shipped, without = (await session.exec(query)).one()
    return Ratio(int(shipped), int(without))


async def physical_outbound_sources(session: AsyncSession) -> Check:
    """Three ways an outbound could be written by someone who did not move the parcel: the state machine's
    rule, a partner key that both sells and ships, and SHIPPED events already written by another source."""
    title = tr("Physical outbound writable only by warehouse/carrier scopes")
    problems = []
    shipped_sources = {s for r in RULES if r.event is EventType.ORDER_SHIPPED for s in r.sources}
    if shipped_sources - {Source.WMS, Source.CARRIER} or {Source.WMS, Source.CARRIER} != PHYSICAL_SOURCES:
        problems.append(
            tr("the state machine lets {sources} ship an order", sources=sorted(shipped_sources | PHYSICAL_SOURCES))
        )
    physical = {Scope.WMS_WRITE.value, Scope.CARRIER_WRITE.value}
    other = {Scope.ORDERS_WRITE.value, Scope.PAYMENTS_WRITE.value, Scope.CUSTOMERS_WRITE.value}
    keys = (await session.exec(select(PartnerKey).where(col(PartnerKey.revoked_at).is_(None)))).all()
    mixed = [f"{k.name} (…{k.last4})" for k in keys if physical & set(k.scopes) and other & set(k.scopes)]
    if mixed:
        problems.append(tr("keys that both sell and ship: {keys}", keys=", ".join(sorted(mixed))))
    query = select(func.count()).where(
        col(OrderEvent.type) == EventType.ORDER_SHIPPED.value,
        col(OrderEvent.source).not_in([s.value for s in PHYSICAL_SOURCES]),
    )
    foreign = int((await session.exec(query)).one())
    if foreign:
        problems.append(
            tr("{count} SHIPPED event(s) written by a source other than a warehouse or carrier", count=foreign)
        )
    return Check(
        "physical_outbound_sources",
        title,
        not problems,
        "; ".join(problems) or tr("only wms:write and carrier:write evidence ships an order"),
        tr("give warehouses and carriers their own keys (wms:write / carrier:write only) and revoke mixed keys"),
    )


async def shipped_rule(session: AsyncSession) -> Check:
    rule = await current_rule(session)
    problems = []
    if rule.version == 0:
        problems.append(tr("no stored rule: the built-in default applies and nobody has reviewed it"))
    if not rule.require_outbound_time:
        problems.append(tr("outbound evidence without a time is accepted"))
    if rule.min_minutes_after_request < 1:
        problems.append(tr("an outbound may come the same minute as the ship request"))
    return Check(
        "shipped_rule",
        tr("Shipping rule set"),
        not problems,
        "; ".join(problems)
        or tr(
            "v{version}: outbound time required, at least {minutes} min after request",
            version=rule.version,
            minutes=rule.min_minutes_after_request,
        ),
        tr("store the rule with changeShippedRule (admin): requireOutboundTime true, minMinutesAfterRequest >= 1"),
    )


def identity_key(settings: Settings) -> Check:
    configured = settings.identity_key.get_secret_value() if settings.identity_key else None
    if configured is None:
        problem = tr("not set: the key generated into the data directory is used")
    elif configured.strip().lower() in WEAK_SECRETS:
        problem = tr("set to a well-known default")
    elif len(configured) < MIN_SECRET_CHARS:
        problem = tr("shorter than {count} characters", count=MIN_SECRET_CHARS)
    else:
        problem = ""
    return Check(
        "identity_key",
        tr("Identity key set and not a default"),
        not problem,
        problem or tr("ORDERHUB_IDENTITY_KEY set, version {version}", version=settings.identity_key_version),
        tr("set ORDERHUB_IDENTITY_KEY to 32+ random characters kept outside the database (e.g. a secrets manager)"),
    )


def merge_window(settings: Settings) -> Check:
    low, high = MERGE_WINDOW_RANGE
    seconds = settings.merge_window_seconds
    ok = low <= seconds <= high
    return Check(
        "merge_window",
        tr("Merge window set"),
        ok,
        tr("{seconds} s", seconds=seconds)
        if ok
        else tr("{seconds} s: outside {low} to {high} s", seconds=seconds, low=low, high=high),
        tr(
            "set ORDERHUB_MERGE_WINDOW_SECONDS between {low} and {high} (300 groups repeat taps within 5 min)",
            low=low,
            high=high,
        ),
    )


def payment_providers(settings: Settings) -> Check:
    """At least one provider must be able to verify notifications, and none may be half configured."""
    ready: list[str] = []
    broken: list[str] = []
    wechat = (settings.wechatpay_platform_public_key_path, settings.wechatpay_platform_serial,
              settings.wechatpay_apiv3_key)  # fmt: skip
    if any(v is not None for v in wechat):
        path, serial, apiv3 = wechat
        problem = _key_problem(path) or ("" if serial else tr("no platform serial"))
        if apiv3 is None or len(apiv3.get_secret_value().encode()) != 32:
            problem = problem or tr("the APIv3 key must be 32 bytes")
        (broken if problem else ready).append(f"wechatpay{': ' + problem if problem else ''}")
    if settings.alipay_public_key_path is not None:
        problem = _key_problem(settings.alipay_public_key_path)
        (broken if problem else ready).append(f"alipay{': ' + problem if problem else ''}")
    for name, secret in sorted(settings.payment_webhook_secrets.items()):
        short = len(secret.get_secret_value()) < 16
        (broken if short else ready).append(f"{name}: {tr('secret shorter than 16 characters')}" if short else name)
    ok = bool(ready) and not broken
    parts = [
        tr("ready: {names}", names=", ".join(ready)) if ready else "",
        tr("broken: {names}", names=", ".join(broken)) if broken else "",
    ]
    detail = "; ".join(part for part in parts if part)
    return Check(
        "payment_providers",
        tr("Payment provider keys configured"),
        ok,
        detail or tr("no payment provider configured: notifications are refused"),
        tr("set ORDERHUB_WECHATPAY_* / ORDERHUB_ALIPAY_PUBLIC_KEY_PATH / ORDERHUB_PAYMENT_WEBHOOK_SECRETS completely"),
    )


def _key_problem(path: Any) -> str:
    if path is None:
        return tr("no platform public key")
    try:
        load_rsa_public_key(path)
    except (OSError, ValueError) as exc:
        return tr("public key unreadable ({reason})", reason=exc)
    return ""


async def reconciliation(session: AsyncSession, settings: Settings, tz: ZoneInfo) -> Check:
    problems = []
    folder = settings.statement_dir
    if folder is None:
        problems.append(tr("no statement folder"))
    elif not folder.is_dir() or not os.access(folder, os.R_OK | os.X_OK):
        problems.append(tr("{folder} is not a readable folder", folder=folder))
    try:
        zone(settings.merchant_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(tr("unknown time zone {zone}", zone=repr(settings.merchant_timezone)))
    if not 0 <= settings.reconcile_hour <= 23:
        problems.append(tr("hour {hour} is not 0 to 23", hour=settings.reconcile_hour))
    last = (await session.exec(select(func.max(ReconRun.started_at)).where(ReconRun.trigger == "cron"))).one()
    ran = tr("never") if last is None else shown(last, tz)
    found = (
        "; ".join(problems)
        if problems
        else tr(
            "daily at {hour}:00 {zone} from {folder}",
            hour=f"{settings.reconcile_hour:02d}",
            zone=settings.merchant_timezone,
            folder=folder,
        )
    )
    return Check(
        "reconciliation",
        tr("Reconciliation cron and statement folder configured"),
        not problems,
        tr("{found} (last cron run: {ran})", found=found, ran=ran),
        tr("set ORDERHUB_STATEMENT_DIR to the folder statements are dropped in, and run `orderhub worker`"),
    )


async def statement_received(session: AsyncSession, now: datetime, tz: ZoneInfo) -> Check:
    last = (await session.exec(select(func.max(Statement.received_at)))).one()
    fresh = last is not None and now - as_utc(last) <= STATEMENT_MAX_AGE
    return Check(
        "statement_received",
        tr("A statement received in the last 24 h"),
        fresh,
        tr("no statement ever received") if last is None else tr("last statement received {at}", at=shown(last, tz)),
        tr("download yesterday's bill into the statement folder, or upload it with uploadStatement"),
    )


async def schema_baselines(session: AsyncSession, since: datetime) -> Check:
    """Active = raw payloads of that channel and kind arrived in the window; each needs a pinned shape."""
    active = (
        await session.exec(
            select(ChannelIntake.channel, ChannelIntake.kind)
            .where(col(ChannelIntake.recorded_at) >= since)
            .group_by(col(ChannelIntake.channel), col(ChannelIntake.kind))
        )
    ).all()
    pinned = set(
        (
            await session.exec(
                select(SchemaBaseline.channel, SchemaBaseline.kind).where(col(SchemaBaseline.pinned_at).is_not(None))
            )
        ).all()
    )
    unpinned = sorted(f"{channel} {kind}" for channel, kind in active if (channel, kind) not in pinned)
    if not active:
        detail = tr("no channel payloads in the last 7 days")
    elif unpinned:
        detail = tr("not pinned: {kinds}", kinds=", ".join(unpinned))
    else:
        detail = tr("{count} active channel payload kind(s), all pinned", count=len(active))
    return Check(
        "schema_baselines",
        tr("Every active channel's schema baseline pinned"),
        not unpinned,
        detail,
        tr("review each learned shape and pin it with pinSchemaBaseline (admin or ops)"),
    )


async def alert_robot(probe: RobotProbe) -> Check:
    results = await probe()
    failures = [f"{name}: {failure}" for name, failure in results if failure is not None]
    if not results:
        detail = tr("no DingTalk or WeCom robot configured")
    elif failures:
        detail = "; ".join(failures)
    else:
        detail = tr("{robots} answered the probe", robots=", ".join(name for name, _ in results))
    return Check(
        "alert_robot",
        tr("Alert robot reachable"),
        bool(results) and not failures,
        detail,
        tr(
            "set a robot this host can reach on the console's Settings page, or in ORDERHUB_DINGTALK_WEBHOOK "
            "(+ _SECRET) or ORDERHUB_WECOM_WEBHOOK"
        ),
    )


async def exception_closure(session: AsyncSession, since: datetime, now: datetime) -> Check:
    """The health metric itself over the last 7 days, against the threshold an admin set."""
    [counts] = await measure(session, Metric.EXCEPTION_CLOSURE, Window(since, now), now, grouped=False)
    threshold = (await current_thresholds(session))[Metric.EXCEPTION_CLOSURE]
    numerator, denominator = counts.numerator, counts.denominator
    rate = None if denominator == 0 else numerator / denominator
    passed = rate is None or bool(is_healthy(Metric.EXCEPTION_CLOSURE, rate, threshold))
    detail = (
        tr("no exception due in the last 7 days")
        if rate is None
        else tr(
            "{resolved} of {due} resolved within 72 h: {rate}", resolved=numerator, due=denominator, rate=f"{rate:.1%}"
        )
    )
    return Check(
        "exception_closure",
        tr("Exception closure above {threshold}", threshold=f"{threshold:.0%}"),
        passed,
        detail,
        tr("assign open exceptions (orderExceptions, assignException) and resolve them within 72 h"),
    )
