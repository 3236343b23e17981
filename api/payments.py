"""Payment notifications in the providers' own wire formats: record, verify, decrypt, post, answer."""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from domain.clock import utcnow
from domain.intake.models import Outcome, SignatureVerdict
from domain.intake.service import mark_outcome, record_inbound
from domain.ledger.checks import refuse_misaddressed
from domain.ledger.providers import alipay, generic, wechatpay
from domain.ledger.providers.verdict import Checked, NoticeRejected, load_rsa_public_key
from domain.ledger.service import PaymentNotice, post_notice
from domain.outbox.service import Outbox
from workers.runtime import Runtime

router = APIRouter(prefix="/payments", tags=["payments"])
KIND = "payment-notification"


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def _ingest(
    request: Request, source: str, body: bytes, checked: Checked, parse: Callable[[], PaymentNotice | None]
) -> str:
    """Records the message and posts it in one transaction; returns the outcome.

    A message is never lost: whenever that one transaction cannot commit as a whole (a refused signature or
    notice, a posting that fails), the message is recorded alone, in its own transaction, with the reason.
    """
    runtime: Runtime = request.app.state.runtime
    received_at = utcnow()

    async def record_alone(outcome: Outcome, reason: str) -> None:
        async with runtime.core.sessions() as session, session.begin():
            message_id, _ = await record_inbound(
                session, runtime.core.vault, source=source, kind=KIND, body=body, headers=request.headers,
                signature=checked.verdict, received_at=received_at,
            )  # fmt: skip
            await mark_outcome(session, message_id, outcome, reason)

    if checked.problem is not None:
        await record_alone(Outcome.REJECTED, checked.problem)
        raise _Refused(401, checked.problem)
    try:
        notice = refuse_misaddressed(parse(), runtime.settings)
    except NoticeRejected as exc:
        await record_alone(Outcome.REJECTED, str(exc))
        raise _Refused(exc.status, str(exc)) from exc
    try:
        async with runtime.core.sessions() as session, session.begin():
            message_id, _ = await record_inbound(
                session, runtime.core.vault, source=source, kind=KIND, body=body, headers=request.headers,
                signature=checked.verdict, received_at=received_at,
            )  # fmt: skip
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
    except Exception as exc:
        await record_alone(Outcome.FAILED, f"posting failed: {type(exc).__name__}: {exc}"[:2000])
        raise
    runtime.relay.notify()
    return posting.outcome


@router.post("/wechatpay/notify")
async def wechatpay_notify(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    settings = runtime.settings
    body = await request.body()
    if settings.wechatpay_platform_public_key_path is None or settings.wechatpay_apiv3_key is None:
        checked = Checked(SignatureVerdict.INVALID, "WeChat Pay is not configured")
    else:
        key = load_rsa_public_key(settings.wechatpay_platform_public_key_path)
        checked = wechatpay.check_signature(
            request.headers, body, key, settings.wechatpay_platform_serial, utcnow(),
            settings.notification_max_age_seconds,
        )  # fmt: skip
    apiv3 = settings.wechatpay_apiv3_key.get_secret_value().encode() if settings.wechatpay_apiv3_key else b""
    try:
        await _ingest(request, f"payments:{wechatpay.PROVIDER}", body, checked,
                      lambda: wechatpay.parse_notification(body, apiv3))  # fmt: skip
    except _Refused as refused:
        return JSONResponse({"code": "FAIL", "message": refused.message}, status_code=refused.status)
    return Response(status_code=204)


@router.post("/alipay/notify")
async def alipay_notify(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    settings = runtime.settings
    body = await request.body()
    try:
        fields = alipay.form_fields(body)
    except NoticeRejected as exc:
        fields, checked = {}, Checked(exc.verdict, str(exc))
    else:
        if settings.alipay_public_key_path is None:
            checked = Checked(SignatureVerdict.INVALID, "Alipay is not configured")
        else:
            checked = alipay.check_signature(fields, load_rsa_public_key(settings.alipay_public_key_path))
    try:
        await _ingest(request, f"payments:{alipay.PROVIDER}", body, checked, lambda: alipay.parse_notification(fields))
    except _Refused as refused:
        # Anything but "success" makes Alipay retry, which is what a refused message deserves.
        return PlainTextResponse(f"fail: {refused.message}", status_code=refused.status)
    return PlainTextResponse(alipay.SUCCESS_REPLY)


@router.post("/{provider}/notify")
async def generic_notify(provider: str, request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    body = await request.body()
    secret = runtime.settings.payment_webhook_secrets.get(provider)
    checked = generic.check_signature(
        request.headers.get(generic.SIGNATURE_HEADER), body, secret.get_secret_value().encode() if secret else None
    )
    try:
        outcome = await _ingest(
            request, f"payments:{provider}", body, checked, lambda: generic.parse_notification(provider, body)
        )
    except _Refused as refused:
        return JSONResponse({"code": "FAIL", "message": refused.message}, status_code=refused.status)
    return Response(json.dumps({"code": "SUCCESS", "outcome": outcome}), media_type="application/json")
