"""The merchant's clock for pages: the API's times stay UTC, and a page shows them on this zone."""

from __future__ import annotations

from datetime import date

import strawberry
from strawberry.types import Info

from api.graphql.context import Context
from api.graphql.permissions import allow
from domain.clock import local, utcnow


@strawberry.type(description="The merchant's clock (ORDERHUB_MERCHANT_TIMEZONE): every hour and day orderhub groups "
                 "by and every time a page shows. Times in the API stay UTC ISO 8601.")  # fmt: skip
class MerchantClock:
    time_zone: str = strawberry.field(description="The IANA zone, e.g. Asia/Shanghai.")
    utc_offset_minutes: int = strawberry.field(description="The zone's offset from UTC now (it may change with DST).")
    today: date = strawberry.field(description="The merchant's calendar date now.")


@strawberry.type
class ClockQueries:
    @strawberry.field(
        description="Staff: the merchant's clock, which pages show times on.", extensions=allow(any_staff=True)
    )
    def merchant_clock(self, info: Info[Context, None]) -> MerchantClock:
        settings = info.context.runtime.settings
        now = local(utcnow(), settings.merchant_zone)
        offset = now.utcoffset()
        assert offset is not None
        return MerchantClock(
            time_zone=settings.merchant_timezone, utc_offset_minutes=int(offset.total_seconds() // 60), today=now.date()
        )
