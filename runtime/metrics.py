"""The Prometheus metrics of every orderhub process, and how they are counted.

Counters and histograms live in the process that sees the event (an API process counts its requests, a
worker its jobs). Several processes of one host share them through PROMETHEUS_MULTIPROC_DIR, which must be
set before this module is first imported (`orderhub serve --workers N` sets it for its processes); any
of them then answers for all. What the database and Redis already know (the outbox's backlog, the queues,
the last reconciliation and health values) is not counted at all: it is read when scraped (`metrics_state`).

Labels stay few whatever callers send: operation names are the client's only while they are well formed
and few (`operation_label`), sources name a family and a configured sender, never a buyer.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.registry import Collector

from domain.intake.models import Outcome

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0, 600.0, 1800.0)

REQUESTS = Counter(
    "orderhub_requests",
    "Requests answered, by GraphQL operation (or route) and kind of caller.",
    ["operation", "caller"],
)
REQUEST_SECONDS = Histogram(
    "orderhub_request_seconds", "Time to answer a request.", ["operation", "caller"], buckets=LATENCY_BUCKETS
)
GRAPHQL_ERRORS = Counter("orderhub_graphql_errors", "GraphQL errors and userErrors answered, by code.", ["code"])
INBOUND = Counter(
    "orderhub_inbound_messages", "Recorded inbound messages by source and final outcome.", ["source", "outcome"]
)
JOB_SECONDS = Histogram(
    "orderhub_job_seconds", "Time an arq job ran, by job and outcome.", ["job", "outcome"], buckets=JOB_BUCKETS
)
RECONCILIATION_RUNS = Counter("orderhub_reconciliation_runs", "Reconciliation runs made, by trigger.", ["trigger"])
RECONCILIATION_SECONDS = Histogram(
    "orderhub_reconciliation_seconds", "Time one reconciliation call took (all its statements).", buckets=JOB_BUCKETS
)
RECONCILIATION_DIFFERENCES = Counter(
    "orderhub_reconciliation_differences", "Differences reconciliation found, by kind of drift.", ["drift"]
)
WEBSOCKET_SUBSCRIBERS = Gauge(
    "orderhub_websocket_subscribers", "Open GraphQL subscriptions.", multiprocess_mode="livesum"
)
PUSHES = Counter(
    "orderhub_pushes", "Pushed events: sent to a subscription, or dropped (coalesced, lagged).", ["outcome"]
)
WEBHOOK_ATTEMPTS = Counter(
    "orderhub_webhook_attempts",
    "Webhook delivery attempts made, by what became of the delivery: delivered, retrying, or failed (given up).",
    ["outcome"],
)
WEBHOOK_ATTEMPT_SECONDS = Histogram(
    "orderhub_webhook_attempt_seconds", "Time one webhook post took, answered or not.", buckets=LATENCY_BUCKETS
)
WEBHOOK_ENDPOINTS_DISABLED = Counter(
    "orderhub_webhook_endpoints_disabled", "Webhook endpoints switched off after failing for too long."
)
CONFIRMATIONS = Counter(
    "orderhub_confirmation_attempts",
    "Shipment confirmation calls to a channel, by channel and the state they left the confirmation in.",
    ["channel", "outcome"],
)
CONFIRMATION_SECONDS = Histogram(
    "orderhub_confirmation_attempt_seconds",
    "Time one shipment confirmation call took.",
    ["channel"],
    buckets=LATENCY_BUCKETS,
)
OFFLINE_PUSHES = Counter(
    "orderhub_offline_pushes",
    "Offline (JPush) notices to buyers: sent, held for quiet hours, failed (refused), or dropped (opted out).",
    ["outcome"],
)
OFFLINE_PUSH_SECONDS = Histogram(
    "orderhub_offline_push_seconds", "Time one JPush call took, answered or not.", buckets=LATENCY_BUCKETS
)
MODEL_SERVED = Gauge(
    "orderhub_model_served", "1 for the next-step model version a worker serves.", ["version"], multiprocess_mode="max"
)
PREDICTION_SECONDS = Histogram(
    "orderhub_prediction_seconds", "Time to predict one order's next step.", buckets=LATENCY_BUCKETS
)

_enabled = True


def enable(on: bool) -> None:
    """ORDERHUB_METRICS_ENABLED=false: nothing is counted (the overhead benches' baseline)."""
    global _enabled
    _enabled = on


def enabled() -> bool:
    return _enabled


OTHER = "other"
ANONYMOUS = "anonymous"
INVALID = "invalid"
MAX_OPERATIONS = 200
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")
_operations: set[str] = set()


def operation_label(name: str | None, valid: bool = True) -> str:
    """A client's operation name, while it is a valid one of the first MAX_OPERATIONS this process saw;
    an unnamed operation is `anonymous`, a document that did not validate `invalid`, the rest `other`."""
    if not valid:
        return INVALID
    if not name:
        return ANONYMOUS
    if name in _operations:
        return name
    if len(_operations) >= MAX_OPERATIONS or not _NAME.fullmatch(name):
        return OTHER
    _operations.add(name)
    return name


_request_children: dict[tuple[str, str], tuple[Counter, Histogram]] = {}


def request_metrics(operation: str, caller: str) -> tuple[Counter, Histogram]:
    """The request counter and histogram of one label pair, looked up once: `labels()` takes a lock and
    builds a key on every call, which a request pays for nothing."""
    children = _request_children.get((operation, caller))
    if children is None:
        children = REQUESTS.labels(operation, caller), REQUEST_SECONDS.labels(operation, caller)
        _request_children[(operation, caller)] = children
    return children


def source_label(source: str, known: Iterable[str] = ()) -> str:
    """`partner:<name>` and `channel:<CHANNEL>` as they are (partners are keys staff issued, channels an
    enum); any other source keeps its name only if configured (`known`), else `<family>:unknown`."""
    family, _, name = source.partition(":")
    if family in ("partner", "channel") or source in known:
        return source
    return f"{family}:unknown" if name else family


def count_inbound(source: str, outcome: Outcome | str | None, known: Iterable[str] = ()) -> None:
    if _enabled:
        INBOUND.labels(source_label(source, known), str(outcome or Outcome.PENDING)).inc()


def count_pushes(sent: int = 0, dropped: int = 0) -> None:
    if _enabled and sent:
        PUSHES.labels("sent").inc(sent)
    if _enabled and dropped:
        PUSHES.labels("dropped").inc(dropped)


WEBHOOK_OUTCOMES = frozenset({"delivered", "retrying", "failed"})
CONFIRMATION_OUTCOMES = frozenset({"confirmed", "retrying", "refused", "gave_up", "waiting_for_credentials"})
PUSH_OUTCOMES = frozenset({"sent", "held", "failed", "dropped"})


def _bounded(value: str, allowed: frozenset[str]) -> str:
    return value if value in allowed else OTHER


def count_webhook_attempt(outcome: str, seconds: float, *, endpoint_disabled: bool = False) -> None:
    if not _enabled:
        return
    WEBHOOK_ATTEMPTS.labels(_bounded(outcome, WEBHOOK_OUTCOMES)).inc()
    WEBHOOK_ATTEMPT_SECONDS.observe(seconds)
    if endpoint_disabled:
        WEBHOOK_ENDPOINTS_DISABLED.inc()


def count_confirmation(channel: str, outcome: str, seconds: float) -> None:
    """`channel` is one orderhub confirms to (a Channel member), so the label stays one of a handful."""
    if not _enabled:
        return
    CONFIRMATIONS.labels(channel, _bounded(outcome, CONFIRMATION_OUTCOMES)).inc()
    CONFIRMATION_SECONDS.labels(channel).observe(seconds)


def count_offline_push(outcome: str, seconds: float | None = None) -> None:
    """`seconds`: the provider call's, when one was made (a held or dropped notice makes none)."""
    if not _enabled:
        return
    OFFLINE_PUSHES.labels(_bounded(outcome, PUSH_OUTCOMES)).inc()
    if seconds is not None:
        OFFLINE_PUSH_SECONDS.observe(seconds)


def count_reconciliation(trigger: str, seconds: float, drift_counts: Iterable[dict[str, int]]) -> None:
    if not _enabled:
        return
    RECONCILIATION_SECONDS.observe(seconds)
    for counts in drift_counts:
        RECONCILIATION_RUNS.labels(trigger).inc()
        for drift, count in counts.items():
            if isinstance(count, int) and count:
                RECONCILIATION_DIFFERENCES.labels(drift).inc(count)


_served: list[str] = []


def observe_prediction(seconds: float, model_version: int | None, *, answered: bool = True) -> None:
    """A forecast made; the model version that made it is the one served (`baseline` when none did)."""
    if not _enabled:
        return
    PREDICTION_SECONDS.observe(seconds)
    version = "baseline" if model_version is None else str(model_version)
    if answered and _served != [version]:
        MODEL_SERVED.clear()
        MODEL_SERVED.labels(version).set(1)
        _served[:] = [version]


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


class _ThisProcess(Collector):
    """The default registry's metrics, inside a registry of our own."""

    def collect(self):  # type: ignore[no-untyped-def]
        yield from REGISTRY.collect()


def scrape_registry(*collectors: Collector) -> CollectorRegistry:
    """What a scrape answers: every process's counted metrics (or this one's), then `collectors`."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess():
        prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_ThisProcess())
    for collector in collectors:
        registry.register(collector)
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


def process_ended(pid: int) -> None:
    """A process leaving: its live gauges (subscriptions) stop counting in the others' scrapes."""
    if multiprocess():
        prometheus_multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
