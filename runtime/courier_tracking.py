"""Subscribing shipped parcels at Kuaidi100, so that its pushes (api/couriers.py) report them as they move."""

from __future__ import annotations

import logging
from collections import Counter

import httpx

from domain.clock import utcnow
from domain.fulfilment.kuaidi100 import subscribe_form, subscribed
from domain.fulfilment.tracking import record_subscription, to_subscribe
from runtime.core import Core

log = logging.getLogger(__name__)


def configured(core: Core) -> bool:
    s = core.settings
    return bool(s.kuaidi100_key and s.kuaidi100_salt and s.kuaidi100_callback_url)


async def subscribe_shipped(core: Core) -> dict[str, int]:
    """One round: every shipped parcel not yet accepted is subscribed once; each answer is kept on its
    subscription row (accepted, or the code and message Kuaidi100 refused it with, tried again next round up to
    ORDERHUB_COURIER_SUBSCRIBE_ATTEMPTS times). A 429 ends the round."""
    if not configured(core):
        return {}
    s = core.settings
    assert s.kuaidi100_key and s.kuaidi100_salt and s.kuaidi100_callback_url
    async with core.sessions() as session:
        parcels = await to_subscribe(session, s.courier_subscribe_attempts)
    counts: Counter[str] = Counter()
    async with httpx.AsyncClient(timeout=httpx.Timeout(s.payment_query_timeout_seconds)) as client:
        for order_id, number, carrier in parcels:
            company = s.kuaidi100_companies.get((carrier or "").upper(), (carrier or "").lower())
            form = subscribe_form(company, number, s.kuaidi100_key.get_secret_value(), s.kuaidi100_callback_url,
                                  s.kuaidi100_salt.get_secret_value())  # fmt: skip
            try:
                response = await client.post(s.kuaidi100_poll_url, data=form)
            except httpx.HTTPError as exc:
                accepted, detail = False, f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 429:
                    counts["rate_limited"] += 1
                    break
                accepted, detail = subscribed(response.content)
                if response.status_code != 200:
                    accepted, detail = False, f"HTTP {response.status_code} {detail}"
            async with core.sessions() as session, session.begin():
                await record_subscription(session, order_id, company, number, accepted, detail, utcnow())
            counts["accepted" if accepted else "refused"] += 1
            if not accepted:
                log.info("Kuaidi100 refused %s %s: %s", company, number, detail)
    return dict(counts)
