"""Payment queries on a schedule: every gap orderhub can ask a provider about, asked once per round."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from runtime.payment_queries import PaymentQueries
from workers.jobs import runtime_of

log = logging.getLogger(__name__)


async def query_payment_gaps(ctx: dict[str, Any]) -> dict[str, int]:
    """Idempotent: a gap closed by an earlier run has its voucher and is no longer a gap; returns outcome counts."""
    runtime = runtime_of(ctx)
    asked = await PaymentQueries(runtime.core, runtime.relay.notify).close_gaps()
    counts = dict(Counter(a.outcome.value for a in asked))
    if counts:
        log.info("payment queries: %s", counts)
    return counts
