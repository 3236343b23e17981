"""The daily reconciliation: statements dropped in the folder or uploaded since the last run."""

from __future__ import annotations

import logging
import time
from typing import Any

from domain.clock import due, utcnow
from domain.ledger.gaps import GapReason, count_for_run
from domain.outbox.service import Outbox
from domain.reconcile import layouts, service
from runtime import metrics
from runtime.payment_queries import PaymentQueries
from workers.jobs import runtime_of, unit_of_work, woken_at

log = logging.getLogger(__name__)


async def reconcile_daily(ctx: dict[str, Any], *, force: bool = False) -> list[int]:
    """Wakes hourly and acts once a day in the configured hour of the merchant's clock (09:00 by default), so
    the hour and the time zone stay settings rather than a schedule frozen at import in the worker's own
    zone. Returns the ids of the runs it made."""
    settings = runtime_of(ctx).settings
    if not force and not due(woken_at(ctx), settings.merchant_zone, settings.reconcile_hour):
        return []
    runtime = runtime_of(ctx)
    queries = PaymentQueries(runtime.core, runtime.relay.notify)
    started = utcnow()
    await queries.close_gaps(frozenset({GapReason.PAID_WITHOUT_VOUCHER}))  # a lost notification found is no drift
    clock = time.perf_counter()
    try:
        async with unit_of_work(ctx) as session:
            if settings.statement_dir is not None and settings.statement_dir.is_dir():
                for held in await layouts.import_folder(session, runtime_of(ctx).core.vault, settings.statement_dir):
                    if isinstance(held, layouts.Held):
                        log.warning("statement held (%s): %s", held.source, held.reason)
            pending = [s.id for s in await service.unreconciled(session) if s.id is not None]
            runs = await service.reconcile(session, pending, trigger="cron", outbox=Outbox())
            for run in runs:
                assert run.id is not None
                await count_for_run(session, run.id, run.provider, started)
    except service.AlreadyReconciling as busy:
        log.info("reconciliation skipped, someone else is at it: %s", busy)
        return []
    await queries.close_gaps(frozenset({GapReason.MISSING_IN_SYSTEM}))
    metrics.count_reconciliation("cron", time.perf_counter() - clock, [run.counts for run in runs])
    for run in runs:
        log.info("reconciled %s: %s/%s matched, %s", run.provider, run.matched, run.statement_lines, run.counts)
    return [run.id for run in runs if run.id is not None]
