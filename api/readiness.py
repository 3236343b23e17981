"""`/healthz` (liveness) and `/readyz` (readiness) for balancers and process managers.

Liveness answers from the process alone: a database outage must not make every API process look dead and
get restarted in a loop. Readiness asks the database, Redis and the schema, and says which failed; the
details (driver errors, revisions) and the workers' heartbeats are for staff only, since they name hosts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.auth.principal import Staff, accounts_of, authenticate
from domain.clock import utcnow
from runtime.heartbeat import read_beats
from runtime.process import Runtime
from runtime.readiness import check_readiness

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    readiness = await check_readiness(runtime.core.engine, runtime.redis)
    body: dict[str, Any] = {
        "status": "ready" if readiness.ready else "unavailable",
        "checks": {c.name: "ok" if c.ok else "failed" for c in readiness.checks},
        "failed": readiness.failed,
    }
    if await _is_staff(request, runtime):
        body["detail"] = {c.name: c.detail for c in readiness.checks}
        body["workers"] = await _workers(runtime) if readiness.checks_ok("redis") else None
    return JSONResponse(body, status_code=200 if readiness.ready else 503)


async def _is_staff(request: Request, runtime: Runtime) -> bool:
    """A staff token is checked against its account in the database; with the database down nobody is staff."""
    if "authorization" not in request.headers:
        return False
    try:
        principal = await authenticate(request.headers, runtime.settings.secret("token_secret"), accounts_of(request))
    except Exception:  # the probe still answers: only without the details
        return False
    return isinstance(principal, Staff)


async def _workers(runtime: Runtime) -> list[dict[str, Any]]:
    now, interval = utcnow(), runtime.settings.worker_heartbeat_seconds
    return [beat.as_json(now, interval) for beat in await read_beats(runtime.redis, runtime.settings.pubsub_prefix)]
