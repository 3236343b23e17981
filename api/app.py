"""The FastAPI application: GraphQL at /graphql, with partner traffic recorded before it is parsed."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from cross_web import HTTPException as StrawberryHTTPException
from fastapi import FastAPI, HTTPException, Request
from redis.asyncio import Redis
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import HTTPConnection
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from api.auth.cost_bucket import CostBucket
from api.auth.principal import (
    Accounts,
    Anonymous,
    Customer,
    Partner,
    Principal,
    Staff,
    accounts_of,
    api_key_of,
    authenticate,
    bearer_of,
    partner_of,
)
from api.auth.signin_throttle import SignInThrottle
from api.auth.throttle import LoginThrottle
from api.auth.tokens import decode_token
from api.board import mount_board
from api.console import mount_console
from api.couriers import router as couriers_router
from api.export import router as export_router
from api.graphql.context import Context
from api.graphql.health.live import Shared
from api.graphql.schema import build_schema
from api.graphql.subscriptions import PushTransportWSHandler
from api.inbound import (
    BodyTooLarge,
    declared_size,
    decode_json,
    graphql_request_problem,
    new_message,
    read_body,
    too_large_response,
)
from api.observe import RequestObservation, mount_metrics
from api.payments import payment_sources
from api.payments import router as payments_router
from api.readiness import router as readiness_router
from domain.i18n import msg
from domain.identity.masking import mask_phones
from domain.intake.models import Outcome, SignatureVerdict
from domain.pipeline.message import Message
from domain.pipeline.record import REFUSAL_STATUS, Arrival, Refusal
from domain.settings import Settings, get_settings
from runtime import metrics
from runtime.process import Runtime, build_runtime
from runtime.startup import settings_problems
from runtime.tracing import instrument_app, start_tracing, stop_tracing

log = logging.getLogger(__name__)

GRAPHQL_KIND = "graphql"


def _runtime(request: Any) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def _record_partner_request(request: Request, runtime: Runtime, key: str) -> tuple[Principal, Message]:
    """The record stage: the raw body is recorded before parsing, so nothing a partner sent is lost.
    A request refused here (too large, key reused, not a GraphQL request) is REJECTED with the reason.

    Where it can, the record waits uncommitted in the transaction that also read the API key, and the
    request's first unit of work commits it together with the change and the outcome (`Message`)."""
    core = runtime.core
    limit = runtime.settings.max_body_bytes
    body = await read_body(request, limit)
    message = new_message(runtime)
    request.state.message = message
    natural_key = request.headers.get("idempotency-key")
    session = core.sessions() if core.record_joins_work and natural_key is None and body.complete else None
    if session is None:
        principal = await authenticate(request.headers, runtime.settings.secret("token_secret"), accounts_of(request))
    else:
        try:
            principal = await partner_of(session, key)
        except BaseException:
            await session.close()
            raise
    partner = principal if isinstance(principal, Partner) else None
    arrival = Arrival(
        source=f"partner:{partner.name}" if partner else "partner:unknown",
        kind=GRAPHQL_KIND,
        body=body.head,
        size=body.size,
        headers=request.headers,
        signature=SignatureVerdict.VALID if partner else SignatureVerdict.INVALID,
        natural_key=natural_key,
        partner_key_id=partner.key_id if partner else None,
    )
    recorded = await (message.record(arrival) if session is None else message.open(session, arrival))
    if recorded.refusal is Refusal.TOO_LARGE:
        raise BodyTooLarge(body.size, limit)
    if recorded.refusal is not None:
        raise HTTPException(REFUSAL_STATUS[recorded.refusal], recorded.reason)
    problem = None
    if not _is_multipart(request):
        problem = graphql_request_problem(body.head)
    if problem is not None:
        await message.close(Outcome.REJECTED, problem, release_key=True)
        raise HTTPException(400, mask_phones(problem))
    if partner is None:
        await message.close(Outcome.REJECTED, "invalid API key")
    return principal, message


async def _read_within_cap(request: Request, settings: Settings) -> None:
    """Unrecorded callers' bodies are capped too: `ORDERHUB_MAX_UPLOAD_BYTES` for multipart uploads,
    `ORDERHUB_MAX_BODY_BYTES` otherwise. A declared length past the cap is refused before a byte is
    read; the body read is kept on the request for the GraphQL view."""
    limit = settings.max_upload_bytes if _is_multipart(request) else settings.max_body_bytes
    declared = declared_size(request)
    if declared is not None and declared > limit:
        raise BodyTooLarge(declared, limit)
    body = await read_body(request, limit)
    if not body.complete:
        raise BodyTooLarge(body.size, limit)


def _is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith("multipart/form-data")


# A browser form can post multipart without a preflight; one of these headers proves the caller could not.
PREFLIGHT_HEADERS = ("apollo-require-preflight", "x-apollo-operation-name", "graphql-require-preflight")


async def get_context(request: HTTPConnection) -> Context:
    runtime = _runtime(request)
    if request.scope["type"] == "websocket":
        return Context(runtime, Anonymous(msg("no connection_init yet")))
    assert isinstance(request, Request)
    if _is_multipart(request) and not any(request.headers.get(h) for h in PREFLIGHT_HEADERS):
        raise HTTPException(400, f"multipart requests need one of the headers {', '.join(PREFLIGHT_HEADERS)}")
    key = api_key_of(request.headers)
    if request.method == "POST" and key is not None:
        context = Context(runtime, *await _record_partner_request(request, runtime, key))
        context.speak(request.headers.get("accept-language"))
        return context
    if request.method == "POST":
        await _read_within_cap(request, runtime.settings)
    principal = await authenticate(request.headers, runtime.settings.secret("token_secret"), accounts_of(request))
    context = Context(runtime, principal)
    context.speak(request.headers.get("accept-language"))
    return context


class OrderhubGraphQLRouter(GraphQLRouter[Context, None]):
    graphql_transport_ws_handler_class = PushTransportWSHandler  # pushed events: executed once, sent to all

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Browsers cannot set websocket headers, so the token arrives in connection_init's payload;
        only customers and staff may subscribe. A refusal closes the socket with 4403."""
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        headers = {str(k).lower(): v for k, v in params.items() if isinstance(v, str)}
        if api_key_of(headers) is not None:
            raise ConnectionRejectionError({"reason": "subscriptions take a customer or staff token"})
        runtime = context.runtime
        principal = await authenticate(headers, runtime.settings.secret("token_secret"), accounts_of(context.request))
        if not isinstance(principal, Customer | Staff):
            reason = str(principal.reason) if isinstance(principal, Anonymous) else "not allowed"
            raise ConnectionRejectionError({"reason": reason})
        context.principal = principal
        context.speak(headers.get("accept-language") or context.request.headers.get("accept-language"))
        context.credentials_expire_at = _token_expiry(headers, runtime.settings.secret("token_secret"))
        return UNSET

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        """Whatever refuses the request after it was recorded (an unsupported content type, a
        multipart body that does not parse) or fails it writes the outcome now, with its reason."""
        try:
            return await super().run(request, context, root_value)
        except StrawberryHTTPException as refused:
            await _close_message(request, Outcome.REJECTED, refused.reason)
            raise
        except Exception as exc:
            await _close_message(request, Outcome.FAILED, f"{type(exc).__name__}: {exc}")
            raise
        finally:
            message: Message | None = getattr(request.state, "message", None)
            if message is not None:
                await message.abandon()

    def parse_json(self, data: str | bytes) -> Any:
        """JSON Python cannot hold (too deep, a huge integer) or a bare scalar is a 400, not a 500."""
        value, problem = decode_json(data.encode() if isinstance(data, str) else data)
        if problem is None and not isinstance(value, dict | list):
            problem = "the request must be a JSON object"
        if problem is not None:
            raise StrawberryHTTPException(400, mask_phones(problem))
        return value

    async def process_result(self, request: Request, result: ExecutionResult) -> Any:
        """Close the recorded message's outcome for requests no mutation resolved (queries, refusals
        such as parse, validation and variable coercion errors). Error messages quote what the sender
        wrote: phone-like digits are masked before they are answered or stored."""
        for error in result.errors or []:
            error.message = mask_phones(error.message)
        outcome = Outcome.REJECTED if result.errors else Outcome.APPLIED
        error_text = "; ".join(e.message for e in result.errors or []) or None
        failure = getattr(request.state, "inbound_failure", None)
        if failure:
            await _close_message(request, Outcome.FAILED, failure, even_if_written=True)
        else:
            await _close_message(request, outcome, error_text)
        return await super().process_result(request, result)


async def _close_message(request: Any, outcome: Outcome, error: str | None, *, even_if_written: bool = False) -> None:
    """Writes the outcome unless a resolver already did (an unexpected failure is written even then:
    it is what became of the request); a no-op for requests that were not recorded."""
    message: Message | None = getattr(request.state, "message", None)
    if message is None or (message.outcome_written and not even_if_written):
        return
    if error is not None and message.applied:
        error = f"{error} (after part of the request was applied)"
    await message.close(outcome, error, overwrite=even_if_written)


def _token_expiry(headers: dict[str, str], secret: str) -> datetime | None:
    token = bearer_of(headers)
    if token is None:
        return None
    expiry = decode_token(secret, token).get("exp")
    return datetime.fromtimestamp(expiry, UTC) if isinstance(expiry, int | float) else None


async def _stop_push(app: FastAPI) -> None:
    hub = getattr(app.state, "push_hub", None)
    if hub is not None:
        await hub.stop()


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """With `runtime` given (tests, demo), the caller owns its lifecycle; otherwise the app does."""
    settings = settings or (runtime.settings if runtime else get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime is not None:
            app.state.runtime = runtime
            try:
                yield
            finally:
                await _stop_push(app)
            return
        problems = settings_problems(settings)  # `orderhub serve` checked more; `uvicorn api.asgi:app` did not
        if problems:
            raise RuntimeError("refusing to start: " + "; ".join(problems))
        app.state.runtime = await build_runtime(settings, migrate=settings.migrate_on_start)
        # What start-up built (modules, the schema, the mappers) lives as long as the process: frozen, the
        # collector stops walking it again in every full collection while requests are served.
        gc.freeze()
        try:
            yield
        finally:
            await _stop_push(app)
            await app.state.runtime.close()
            metrics.process_ended(os.getpid())
            stop_tracing()

    app = FastAPI(title="orderhub", lifespan=lifespan)
    app.add_exception_handler(BodyTooLarge, too_large_response)
    metrics.enable(settings.metrics_enabled)
    if settings.metrics_enabled or settings.structured_logs:
        app.add_middleware(RequestObservation, count=settings.metrics_enabled, known_sources=payment_sources(settings))
    if runtime is not None:
        app.state.runtime = runtime

    def sessions() -> AsyncSession:  # without `runtime` given, the runtime exists once the lifespan started
        return app.state.runtime.core.sessions()  # type: ignore[no-any-return]

    def redis() -> tuple[Redis, str]:
        return app.state.runtime.redis, app.state.runtime.redis_url

    app.state.accounts = Accounts(sessions, settings.staff_check_seconds, settings.customer_session_check_seconds)
    app.state.login_throttle = LoginThrottle(
        redis, settings.login_failures_per_account, settings.login_failures_per_address
    )
    app.state.signin_throttle = SignInThrottle(redis, settings)
    app.state.shared_health = Shared(settings.health_shared_seconds)
    app.state.cost_bucket = CostBucket(redis, settings.partner_cost_bucket, settings.partner_cost_restore_per_second)
    router = OrderhubGraphQLRouter(
        build_schema(settings),
        context_getter=get_context,
        graphql_ide="graphiql" if settings.graphiql else None,
        allow_queries_via_get=False,
        allowed_origins=settings.cors_origins,
        multipart_uploads_enabled=True,
    )
    app.include_router(router, prefix="/graphql")
    app.include_router(payments_router)
    app.include_router(export_router)
    app.include_router(readiness_router)
    app.include_router(couriers_router)
    mount_board(app)
    mount_console(app)
    if settings.metrics_enabled and settings.metrics_port is None:
        mount_metrics(app, _runtime)
    start_tracing("orderhub-api")
    instrument_app(app)

    return app
