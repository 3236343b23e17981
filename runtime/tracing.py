"""Traces: OpenTelemetry spans for requests, SQL, Redis and jobs, exported over OTLP.

Only when OTEL_EXPORTER_OTLP_ENDPOINT is set (the exporter reads it and the other OTEL_* variables itself):
without it nothing is instrumented at all, so a deployment that does not trace pays nothing, not even the
no-op spans' calls. A job's span is not a child of the request that enqueued it (the request answered long
before), but links to it: the request's trace context travels with the job (`domain.outbox.carry`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy.ext.asyncio import AsyncEngine

ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
TRACEPARENT = "traceparent"
_propagator = TraceContextTextMapPropagator()
_provider: TracerProvider | None = None


def start_tracing(service: str, exporter: SpanExporter | None = None) -> TracerProvider | None:
    """Once per process, and only with an endpoint configured (or an exporter given: tests). Redis is
    instrumented here, for every client of the process; engines and the app as they are built."""
    global _provider
    if _provider is not None:
        if exporter is not None:
            _provider.add_span_processor(SimpleSpanProcessor(exporter))
        return _provider
    if exporter is None and not os.environ.get(ENDPOINT_ENV):
        return None
    name = os.environ.get("OTEL_SERVICE_NAME") or service
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    RedisInstrumentor().instrument(tracer_provider=provider)
    _provider = provider
    return provider


def tracing() -> TracerProvider | None:
    return _provider


def instrument_engine(engine: AsyncEngine) -> None:
    if _provider is None:
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine, tracer_provider=_provider)


def instrument_app(app: Any) -> None:
    if _provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, tracer_provider=_provider, excluded_urls="healthz,metrics")


def current_context() -> dict[str, str]:
    """The current span's trace context ({"traceparent": ...}), to carry; empty when not tracing."""
    if _provider is None:
        return {}
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return {k: v for k, v in carrier.items() if k == TRACEPARENT}


@contextmanager
def job_span(job: str, carried: Mapping[str, str]) -> Iterator[None]:
    """The span of one job run, linked to the span that enqueued it when its context was carried."""
    if _provider is None:
        yield
        return
    links = []
    if TRACEPARENT in carried:
        origin = trace.get_current_span(_propagator.extract({TRACEPARENT: carried[TRACEPARENT]})).get_span_context()
        if origin.is_valid:
            links.append(Link(origin, {"orderhub.link": "enqueued by"}))
    tracer = _provider.get_tracer("orderhub.workers")
    with tracer.start_as_current_span(f"job {job}", kind=SpanKind.CONSUMER, links=links) as span:
        span.set_attribute("orderhub.job", job)
        yield


def stop_tracing() -> None:
    """Sends the spans still batched and undoes the process-wide Redis instrumentation (a worker stopping,
    a test done tracing). Engines and apps instrumented stay so, but export nothing."""
    global _provider
    if _provider is None:
        return
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    RedisInstrumentor().uninstrument()
    _provider.shutdown()
    _provider = None
