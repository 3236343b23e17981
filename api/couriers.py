"""Courier tracking pushes in the aggregator's own wire format (Kuaidi100's `param` + `sign` form).

The body is read capped, handed to `domain.pipeline.courier`, and answered the way Kuaidi100 reads answers:
`result: true` stops its retries, `result: false` makes it push again, which is what a refused push deserves.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.inbound import new_message, read_body
from domain.clock import utcnow
from domain.fulfilment.kuaidi100 import SUCCESS_REPLY
from domain.identity.masking import mask_phones
from domain.intake.models import SignatureVerdict
from domain.pipeline.courier import KIND, PushRefused
from domain.pipeline.record import Arrival
from runtime.process import Runtime

router = APIRouter(prefix="/couriers", tags=["couriers"])


@router.post("/kuaidi100")
async def kuaidi100_push(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    body = await read_body(request, runtime.settings.max_body_bytes)
    arrival = Arrival("couriers:kuaidi100", KIND, body.head, body.size, request.headers,
                      SignatureVerdict.NOT_APPLICABLE, received_at=utcnow())  # fmt: skip
    try:
        await runtime.core.courier_pushes(new_message(runtime), arrival)
    except PushRefused as refused:
        reply = {"result": False, "returnCode": str(500 if refused.status >= 500 else 400),
                 "message": mask_phones(refused.reason)[:300]}  # fmt: skip
        return JSONResponse(reply, status_code=refused.status)
    return JSONResponse(SUCCESS_REPLY)
