"""The daily reconciliation: statements dropped in the folder or uploaded since the last run."""

from __future__ import annotations

import logging
import time
from typing import Any
from zoneinfo import ZoneInfo

from domain.clock import utcnow
from domain.reconcile import service
from runtime import metrics
from workers.jobs import runtime_of, unit_of_work

log = logging.getLogger(__name__)


async def reconcile_daily(ctx: dict[str, Any], *, force: bool = False) -> list[int]:
    """Wakes hourly and acts in the configured local hour (09:00 Asia/Shanghai by default), so the hour and
    time zone stay settings rather than a schedule frozen at import. Returns the ids of the runs it made."""
    settings = runtime_of(ctx).settings
    if not force and not service.due(utcnow(), ZoneInfo(settings.reconcile_timezone), settings.reconcile_hour):
        return []
    started = time.perf_counter()
    try:
        async with unit_of_work(ctx) as session:
            if settings.statement_dir is not None and settings.statement_dir.is_dir():
                await service.import_folder(session, settings.statement_dir)
            pending = [s.id for s in await service.unreconciled(session) if s.id is not None]
            runs = await service.reconcile(session, pending, trigger="cron")
    except service.AlreadyReconciling as busy:
        log.info("reconciliation skipped, someone else is at it: %s", busy)
        return []
    metrics.count_reconciliation("cron", time.perf_counter() - started, [run.counts for run in runs])
    for run in runs:
        log.info("reconciled %s: %s/%s matched, %s", run.provider, run.matched, run.statement_lines, run.counts)
    return [run.id for run in runs if run.id is not None]
