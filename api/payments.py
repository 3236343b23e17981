"""Payment notifications in the providers' own wire formats: read, hand to the pipeline, answer.

Each endpoint reads the body (capped at ORDERHUB_MAX_BODY_BYTES), says how its provider's signature is
checked and its notice parsed, and hands the rest to `domain.pipeline.payment`, which records, posts and
closes the message in one transaction. Whatever the sender got wrong, from the signature to a field the
ledger cannot hold, is answered 4xx in the provider's failure format with the reason, which is also the
recorded outcome; a 5xx is left for our own failures, which the provider is right to retry.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from api.inbound import Body, new_message, read_body
from domain.clock import utcnow
from domain.identity.masking import mask_phones
from domain.intake.models import SignatureVerdict
from domain.ledger.providers import alipay, generic, wechatpay
from domain.ledger.providers.verdict import Checked, NoticeRejected, load_rsa_public_key
from domain.ledger.service import PaymentNotice
from domain.pipeline.payment import KIND, Notification, NotificationRefused
from domain.pipeline.record import Arrival
from domain.settings import Settings
from runtime.process import Runtime

router = APIRouter(prefix="/payments", tags=["payments"])
MAX_REPLY = 300  # the reason is answered, never the sender's body echoed back


def payment_sources(settings: Settings) -> frozenset[str]:
    """The payment sources metrics name: the providers served here and the generic ones configured. Any
    other `/payments/<name>/notify` is counted as `payments:unknown` (the name is the sender's to choose)."""
    providers = {wechatpay.PROVIDER, alipay.PROVIDER, *settings.payment_webhook_secrets}
    return frozenset(f"payments:{p}" for p in providers)


def _reply(refused: NotificationRefused) -> str:
    return mask_phones(refused.reason)[:MAX_REPLY]


async def _ingest(
    request: Request, source: str, body: Body, check: Callable[[], Checked], parse: Callable[[], PaymentNotice | None]
) -> str:
    """The pipeline's payment handler does the rest; raises NotificationRefused. Returns the outcome."""
    runtime: Runtime = request.app.state.runtime
    arrival = Arrival(source, KIND, body.head, body.size, request.headers, SignatureVerdict.NOT_APPLICABLE,
                      received_at=utcnow())  # fmt: skip
    message = new_message(runtime)
    return await runtime.core.payment_notifications(message, Notification(arrival, body.complete, check, parse))


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
    except NotificationRefused as refused:
        return JSONResponse({"code": "FAIL", "message": _reply(refused)}, status_code=refused.status)
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
    except NotificationRefused as refused:
        # Anything but "success" makes Alipay retry, which is what a refused message deserves.
        return PlainTextResponse(f"fail: {_reply(refused)}", status_code=refused.status)
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
    except NotificationRefused as refused:
        return JSONResponse({"code": "FAIL", "message": _reply(refused)}, status_code=refused.status)
    return Response(json.dumps({"code": "SUCCESS", "outcome": outcome}), media_type="application/json")
