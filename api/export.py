"""The staff download of the order export: GET /export/orders, streamed as the rows are read; and a group's
invoice data for finance, GET /export/invoices.

A file is not a GraphQL answer, so this is a plain route; it authenticates the same staff bearer token
and refuses the same way (UNAUTHENTICATED, FORBIDDEN), and reports bad input as the field at fault.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from api.auth.principal import Anonymous, Principal, Staff, accounts_of, authenticate
from api.graphql.context import language_of
from domain.access.policy import Role
from domain.clock import utcnow
from domain.errors import Problem, UserError
from domain.health.export import OrderExport, Period, has_orders, parse_format, resolve_period
from domain.i18n import msg, render, use_language
from domain.invoices import service as invoices
from runtime.process import Runtime

router = APIRouter(tags=["export"])

EXPORT_ROLES = frozenset(Role)  # staff read every order; the export is the same reading, in bulk
EMPTY_HEADER = "X-Orderhub-Export-Empty"
INVOICE_ROLES = frozenset({Role.FINANCE, Role.ADMIN})  # the invoice data holds buyers' names and addresses
XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _errors(status: int, problems: list[Problem], language: str) -> JSONResponse:
    """The problems in the reader's language (their staff account's, else what the request accepts)."""
    with use_language(language):
        body = {"errors": [{"field": list(p.field), "message": render(p.message), "code": p.code} for p in problems]}
    return JSONResponse(body, status_code=status)


def _language(request: Request, principal: Principal, runtime: Runtime) -> str:
    return language_of(principal, request.headers.get("accept-language"), runtime.settings.merchant_language)


def _time(text: str | None, name: str, problems: list[Problem]) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        problems.append(Problem((name,), msg("{text} is not an ISO 8601 time", text=repr(text)), "INVALID_TIME"))
        return None


def _request(runtime: Runtime, params: dict[str, str]) -> tuple[Period, OrderExport]:
    problems: list[Problem] = []
    days: int | None = None
    if params.get("days") is not None:
        try:
            days = int(params["days"])
        except ValueError:
            problems.append(
                Problem(
                    ("days",), msg("{days} is not a whole number of days", days=repr(params["days"])), "OUT_OF_RANGE"
                )
            )
    start, end = _time(params.get("from"), "from", problems), _time(params.get("to"), "to", problems)
    try:
        fmt = parse_format(params.get("format", "csv"))
    except UserError as error:
        problems.extend(error.problems)
    if problems:
        raise UserError(problems)
    period = resolve_period(utcnow(), days=days, start=start, end=end, retention_days=runtime.settings.retention_days)
    return period, OrderExport(period, fmt, runtime.settings.merchant_zone)


@router.get("/export/orders")
async def export_orders(request: Request) -> Response:
    """`?format=csv|xlsx&days=7` or `&from=...&to=...` (ISO 8601 with offset); staff bearer token required."""
    runtime: Runtime = request.app.state.runtime
    principal = await authenticate(request.headers, runtime.settings.secret("token_secret"), accounts_of(request))
    language = _language(request, principal, runtime)
    if isinstance(principal, Anonymous):
        return _errors(
            401,
            [Problem((), msg("authentication required ({reason})", reason=principal.reason), "UNAUTHENTICATED")],
            language,
        )
    if not isinstance(principal, Staff) or not principal.roles & EXPORT_ROLES:
        return _errors(403, [Problem((), msg("not allowed: needs any staff role"), "FORBIDDEN")], language)
    try:
        period, export = _request(runtime, dict(request.query_params))
    except UserError as error:
        return _errors(400, error.problems, language)
    async with runtime.core.sessions() as session:
        empty = not await has_orders(session, period)

    async def body() -> AsyncIterator[bytes]:
        async with runtime.core.sessions() as session:
            async for chunk in export.chunks(session):
                yield chunk

    headers = {"Content-Disposition": f'attachment; filename="{export.filename}"', "Cache-Control": "no-store"}
    if empty:
        headers[EMPTY_HEADER] = "no orders placed in the period: the file has only the header row"
    return StreamingResponse(body(), media_type=export.media_type, headers=headers)


@router.get("/export/invoices")
async def export_group_invoice(request: Request) -> Response:
    """`?order=<order id>&format=csv|xlsx`: the order's group's invoice data, for finance."""
    runtime: Runtime = request.app.state.runtime
    principal = await authenticate(request.headers, runtime.settings.secret("token_secret"), accounts_of(request))
    language = _language(request, principal, runtime)
    if isinstance(principal, Anonymous):
        return _errors(
            401,
            [Problem((), msg("authentication required ({reason})", reason=principal.reason), "UNAUTHENTICATED")],
            language,
        )
    if not isinstance(principal, Staff) or not principal.roles & INVOICE_ROLES:
        return _errors(403, [Problem((), msg("not allowed: needs the finance or admin role"), "FORBIDDEN")], language)
    order, fmt = request.query_params.get("order", ""), request.query_params.get("format", "csv")
    problems = (
        []
        if order.isdigit()
        else [Problem(("order",), msg("{order} is not an order id", order=repr(order)), "INVALID_ID")]
    )
    if fmt not in ("csv", "xlsx"):
        problems.append(Problem(("format",), msg("{fmt} is not csv or xlsx", fmt=repr(fmt)), "INVALID_FORMAT"))
    if problems:
        return _errors(400, problems, language)
    async with runtime.core.sessions() as session:
        lines = await invoices.group_invoice(session, runtime.core.vault, int(order))
    if not lines:
        return _errors(
            404, [Problem(("order",), msg("order {order} has no invoice request", order=order), "NOT_FOUND")], language
        )
    data = invoices.as_csv(lines) if fmt == "csv" else invoices.as_xlsx(lines)
    media = "text/csv; charset=utf-8" if fmt == "csv" else XLSX_MEDIA
    headers = {"Content-Disposition": f'attachment; filename="invoice-{order}.{fmt}"', "Cache-Control": "no-store"}
    return Response(data, media_type=media, headers=headers)
