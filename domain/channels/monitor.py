"""The upstream change monitor: what each channel changed, when, and which cleaning rule answers it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.channels.models import ChannelIntake, CleaningRuleSet, DriftAlert, SchemaBaseline
from domain.channels.service import UNKNOWN, source_and_kind
from domain.clock import shown
from domain.i18n import Message, msg, render, tr

VERBS: dict[str, Message] = {
    "drop_if_equals": msg("drops {path} when it is {value}"),
    "drop": msg("drops {path}"),
    "rename": msg("renames {path} to {to}"),
    "strip_suffix": msg("strips {suffix} from {path}"),
    "map_values": msg("maps values of {path}"),
    "coerce": msg("reads {path} as {to}"),
    "trim": msg("trims {path}"),
}
QUOTED = ("value", "suffix")
"""Parameters shown as Python literals ('-ERR'), as the rule editor spells them."""
CHANGES: dict[str, Message] = {
    "NEW_FIELD": msg("gained {path}"),
    "MISSING_FIELD": msg("lost {path}"),
    "TYPE_CHANGE": msg("changed the type of {path} ({detail})"),
    "NEW_VALUE": msg("sent a new value {detail} in {path}"),
}


@dataclass(frozen=True)
class Entry:
    at: datetime
    what: str
    summary: str


@dataclass(frozen=True)
class Upstream:
    channel: str
    kind: str
    rule_version: int
    rules: list[dict[str, Any]]
    pinned_at: datetime | None
    timeline: list[Entry]


async def alerts(
    session: AsyncSession,
    channel: str | None,
    before_id: int | None,
    limit: int,
    *,
    upstream: str | None = None,
    source: str | None = None,
) -> list[DriftAlert]:
    """`channel` is a sales channel (its alerts are CHANNEL ones); `source` is any upstream's source as kept."""
    query = select(DriftAlert).order_by(col(DriftAlert.id).desc()).limit(limit)
    if channel:
        query = query.where(DriftAlert.channel == channel.strip().upper(), DriftAlert.upstream == "CHANNEL")
    if upstream:
        query = query.where(DriftAlert.upstream == upstream)
    if source:
        query = query.where(DriftAlert.channel == source.strip())
    if before_id:
        query = query.where(col(DriftAlert.id) < before_id)
    return list((await session.exec(query)).all())


async def rule_versions(
    session: AsyncSession, channel_name: str, below: int | None = None, limit: int | None = None
) -> list[CleaningRuleSet]:
    """Newest first; `below` pages on by version, which only ever grows."""
    channel, kind = source_and_kind(channel_name)
    query = (
        select(CleaningRuleSet)
        .where(CleaningRuleSet.channel == channel, CleaningRuleSet.kind == kind)
        .order_by(col(CleaningRuleSet.version).desc())
        .limit(limit)
    )
    if below is not None:
        query = query.where(col(CleaningRuleSet.version) < below)
    return list((await session.exec(query)).all())


async def cleaning_versions(session: AsyncSession, order_ids: list[int]) -> dict[int, int]:
    """The rule version that cleaned each order's latest channel payload; orders submitted as canonical
    GraphQL input, never cleaned, are absent."""
    rows = await session.exec(
        select(ChannelIntake.order_id, ChannelIntake.rule_version)
        .where(col(ChannelIntake.order_id).in_(order_ids))
        .order_by(col(ChannelIntake.id))
    )
    return {order_id: version for order_id, version in rows.all() if order_id is not None}


def describe_rule(rule: dict[str, Any]) -> str:
    """In the language of the work at hand; an operation this version does not know as its name and path."""
    values = {"path": "", "value": None, "to": "", "suffix": "", "op": "", **rule}
    values.update({name: repr(values[name]) for name in QUOTED})
    template = VERBS.get(str(rule.get("op")))
    if template is None:
        return f"{values['op']} {values['path']}"
    return render(Message(template.id, {k: values[k] for k in _names(template.id)}))


def _names(template: str) -> list[str]:
    return [name for name in ("path", "value", "to", "suffix") if "{" + name + "}" in template]


def change_text(change: str, path: str, detail: str | None) -> str:
    template = CHANGES.get(change)
    if template is None:
        return change
    return render(Message(template.id, {"path": path, "detail": detail or ""}))


def _title(channel: str) -> str:
    return channel.replace("_", " ").title()


async def upstream(session: AsyncSession, channel_name: str, tz: ZoneInfo) -> Upstream | None:
    """Summaries tell times on the merchant's clock (`tz`); `Entry.at` stays UTC."""
    channel, kind = source_and_kind(channel_name)
    if channel == UNKNOWN:
        return None
    versions = await rule_versions(session, channel)
    in_force = versions[0] if versions else None
    found = await session.exec(
        select(DriftAlert)
        .where(DriftAlert.channel == channel, DriftAlert.kind == kind)
        .order_by(col(DriftAlert.first_seen))
    )
    timeline = []
    for alert in found.all():
        summary = tr(
            "{channel} payloads {change} on {at} ({count} seen)",
            channel=_title(channel),
            change=change_text(alert.change, alert.path, alert.detail),
            at=shown(alert.first_seen, tz),
            count=alert.count,
        )
        answered = [r for r in (in_force.rules if in_force else []) if r.get("path") == alert.path]
        if in_force and answered:
            it = tr("it")
            rule = describe_rule(answered[0]).replace(alert.path, it)
            summary += tr("; rule v{version} {rule}", version=in_force.version, rule=rule)
        timeline.append(Entry(alert.first_seen, "DRIFT", summary))
    for version in versions:
        text = ", ".join(describe_rule(r) for r in version.rules) or tr("no rules")
        timeline.append(
            Entry(
                version.created_at,
                "RULES",
                tr("rule v{version} by {who}: {rules}", version=version.version, who=version.created_by, rules=text),
            )
        )
    timeline.sort(key=lambda e: e.at)
    baseline = (
        await session.exec(select(SchemaBaseline).where(SchemaBaseline.channel == channel, SchemaBaseline.kind == kind))
    ).first()
    return Upstream(
        channel=channel,
        kind=kind,
        rule_version=in_force.version if in_force else 0,
        rules=in_force.rules if in_force else [],
        pinned_at=baseline.pinned_at if baseline else None,
        timeline=timeline,
    )


async def unsent_alerts(session: AsyncSession, limit: int = 50) -> list[DriftAlert]:
    query = (
        select(DriftAlert)
        .where(col(DriftAlert.count) > col(DriftAlert.notified_count))
        .order_by(col(DriftAlert.first_seen))
        .limit(limit)
    )
    return list((await session.exec(query)).all())


async def mark_sent(session: AsyncSession, sent: list[tuple[int, int]]) -> None:
    """Records the count each alert had when sent: later occurrences make it news again, once per window."""
    for alert_id, count in sent:
        await session.exec(
            update(DriftAlert)
            .where(col(DriftAlert.id) == alert_id, col(DriftAlert.notified_count) < count)
            .values(notified_count=count)
        )


def digest(alerts: list[DriftAlert], tz: ZoneInfo) -> tuple[str, str]:
    """One markdown message for a window's alerts, grouped by upstream and source; times on the merchant's clock."""
    title = tr("orderhub: {count} upstream payload change(s)", count=len(alerts))
    lines = [f"### {title}"]
    for upstream, channel in sorted({(a.upstream, a.channel) for a in alerts}):
        label = _title(channel) if upstream == "CHANNEL" else f"{upstream.title()} {channel}"
        lines.append(f"**{label}**")
        for a in (x for x in alerts if x.channel == channel and x.upstream == upstream):
            lines.append(
                tr(
                    "- {change}: {new} new, {total} total since {at}, e.g. {example}",
                    change=change_text(a.change, f"`{a.path}`", a.detail),
                    new=a.count - a.notified_count,
                    total=a.count,
                    at=shown(a.first_seen, tz),
                    example=a.example,
                )
            )
    return title, "\n".join(lines)
