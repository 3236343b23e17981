"""Channel intake's queries: drift alerts, recorded messages, cleaning rule versions, the upstream monitor."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from api.graphql.context import Context
from api.graphql.ids import decode_cursor, encode_cursor, encode_gid
from api.graphql.intake.types import (
    CleaningRuleSet,
    DriftAlert,
    InboundMessage,
    ReplayedNotification,
    UpstreamChange,
    UpstreamKind,
    UpstreamMonitor,
)
from api.graphql.node import visible_row
from api.graphql.orders import SalesChannel
from api.graphql.pagination import Connection, check_page_size, connection
from api.graphql.permissions import allow
from domain.channels import monitor, replay, upstream
from domain.channels.models import DriftAlert as AlertRow
from domain.errors import UserError
from domain.i18n import render
from domain.intake.models import InboundMessage as MessageRow
from domain.orders.channels import Channel


@strawberry.type
class IntakeQueries:
    @strawberry.field(description="Drift alerts, newest first.", extensions=allow(any_staff=True))
    async def drift_alerts(
        self,
        info: Info[Context, None],
        first: int,
        after: str | None = None,
        channel: SalesChannel | None = None,  # type: ignore[valid-type]
        upstream: UpstreamKind | None = None,  # type: ignore[valid-type]
        upstream_source: Annotated[
            str | None, strawberry.argument(name="source", description="A provider, warehouse:CODE, bank-csv:NAME…")
        ] = None,
    ) -> Connection[DriftAlert]:
        check_page_size(first, None)
        async with info.context.read() as session:
            rows = await monitor.alerts(
                session, channel.value if channel else None, decode_cursor(after, "drift"), first + 1,
                upstream=upstream.value if upstream else None, source=upstream_source,
            )  # fmt: skip
        page = rows[:first]
        return connection(
            [DriftAlert.of(r) for r in page],
            [encode_cursor("drift", r.id or 0) for r in page],
            has_next=len(rows) > first,
            has_previous=after is not None,
        )

    @strawberry.field(
        description="A payment provider's recorded notifications in a time window through today's watch rules and "
        "pinned baseline, oldest first: which showed which difference. Nothing is counted.",
        extensions=allow(any_staff=True),
    )
    async def replay_payment_notifications(
        self,
        info: Info[Context, None],
        provider: str,
        received_from: datetime | None = None,
        received_to: datetime | None = None,
    ) -> list[ReplayedNotification]:
        async with info.context.read() as session:
            try:
                found = await upstream.replay_notifications(
                    session, info.context.runtime.core.vault, provider, received_from, received_to
                )
            except UserError as error:
                raise GraphQLError(
                    "; ".join(render(p.message) for p in error.problems), extensions={"code": "NO_BASELINE"}
                ) from error
        return [
            ReplayedNotification(
                message_id=strawberry.ID(encode_gid("InboundMessage", r.message_id)), received_at=r.received_at,
                drift=[f"{f.change} {f.path} {f.detail}".strip() for f in r.findings],
            )
            for r in found
        ]  # fmt: skip

    @strawberry.field(
        description="A channel's recorded inbound messages in a time window, oldest first.",
        extensions=allow(any_staff=True),
    )
    async def inbound_messages(
        self,
        info: Info[Context, None],
        channel: SalesChannel,  # type: ignore[valid-type]
        first: int,
        after: str | None = None,
        received_from: datetime | None = None,
        received_to: datetime | None = None,
        outcome: str | None = None,
    ) -> Connection[InboundMessage]:
        check_page_size(first, None)
        async with info.context.read() as session:
            rows = await replay.find_messages(
                session,
                channel.value,
                received_from,
                received_to,
                outcome,
                decode_cursor(after, "inbound") or 0,
                first + 1,
            )
        page = rows[:first]
        return connection(
            [InboundMessage.of(r) for r in page], [encode_cursor("inbound", r.id or 0) for r in page],
            len(rows) > first, after is not None,
        )  # fmt: skip

    @strawberry.field(description="Every saved version of a channel's cleaning rules, newest first.",
                      extensions=allow(any_staff=True))  # fmt: skip
    async def cleaning_rules(
        self,
        info: Info[Context, None],
        channel: SalesChannel,  # type: ignore[valid-type]
        first: int,
        after: str | None = None,
    ) -> Connection[CleaningRuleSet]:
        check_page_size(first, None)
        async with info.context.read() as session:
            rows = await monitor.rule_versions(session, channel.value, decode_cursor(after, "rules"), first + 1)
        page = rows[:first]
        return connection(
            [CleaningRuleSet.of(r) for r in page], [encode_cursor("rules", r.version) for r in page],
            len(rows) > first, after is not None,
        )  # fmt: skip

    @strawberry.field(
        description="A channel's upstream changes over time and the cleaning rules in force.",
        extensions=allow(any_staff=True),
    )
    async def upstream_monitor(
        self,
        info: Info[Context, None],
        channel: SalesChannel,  # type: ignore[valid-type]
    ) -> UpstreamMonitor | None:
        async with info.context.read() as session:
            view = await monitor.upstream(session, channel.value, info.context.runtime.settings.merchant_zone)
        if view is None:
            return None
        return UpstreamMonitor(
            channel=view.channel,
            kind=view.kind,
            rule_version=view.rule_version,
            rules_in_force=view.rules,
            baseline_pinned_at=view.pinned_at,
            timeline=[UpstreamChange(at=e.at, what=e.what, summary=e.summary) for e in view.timeline],
        )


async def load_drift_alert(info: Info[Context, None], key: int) -> DriftAlert | None:
    row = await visible_row(info, AlertRow, key, any_staff=True)
    return None if row is None else DriftAlert.of(row)


async def load_inbound_message(info: Info[Context, None], key: int) -> InboundMessage | None:
    """Only a channel's messages, as `inboundMessages` lists them; other recorded traffic stays unlisted."""
    row = await visible_row(info, MessageRow, key, any_staff=True)
    return None if row is None or row.source not in set(Channel) else InboundMessage.of(row)
