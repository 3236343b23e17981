"""Fulfilment lead time's GraphQL types: per warehouse and merchant day, each leg's count, median and p90."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from api.graphql.health.types import HealthUserError
from domain.health import lead_times


@strawberry.input
class FulfilmentLeadTimesInput:
    start: datetime | None = strawberry.field(
        default=None, name="from", description="Defaults to the start of the sixth merchant day before `to`'s."
    )
    end: datetime | None = strawberry.field(
        default=None, name="to", description="Exclusive; defaults to the end of the merchant's today."
    )
    warehouse: str | None = strawberry.field(default=None, description="One warehouse code; every one by default.")


@strawberry.type(description="One leg's lead times that ended on one day.")
class LeadTimeLeg:
    count: int
    median_hours: float | None = strawberry.field(description="Null when count is 0.")
    p90_hours: float | None = strawberry.field(description="Nearest rank: a lead time that happened.")

    @classmethod
    def of(cls, leg: lead_times.Leg) -> LeadTimeLeg:
        return cls(count=leg.count, median_hours=leg.median_hours, p90_hours=leg.p90_hours)


@strawberry.type(description="One warehouse's lead times on one merchant-clock day, by the day each leg ended.")
class LeadTimeDay:
    warehouse: str | None = strawberry.field(description="Null for orders no warehouse was named for.")
    day: date = strawberry.field(description="The merchant's calendar day (settings.merchant_timezone).")
    to_outbound: LeadTimeLeg = strawberry.field(description="Ship request to outbound (the warehouse's part).")
    to_delivery: LeadTimeLeg = strawberry.field(description="Outbound to delivery (the carrier's part).")

    @classmethod
    def of(cls, row: lead_times.LeadTimeDay) -> LeadTimeDay:
        return cls(
            warehouse=row.warehouse,
            day=row.day,
            to_outbound=LeadTimeLeg.of(row.to_outbound),
            to_delivery=LeadTimeLeg.of(row.to_delivery),
        )


@strawberry.type
class FulfilmentLeadTimes:
    start: datetime | None = strawberry.field(name="from")
    end: datetime | None = strawberry.field(name="to")
    timezone: str
    days: list[LeadTimeDay]
    user_errors: list[HealthUserError]
