"""Payment notifications in the providers' own wire formats: record, verify, decrypt, post, answer.

Every notification goes through the record stage first (capped at ORDERHUB_MAX_BODY_BYTES, committed
alone). Whatever the sender got wrong, from the signature to a field the ledger cannot hold, is
answered 4xx in the provider's failure format with the reason, which is also the recorded outcome;
a 5xx is left for our own failures, which the provider is right to retry.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from api.inbound import REFUSAL_STATUS, Body, read_body
from domain.clock import utcnow
from domain.errors import UserError
from domain.identity.masking import mask_phones
from domain.intake.models import Outcome, SignatureVerdict
from domain.ledger.checks import refuse_misaddressed
from domain.ledger.providers import alipay, generic, wechatpay
from domain.ledger.providers.verdict import Checked, NoticeRejected, check_storable, load_rsa_public_key
from domain.ledger.service import PaymentNotice, post_notice
from domain.outbox.service import Outbox
from domain.pipeline.record import Arrival, close, mark_outcome, record
from runtime.process import Runtime

log = logging.getLogger(__name__)
router = APIRouter(prefix="/payments", tags=["payments"])
KIND = "payment-notification"
MAX_REPLY = 300  # the reason is answered, never the sender's body echoed back
NOT_CHECKED = Checked(SignatureVerdict.NOT_APPLICABLE)  # a body over the cap is refused unread


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = mask_phones(message)[:MAX_REPLY]


async def _ingest(
    request: Request, source: str, body: Body, check: Callable[[], Checked], parse: Callable[[], PaymentNotice | None]
) -> str:
    """Record alone, then check and parse; post and close the message in one unit of work. Returns the outcome."""
    runtime: Runtime = request.app.state.runtime
    core = runtime.core
    received_at = utcnow()
    failure: Exception | None = None
    try:
        checked = check() if body.complete else NOT_CHECKED
    except Exception as exc:  # ours, such as a key file missing: the message is recorded all the same
        checked, failure = Checked(SignatureVerdict.INVALID), exc
    arrival = Arrival(source, KIND, body.head, body.size, request.headers, checked.verdict, received_at=received_at)
    recorded = await record(core.sessions, core.vault, arrival, max_body_bytes=runtime.settings.max_body_bytes)
    if recorded.refusal is not None:
        raise _Refused(REFUSAL_STATUS[recorded.refusal], recorded.reason or recorded.refusal)
    message_id = recorded.message_id
    if failure is not None:
        await close(
            core.sessions, message_id, Outcome.FAILED, f"signature check failed: {type(failure).__name__}: {failure}"
        )
        raise failure

    async def refuse(status: int, reason: str) -> _Refused:
        await close(core.sessions, message_id, Outcome.REJECTED, reason)
        return _Refused(status, reason)

    if checked.problem is not None:
        raise await refuse(401, checked.problem)
    try:
        notice = parse()
        if notice is not None:
            check_storable(notice)
        notice = refuse_misaddressed(notice, runtime.settings)
    except NoticeRejected as exc:
        raise await refuse(exc.status, str(exc)) from exc
    except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError, RecursionError) as exc:
        log.warning("payment parser let through %s on message %s", type(exc).__name__, message_id)
        raise await refuse(400, f"malformed notification: {type(exc).__name__}: {exc}") from exc
    try:
        async with core.sessions() as session, session.begin():
            if notice is None:
                await mark_outcome(session, message_id, Outcome.APPLIED, "moves no money")
                return "IGNORED"
            outbox = Outbox()
            posting = await post_notice(
                session, notice, outbox=outbox, inbound_message_id=message_id, received_at=received_at
            )
            await outbox.flush(session)
            note = None if posting.outcome == "POSTED" else f"{posting.outcome.lower()} of voucher {posting.voucher_id}"
            await mark_outcome(session, message_id, Outcome.APPLIED, note)
    except UserError as exc:
        raise await refuse(400, str(exc)) from exc
    except Exception as exc:
        await close(core.sessions, message_id, Outcome.FAILED, f"posting failed: {type(exc).__name__}: {exc}")
        raise
    runtime.relay.notify()
    return posting.outcome


def _limit(request: Request) -> int:
    runtime: Runtime = request.app.state.runtime
    return runtime.settings.max_body_bytes


@router.post("/wechatpay/notify")
async def wechatpay_notify(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    settings = runtime.settings
    body = await read_body(request, _limit(request))

    def check() -> Checked:
        if settings.wechatpay_platform_public_key_path is None or settings.wechatpay_apiv3_key is None:
            return Checked(SignatureVerdict.INVALID, "WeChat Pay is not configured")
        key = load_rsa_public_key(settings.wechatpay_platform_public_key_path)
        return wechatpay.check_signature(
            request.headers, body.head, key, settings.wechatpay_platform_serial, utcnow(),
            settings.notification_max_age_seconds,
        )  # fmt: skip

    apiv3 = settings.wechatpay_apiv3_key.get_secret_value().encode() if settings.wechatpay_apiv3_key else b""
    try:
        await _ingest(request, f"payments:{wechatpay.PROVIDER}", body, check,
                      lambda: wechatpay.parse_notification(body.head, apiv3))  # fmt: skip
    except _Refused as refused:
        return JSONResponse({"code": "FAIL", "message": refused.message}, status_code=refused.status)
    return Response(status_code=204)


@router.post("/alipay/notify")
async def alipay_notify(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    settings = runtime.settings
    body = await read_body(request, _limit(request))
    fields: dict[str, str] = {}

    def check() -> Checked:
        nonlocal fields
        try:
            fields = alipay.form_fields(body.head)
        except NoticeRejected as exc:
            return Checked(exc.verdict, str(exc))
        if settings.alipay_public_key_path is None:
            return Checked(SignatureVerdict.INVALID, "Alipay is not configured")
        return alipay.check_signature(fields, load_rsa_public_key(settings.alipay_public_key_path))

    try:
        await _ingest(request, f"payments:{alipay.PROVIDER}", body, check, lambda: alipay.parse_notification(fields))
    except _Refused as refused:
        # Anything but "success" makes Alipay retry, which is what a refused message deserves.
        return PlainTextResponse(f"fail: {refused.message}", status_code=refused.status)
    return PlainTextResponse(alipay.SUCCESS_REPLY)


@router.post("/{provider}/notify")
async def generic_notify(provider: str, request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    body = await read_body(request, _limit(request))
    secret = runtime.settings.payment_webhook_secrets.get(provider)

    def check() -> Checked:
        key = secret.get_secret_value().encode() if secret else None
        return generic.check_signature(request.headers.get(generic.SIGNATURE_HEADER), body.head, key)

    try:
        outcome = await _ingest(
            request, f"payments:{provider}", body, check, lambda: generic.parse_notification(provider, body.head)
        )
    except _Refused as refused:
        return JSONResponse({"code": "FAIL", "message": refused.message}, status_code=refused.status)
    return Response(json.dumps({"code": "SUCCESS", "outcome": outcome}), media_type="application/json")
