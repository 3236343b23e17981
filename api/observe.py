"""What the API tells its operators about each request: its id, its metrics, its trace, and /metrics.

Every HTTP request gets a request id: the caller's `X-Request-ID` when it is a sane one, else a new one.
It is answered in the response's `X-Request-ID`, put in the request's own headers (so the record stage
keeps it with the inbound message), bound to every log line the request writes, and carried by every
job the request enqueues (`domain.outbox.carry`), with the request's trace context.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response
from graphql import GraphQLError
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from api.auth.principal import Anonymous, Customer, Partner, Staff, accounts_of, authenticate
from domain.access.policy import Role
from domain.identity.masking import mask_phones
from domain.outbox.carry import carrying
from domain.pipeline.message import Message as InboundMessage
from runtime import metrics
from runtime.logs import bound
from runtime.metrics_state import StateCollector
from runtime.process import Runtime
from runtime.tracing import current_context

REQUEST_ID_HEADER = "x-request-id"
_SANE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
METRICS_ROLES = frozenset({Role.ADMIN, Role.OPS})
UNMATCHED = "unmatched"
GRAPHQL_PATH = "/graphql"


@dataclass
class Seen:
    """What the request turned out to be, filled in as the app learns it."""

    operation: str | None = None
    caller: str = "anonymous"
    messages: list[InboundMessage] = field(default_factory=list)


_seen: ContextVar[Seen | None] = ContextVar("orderhub_seen", default=None)


def request_id_of(scope: Scope) -> str | None:
    """The caller's id when it is short, plain and holds nothing that looks like a phone number (it is
    logged and stored as it is); else None, and the request gets an id of ours."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SANE_ID.fullmatch(text) and mask_phones(text) == text else None
    return None


_NO_DIGITS = str.maketrans("0123456789", "ghijklmnop")


def new_request_id() -> str:
    """128 random bits as 32 letters (hex with its digits spelled g-p): unique, not secret (no system call
    for it), and never mistaken for a phone number by the masking of logs."""
    return f"{random.getrandbits(128):032x}".translate(_NO_DIGITS)


def caller_kind(principal: object) -> str:
    match principal:
        case Customer():
            return "customer"
        case Partner():
            return "partner"
        case Staff():
            return "staff"
        case Anonymous():
            return "anonymous"
    return "unknown"


def note_caller(principal: object) -> None:
    """Who called, known before the document is parsed: a refused document is counted by caller too."""
    seen = _seen.get()
    if seen is not None:
        seen.caller = caller_kind(principal)


def note_message(message: InboundMessage) -> None:
    """A message this request received: counted by source and outcome once the request is answered."""
    seen = _seen.get()
    if seen is not None:
        seen.messages.append(message)


class RequestObservation:
    """Pure ASGI (a BaseHTTPMiddleware would cost a task and a copy of the body per request)."""

    def __init__(self, app: ASGIApp, *, count: bool, known_sources: frozenset[str]) -> None:
        self.app = app
        self.count = count
        self.known_sources = known_sources

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        if request_id is None:
            request_id = new_request_id()
            kept = [(k, v) for k, v in scope["headers"] if k != b"x-request-id"]
            scope["headers"] = [*kept, (b"x-request-id", request_id.encode())]
        answered = request_id.encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", answered)]
            await send(message)

        seen = Seen()
        token = _seen.set(seen)
        started = time.perf_counter()
        try:
            with bound(request_id=request_id), carrying({"request_id": request_id, **current_context()}):
                await self.app(scope, receive, send_with_id)
        finally:
            _seen.reset(token)
            if self.count:
                self._count(scope, seen, time.perf_counter() - started)

    def _count(self, scope: Scope, seen: Seen, seconds: float) -> None:
        count, latency = metrics.request_metrics(seen.operation or _route_label(scope), seen.caller)
        count.inc()
        latency.observe(seconds)
        for message in seen.messages:
            if message.source is not None:
                metrics.count_inbound(message.source, message.outcome, self.known_sources)


def _route_label(scope: Scope) -> str:
    """A GraphQL request that never reached execution is `invalid`; outside GraphQL, the route's template
    (`/payments/{provider}/notify`), never the path itself."""
    if scope.get("path") == GRAPHQL_PATH:
        return metrics.INVALID
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class ObserveOperation(SchemaExtension):
    """Names the request's operation for its metrics. Runs only for documents that validated: a
    request refused before has no operation to name (`invalid`)."""

    def on_execute(self) -> Iterator[None]:
        seen = _seen.get()
        if seen is not None:
            context = self.execution_context
            seen.operation = metrics.operation_label(context.operation_name)
        yield


_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,39}")


def count_errors(errors: list[GraphQLError], unexpected: list[GraphQLError]) -> None:
    """Top-level GraphQL errors by their `extensions.code`; one without a code is a refusal of the document
    itself (GRAPHQL_INVALID) or, when it was masked, an INTERNAL failure."""
    if not metrics.enabled():
        return
    for error in errors:
        code = (error.extensions or {}).get("code")
        if not (isinstance(code, str) and _CODE.fullmatch(code)):
            code = "INTERNAL" if error in unexpected else "GRAPHQL_INVALID"
        metrics.GRAPHQL_ERRORS.labels(code).inc()


def mount_metrics(app: FastAPI, runtime_of: Any) -> None:
    """/metrics for staff (admin, ops) on the API's own port. Unmounted when a metrics port is set."""

    @app.get("/metrics", include_in_schema=False)
    async def scrape(request: Request) -> Response:
        runtime: Runtime = runtime_of(request)
        principal = await authenticate(request.headers, runtime.settings.secret("token_secret"), accounts_of(request))
        note_caller(principal)
        if not isinstance(principal, Staff):
            raise HTTPException(401, "metrics are for staff: send a staff token")
        if not principal.roles & METRICS_ROLES:
            raise HTTPException(403, "metrics need the admin or ops role")
        collector = StateCollector(runtime.settings.resolved_database_url(), runtime.redis_url)
        body = await asyncio.to_thread(metrics.exposition, metrics.scrape_registry(collector))
        return Response(body, media_type=CONTENT_TYPE_LATEST)
