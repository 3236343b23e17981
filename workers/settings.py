"""The arq workers of orderhub: the jobs, the cron schedule, and how a queue's worker is built for a runtime."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from arq import cron
from arq.connections import ArqRedis
from arq.worker import Worker, func

from domain.fulfilment.service import NOTIFY_SHIPPED_JOB
from domain.push.service import PUSH_JOB, SEND_PUSH_JOB
from runtime.process import Runtime
from runtime.queues import DEFAULT, QUEUES, Queue, queue_of
from workers.confirmation_jobs import alert_refused_credentials, confirm_shipment, sweep_confirmations
from workers.fulfilment_jobs import (
    find_missing_courier_records,
    find_stuck_shipments,
    record_shipped_notice,
    subscribe_tracking,
)
from workers.health_jobs import compute_health, push_health_alerts
from workers.intake_jobs import push_drift_alerts
from workers.jobs import check_payment_deadline, group_pending_orders, sweep_inbound, sweep_outbox
from workers.ml_jobs import ServingCache, predict_next_step, train_nightly
from workers.observed import observed
from workers.payment_query_jobs import query_payment_gaps
from workers.pull_jobs import pull_channels, pull_shop
from workers.push_jobs import push_order_update, send_push, sweep_pushes
from workers.reconcile_jobs import reconcile_daily
from workers.webhook_jobs import close_webhook_sender, deliver_webhook, notify_webhook_disabled, sweep_webhooks

FUNCTIONS = [
    func(observed(check_payment_deadline), max_tries=5),
    func(observed(record_shipped_notice, NOTIFY_SHIPPED_JOB), name=NOTIFY_SHIPPED_JOB, max_tries=5),
    func(observed(group_pending_orders), max_tries=5),
    func(observed(predict_next_step), max_tries=3),
    func(observed(push_health_alerts), max_tries=5),
    func(observed(push_order_update, PUSH_JOB), name=PUSH_JOB, max_tries=6),
    func(observed(send_push, SEND_PUSH_JOB), name=SEND_PUSH_JOB, max_tries=6),
    # Tries here count hand-backs of an endpoint at its concurrency limit too; the delivery counts attempts. No
    # result kept: the delivery row is the record, and its claim makes a second run of an attempt a no-op.
    func(observed(deliver_webhook), max_tries=10_000, keep_result=0),
    func(observed(notify_webhook_disabled), max_tries=10),
    func(observed(confirm_shipment), max_tries=5),  # retries after an answer are new deferred jobs, not arq's tries
    func(observed(alert_refused_credentials), max_tries=5),
    # No result kept: the job id is the shop's, and the next cron must be able to enqueue it again at once.
    func(observed(pull_shop), max_tries=1, keep_result=0),
]

CRON_JOBS = [
    cron(observed(sweep_outbox), second={5}, run_at_startup=True, unique=True),
    cron(observed(sweep_webhooks), second={35}, unique=True),
    cron(observed(sweep_inbound), minute={0, 15, 30, 45}, second={10}, unique=True),
    cron(observed(find_stuck_shipments), minute={5, 20, 35, 50}, second={20}, unique=True),
    cron(observed(sweep_confirmations), minute={7, 22, 37, 52}, second={40}, unique=True),
    cron(observed(pull_channels), minute=set(range(4, 60, 5)), second={15}, unique=True),
    cron(observed(subscribe_tracking), minute=set(range(2, 60, 5)), second={35}, unique=True),
    cron(observed(find_missing_courier_records), minute={12, 42}, second={25}, unique=True),
    cron(observed(push_drift_alerts), minute=set(range(0, 60, 5)), second={20}, unique=True),
    cron(observed(compute_health), minute={2}, second={50}, unique=True, timeout=600),
    cron(observed(push_health_alerts), minute=set(range(1, 60, 5)), second={50}, unique=True),
    cron(observed(sweep_pushes), minute=set(range(3, 60, 5)), second={40}, unique=True),
    cron(observed(query_payment_gaps), minute=set(range(3, 60, 10)), second={40}, unique=True, timeout=900),
    cron(observed(reconcile_daily), minute={0}, second={30}, unique=True, timeout=1800),
    # Once a night at training_hour:40 of the merchant's clock (02:40 by default): the job keeps the hour.
    cron(observed(train_nightly), minute={40}, second={40}, unique=True, timeout=3600),
]


def create_worker(runtime: Runtime, queue: Queue = DEFAULT, **overrides: Any) -> Worker:
    """The arq Worker of one queue: the functions and crons that run on it (see runtime.queues)."""
    options: dict[str, Any] = {
        "functions": [f for f in FUNCTIONS if queue_of(f.name) == queue],
        "cron_jobs": [c for c in CRON_JOBS if queue_of(c.coroutine.__name__) == queue],
        "queue_name": queue.name,
        "redis_pool": ArqRedis.from_url(runtime.redis_url),
        "ctx": {"runtime": runtime, "next_step": ServingCache()},
        "handle_signals": False,
        "max_jobs": queue.max_jobs,
        "job_timeout": queue.job_timeout,
        "keep_result": 3600,
        # Crons match UTC, not the machine's zone: an hour played twice in autumn would stall them, and every
        # schedule on the merchant's clock is the job's own guard (domain.clock.due).
        "timezone": UTC,
        "on_shutdown": close_webhook_sender,
    }
    options.update(overrides)
    return Worker(**options)


async def run_queued_jobs(runtime: Runtime, **overrides: Any) -> list[Worker]:
    """Runs what is queued on every queue, then returns (a burst, for the demo and tests)."""
    workers = []
    for queue in QUEUES.values():
        worker = create_worker(runtime, queue, burst=True, poll_delay=0.05, **overrides)
        try:
            await worker.async_run()
        finally:
            await worker.close()
        workers.append(worker)
    return workers
