"""What a job carries from the work that caused it: the request id and the trace context.

A job runs in another process, long after the request that enqueued it answered; whoever reads the
worker's log or trace must still find that request. The entry point (a request, a job) says what its
work carries; every job row the outbox writes meanwhile keeps a copy, and the worker restores it. The
domain does not know what the values mean, only that they travel with the job.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

CARRY_KWARG = "_carry"
"""The job keyword argument the relay hands the carried values in; the worker takes it off again."""

_carried: ContextVar[dict[str, str] | None] = ContextVar("orderhub_carried", default=None)


def carried() -> dict[str, str] | None:
    return _carried.get()


@contextmanager
def carrying(values: Mapping[str, str]) -> Iterator[None]:
    token = _carried.set(dict(values) or None)
    try:
        yield
    finally:
        _carried.reset(token)
