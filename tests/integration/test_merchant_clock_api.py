"""Pages learn the merchant's clock from the API, whose times stay UTC."""

from __future__ import annotations

from datetime import date, timedelta

from domain.clock import local_day, utcnow
from tests.conftest import Api, Credentials

CLOCK = "query { merchantClock { timeZone utcOffsetMinutes today } }"


async def test_staff_read_the_merchants_clock(api: Api, creds: Credentials) -> None:
    before = utcnow()
    clock = (await api.gql(CLOCK, headers=creds.cs))["data"]["merchantClock"]
    zone = api.runtime.settings.merchant_zone
    assert clock["timeZone"] == "Asia/Shanghai" and clock["utcOffsetMinutes"] == 480
    around = {local_day(before, zone), local_day(before + timedelta(minutes=1), zone)}  # a midnight in between
    assert date.fromisoformat(clock["today"]) in around
    refused = await api.gql(CLOCK, headers=creds.reader)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await api.gql(CLOCK))["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_the_clock_follows_the_setting(api: Api, creds: Credentials) -> None:
    original = api.runtime.core.settings
    api.runtime.core.settings = original.model_copy(update={"merchant_timezone": "Asia/Kolkata"})
    try:
        clock = (await api.gql(CLOCK, headers=creds.admin))["data"]["merchantClock"]
    finally:
        api.runtime.core.settings = original
    assert (clock["timeZone"], clock["utcOffsetMinutes"]) == ("Asia/Kolkata", 330)
