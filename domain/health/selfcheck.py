"""The self-check: what a new merchant should fix first, read from the real configuration and data.

One ratio (orders shipped without a tracking number) and ten checks, each pass or fail with a one-line fix.
Every check reads the settings in force or the database as it is; the alert robot is probed over the network
by a function the caller passes in, since the domain knows nothing of HTTP.
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
        value = "n/a (nothing shipped)" if ratio.value is None else f"{ratio.value:.2%}"
        verdict = "OK" if ratio.healthy else "TOO HIGH"
        lines = [
            "# orderhub self-check",
            "",
            f"Generated {shown(self.generated_at, self.zone)}; window {shown(self.window_start, self.zone)} to "
            f"{shown(self.generated_at, self.zone)}.",
            "",
            "## Shipped without a tracking number (last 7 days)",
            "",
            f"{ratio.without_tracking} of {ratio.shipped} shipped orders: **{value}** "
            f"(limit {ratio.limit:.0%}): **{verdict}**",
            "",
            f"## Configuration: {self.passed} of {len(self.checks)} pass",
            "",
            "| | check | detail | fix |",
            "| --- | --- | --- | --- |",
        ]
        for c in self.checks:
            mark = "PASS" if c.passed else "FAIL"
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
    title = "Physical outbound writable only by warehouse/carrier scopes"
    problems = []
    shipped_sources = {s for r in RULES if r.event is EventType.ORDER_SHIPPED for s in r.sources}
    if shipped_sources - {Source.WMS, Source.CARRIER} or {Source.WMS, Source.CARRIER} != PHYSICAL_SOURCES:
        problems.append(f"the state machine lets {sorted(shipped_sources | PHYSICAL_SOURCES)} ship an order")
    physical = {Scope.WMS_WRITE.value, Scope.CARRIER_WRITE.value}
    other = {Scope.ORDERS_WRITE.value, Scope.PAYMENTS_WRITE.value, Scope.CUSTOMERS_WRITE.value}
    keys = (await session.exec(select(PartnerKey).where(col(PartnerKey.revoked_at).is_(None)))).all()
    mixed = [f"{k.name} (…{k.last4})" for k in keys if physical & set(k.scopes) and other & set(k.scopes)]
    if mixed:
        problems.append(f"keys that both sell and ship: {', '.join(sorted(mixed))}")
    query = select(func.count()).where(
        col(OrderEvent.type) == EventType.ORDER_SHIPPED.value,
        col(OrderEvent.source).not_in([s.value for s in PHYSICAL_SOURCES]),
    )
    foreign = int((await session.exec(query)).one())
    if foreign:
        problems.append(f"{foreign} SHIPPED event(s) written by a source other than a warehouse or carrier")
    return Check(
        "physical_outbound_sources",
        title,
        not problems,
        "; ".join(problems) or "only wms:write and carrier:write evidence ships an order",
        "give warehouses and carriers their own keys (wms:write / carrier:write only) and revoke mixed keys",
    )


async def shipped_rule(session: AsyncSession) -> Check:
    rule = await current_rule(session)
    problems = []
    if rule.version == 0:
        problems.append("no stored rule: the built-in default applies and nobody has reviewed it")
    if not rule.require_outbound_time:
        problems.append("outbound evidence without a time is accepted")
    if rule.min_minutes_after_request < 1:
        problems.append("an outbound may come the same minute as the ship request")
    return Check(
        "shipped_rule",
        "Shipping rule set",
        not problems,
        "; ".join(problems)
        or f"v{rule.version}: outbound time required, at least {rule.min_minutes_after_request} min after request",
        "store the rule with changeShippedRule (admin): requireOutboundTime true, minMinutesAfterRequest >= 1",
    )


def identity_key(settings: Settings) -> Check:
    configured = settings.identity_key.get_secret_value() if settings.identity_key else None
    if configured is None:
        problem = "not set: the key generated into the data directory is used"
    elif configured.strip().lower() in WEAK_SECRETS:
        problem = "set to a well-known default"
    elif len(configured) < MIN_SECRET_CHARS:
        problem = f"shorter than {MIN_SECRET_CHARS} characters"
    else:
        problem = ""
    return Check(
        "identity_key",
        "Identity key set and not a default",
        not problem,
        problem or f"ORDERHUB_IDENTITY_KEY set, version {settings.identity_key_version}",
        "set ORDERHUB_IDENTITY_KEY to 32+ random characters kept outside the database (e.g. a secrets manager)",
    )


def merge_window(settings: Settings) -> Check:
    low, high = MERGE_WINDOW_RANGE
    seconds = settings.merge_window_seconds
    ok = low <= seconds <= high
    return Check(
        "merge_window",
        "Merge window set",
        ok,
        f"{seconds} s" + ("" if ok else f": outside {low} to {high} s"),
        f"set ORDERHUB_MERGE_WINDOW_SECONDS between {low} and {high} (300 groups repeat taps within 5 min)",
    )


def payment_providers(settings: Settings) -> Check:
    """At least one provider must be able to verify notifications, and none may be half configured."""
    ready: list[str] = []
    broken: list[str] = []
    wechat = (settings.wechatpay_platform_public_key_path, settings.wechatpay_platform_serial,
              settings.wechatpay_apiv3_key)  # fmt: skip
    if any(v is not None for v in wechat):
        path, serial, apiv3 = wechat
        problem = _key_problem(path) or ("" if serial else "no platform serial")
        if apiv3 is None or len(apiv3.get_secret_value().encode()) != 32:
            problem = problem or "the APIv3 key must be 32 bytes"
        (broken if problem else ready).append(f"wechatpay{': ' + problem if problem else ''}")
    if settings.alipay_public_key_path is not None:
        problem = _key_problem(settings.alipay_public_key_path)
        (broken if problem else ready).append(f"alipay{': ' + problem if problem else ''}")
    for name, secret in sorted(settings.payment_webhook_secrets.items()):
        short = len(secret.get_secret_value()) < 16
        (broken if short else ready).append(f"{name}{': secret shorter than 16 characters' if short else ''}")
    ok = bool(ready) and not broken
    parts = [f"ready: {', '.join(ready)}" if ready else "", f"broken: {', '.join(broken)}" if broken else ""]
    detail = "; ".join(part for part in parts if part)
    return Check(
        "payment_providers",
        "Payment provider keys configured",
        ok,
        detail or "no payment provider configured: notifications are refused",
        "set ORDERHUB_WECHATPAY_* / ORDERHUB_ALIPAY_PUBLIC_KEY_PATH / ORDERHUB_PAYMENT_WEBHOOK_SECRETS completely",
    )


def _key_problem(path: Any) -> str:
    if path is None:
        return "no platform public key"
    try:
        load_rsa_public_key(path)
    except (OSError, ValueError) as exc:
        return f"public key unreadable ({exc})"
    return ""


async def reconciliation(session: AsyncSession, settings: Settings, tz: ZoneInfo) -> Check:
    problems = []
    folder = settings.statement_dir
    if folder is None:
        problems.append("no statement folder")
    elif not folder.is_dir() or not os.access(folder, os.R_OK | os.X_OK):
        problems.append(f"{folder} is not a readable folder")
    try:
        zone(settings.merchant_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"unknown time zone {settings.merchant_timezone!r}")
    if not 0 <= settings.reconcile_hour <= 23:
        problems.append(f"hour {settings.reconcile_hour} is not 0 to 23")
    last = (await session.exec(select(func.max(ReconRun.started_at)).where(ReconRun.trigger == "cron"))).one()
    ran = "never" if last is None else shown(last, tz)
    return Check(
        "reconciliation",
        "Reconciliation cron and statement folder configured",
        not problems,
        "; ".join(problems) + f" (last cron run: {ran})"
        if problems
        else f"daily at {settings.reconcile_hour:02d}:00 {settings.merchant_timezone} from {folder}"
        f" (last cron run: {ran})",
        "set ORDERHUB_STATEMENT_DIR to the folder statements are dropped in, and run `orderhub worker`",
    )


async def statement_received(session: AsyncSession, now: datetime, tz: ZoneInfo) -> Check:
    last = (await session.exec(select(func.max(Statement.received_at)))).one()
    fresh = last is not None and now - as_utc(last) <= STATEMENT_MAX_AGE
    return Check(
        "statement_received",
        "A statement received in the last 24 h",
        fresh,
        "no statement ever received" if last is None else f"last statement received {shown(last, tz)}",
        "download yesterday's bill into the statement folder, or upload it with uploadStatement",
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
        detail = "no channel payloads in the last 7 days"
    elif unpinned:
        detail = f"not pinned: {', '.join(unpinned)}"
    else:
        detail = f"{len(active)} active channel payload kind(s), all pinned"
    return Check(
        "schema_baselines",
        "Every active channel's schema baseline pinned",
        not unpinned,
        detail,
        "review each learned shape and pin it with pinSchemaBaseline (admin or ops)",
    )


async def alert_robot(probe: RobotProbe) -> Check:
    results = await probe()
    failures = [f"{name}: {failure}" for name, failure in results if failure is not None]
    if not results:
        detail = "no DingTalk or WeCom robot configured"
    elif failures:
        detail = "; ".join(failures)
    else:
        detail = f"{', '.join(name for name, _ in results)} answered the probe"
    return Check(
        "alert_robot",
        "Alert robot reachable",
        bool(results) and not failures,
        detail,
        "set ORDERHUB_DINGTALK_WEBHOOK (+ _SECRET) or ORDERHUB_WECOM_WEBHOOK to a robot this host can reach",
    )


async def exception_closure(session: AsyncSession, since: datetime, now: datetime) -> Check:
    """The health metric itself over the last 7 days, against the threshold an admin set."""
    [counts] = await measure(session, Metric.EXCEPTION_CLOSURE, Window(since, now), now, grouped=False)
    threshold = (await current_thresholds(session))[Metric.EXCEPTION_CLOSURE]
    numerator, denominator = counts.numerator, counts.denominator
    rate = None if denominator == 0 else numerator / denominator
    passed = rate is None or bool(is_healthy(Metric.EXCEPTION_CLOSURE, rate, threshold))
    detail = (
        "no exception due in the last 7 days"
        if rate is None
        else f"{numerator} of {denominator} resolved within 72 h: {rate:.1%}"
    )
    return Check(
        "exception_closure",
        f"Exception closure above {threshold:.0%}",
        passed,
        detail,
        "assign open exceptions (orderExceptions, assignException) and resolve them within 72 h",
    )
