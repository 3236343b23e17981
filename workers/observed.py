"""Each job run as operators see it: its log lines name it and the request that caused it, its span links
to that request's, and its duration is counted by outcome.

The relay hands a job what the enqueueing request carried (`domain.outbox.carry`) in one extra keyword
argument; it is taken off here, before the job's own function sees its arguments. The job's run carries it
on (with its own span), so the jobs it enqueues in turn still name the request. A job has no caller, so the
human text it writes (digests, notices, pushes) speaks the merchant's language (`ORDERHUB_MERCHANT_LANGUAGE`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from arq import Retry

from domain.i18n import DEFAULT_LANGUAGE, use_language
from domain.outbox.carry import CARRY_KWARG, carrying
from runtime import metrics
from runtime.logs import bound
from runtime.tracing import current_context, job_span

T = TypeVar("T")
log = logging.getLogger(__name__)
LEVELS = {"success": logging.DEBUG, "failure": logging.WARNING}


def observed(job: Callable[..., Awaitable[T]], name: str | None = None) -> Callable[..., Awaitable[T]]:
    """`name`: the job's name in arq, when it is not the function's."""
    name = name or job.__name__

    @functools.wraps(job)
    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> T:
        carried: dict[str, str] = kwargs.pop(CARRY_KWARG, None) or {}
        request_id = carried.get("request_id")
        context = {"job": name, "job_id": ctx.get("job_id"), "job_try": ctx.get("job_try")}
        if request_id:
            context["request_id"] = request_id
        outcome = "failure"
        started = time.perf_counter()
        with bound(**context):
            try:
                with job_span(name, carried), carrying(_carry_on(request_id)), use_language(_merchant_language(ctx)):
                    result = await job(ctx, *args, **kwargs)
                outcome = "success"
                return result
            except Retry:
                outcome = "retry"
                raise
            except asyncio.CancelledError:
                outcome = "cancelled"
                raise
            finally:
                seconds = time.perf_counter() - started
                if metrics.enabled():
                    metrics.JOB_SECONDS.labels(name, outcome).observe(seconds)
                # arq logs each job's start and end too, but outside it: this line names its request.
                log.log(LEVELS.get(outcome, logging.INFO), "job %s", outcome, extra={"seconds": round(seconds, 4)})

    return run


def _merchant_language(ctx: dict[str, Any]) -> str:
    runtime = ctx.get("runtime")
    settings = getattr(runtime, "settings", None)
    return str(getattr(settings, "merchant_language", DEFAULT_LANGUAGE))


def _carry_on(request_id: str | None) -> dict[str, str]:
    """What the jobs this job enqueues carry: the request that started it all, and this job's span."""
    values = current_context()
    if request_id:
        values["request_id"] = request_id
    return values
