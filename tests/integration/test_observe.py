"""What operators see: the request id's travels, /metrics as scraped, and a job's span and log lines leading
back to the request that enqueued it. Real HTTP into the app, the real relay, Redis and arq worker."""

from __future__ import annotations

import io
import json
import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert
from sqlmodel import col, select

from api.app import create_app
from domain.clock import utcnow
from domain.intake.models import InboundMessage
from domain.outbox.models import OutboxKind, OutboxMessage
from domain.settings import Settings
from runtime.logs import configure_logging
from runtime.process import Runtime
from runtime.queues import DEFAULT
from runtime.tracing import start_tracing, stop_tracing
from tests.conftest import Api, Credentials
from tests.integration.orders_fixtures import SUBMIT_ORDER, order_input
from workers.settings import run_queued_jobs

EN = {"Accept-Language": "en"}  # messages are read by their English text here

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def submit(api: Api, creds: Credentials, number: str, request_id: str | None = None) -> httpx.Response:
    headers = {**creds.writer, **({"X-Request-ID": request_id} if request_id else {})}
    body = {"query": SUBMIT_ORDER, "operationName": "Submit", "variables": {"input": order_input(number)}}
    response = await api.client.post("/graphql", json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["submitOrder"]["userErrors"] == []
    return response


async def recorded(rt: Runtime) -> list[InboundMessage]:
    async with rt.core.sessions() as session:
        return list((await session.exec(select(InboundMessage).order_by(col(InboundMessage.id)))).all())


async def jobs(rt: Runtime) -> list[OutboxMessage]:
    async with rt.core.sessions() as session:
        query = select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.JOB).order_by(col(OutboxMessage.id))
        return list((await session.exec(query)).all())


async def test_the_request_id_is_answered_recorded_and_carried_by_the_jobs(api: Api, creds: Credentials) -> None:
    given = await submit(api, creds, "RID-1", request_id="shop-7f3a.2")
    assert given.headers["x-request-id"] == "shop-7f3a.2"
    made = await submit(api, creds, "RID-2")
    assert re.fullmatch(r"[a-p]{32}", made.headers["x-request-id"])
    phone_like = await submit(api, creds, "RID-3", request_id="13812345678")
    assert phone_like.headers["x-request-id"] != "13812345678"  # it would be logged and stored as it is

    answered = [r.headers["x-request-id"] for r in (given, made, phone_like)]
    assert [m.headers.get("x-request-id") for m in await recorded(api.runtime)] == answered
    carried = {row.carry["request_id"] for row in await jobs(api.runtime) if row.carry}
    assert carried == set(answered)


def scrape(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_are_for_staff_and_count_what_happened(api: Api, creds: Credentials) -> None:
    assert (await api.client.get("/metrics")).status_code == 401
    assert (await api.client.get("/metrics", headers=creds.cs)).status_code == 403
    before = scrape((await api.client.get("/metrics", headers=creds.admin)).text)

    await submit(api, creds, "MET-1")
    await submit(api, creds, "MET-1")  # the same order again: applied, changes nothing
    invalid = await api.client.post("/graphql", json={"query": "{ nosuchfield }"}, headers=creds.reader)
    assert invalid.status_code == 200 and invalid.json()["errors"]
    await api.runtime.relay.drained()
    async with api.runtime.core.sessions() as session, session.begin():  # a row the relay has not seen (yet)
        row = {"kind": "PUBLISH", "target": "metrics-test", "payload": {}, "defer_seconds": 0}
        await session.execute(insert(OutboxMessage), [{**row, "created_at": utcnow() - timedelta(seconds=90)}])

    response = await api.client.get("/metrics", headers=creds.admin)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    after = scrape(response.text)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("orderhub_requests_total", operation="Submit", caller="partner") == 2
    assert delta("orderhub_request_seconds_count", operation="Submit", caller="partner") == 2
    assert delta("orderhub_requests_total", operation="invalid", caller="partner") == 1
    assert delta("orderhub_graphql_errors_total", code="GRAPHQL_INVALID") == 1
    assert delta("orderhub_inbound_messages_total", source="partner:channel-bridge", outcome="APPLIED") == 2
    assert value(after, "orderhub_outbox_unsent") == 1
    assert 90 <= value(after, "orderhub_outbox_oldest_unsent_seconds") < 600
    queued = len([j for j in await jobs(api.runtime) if j.sent_at is not None])
    assert queued > 0 and value(after, "orderhub_queue_depth", queue="default") == queued
    assert ("orderhub_scrape_failures", frozenset()) not in after


@contextmanager
def json_logs() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging(Settings(log_level="DEBUG", structured_logs=True), stream)
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)


async def test_a_job_links_to_the_request_that_enqueued_it(rt: Runtime, creds: Credentials) -> None:
    exporter = InMemorySpanExporter()
    start_tracing("orderhub-test", exporter)
    try:
        app = create_app(runtime=rt)  # instrumented: tracing is on
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://orderhub.test", headers=EN
        ) as c:
            await submit(Api(c, rt), creds, "TRACE-1", request_id="trace-me-1")
        await rt.relay.drained()
        queued = await rt.redis.zrange(DEFAULT.name, 0, -1)
        assert queued
        await rt.redis.zadd(DEFAULT.name, {job: time.time() * 1000 for job in queued})  # due now, not in minutes
        ran = {"job": "check_payment_deadline", "outcome": "success"}
        before = REGISTRY.get_sample_value("orderhub_job_seconds_count", ran) or 0
        with json_logs() as logs:
            await run_queued_jobs(rt)
        assert REGISTRY.get_sample_value("orderhub_job_seconds_count", ran) == before + 1
        spans = exporter.get_finished_spans()
    finally:
        stop_tracing()

    [request] = [s for s in spans if s.kind is SpanKind.SERVER and s.name.startswith("POST")]
    enqueued = {"job check_payment_deadline", "job group_pending_orders"}
    job_spans = [s for s in spans if s.name in enqueued]
    assert {s.name for s in job_spans} == enqueued
    for span in job_spans:
        assert span.context.trace_id != request.context.trace_id  # a trace of its own, linked
        [link] = span.links
        assert (link.context.trace_id, link.context.span_id) == (request.context.trace_id, request.context.span_id)
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    assert lines and all({"event", "level", "logger", "at"} <= set(line) for line in lines)
    by_job = [line for line in lines if line.get("job") == "check_payment_deadline"]
    assert by_job and all(line["request_id"] == "trace-me-1" for line in by_job)
    assert all(not s.links for s in spans if s.name.startswith("job ") and s not in job_spans)  # crons: no request
