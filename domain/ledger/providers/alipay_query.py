"""Alipay `alipay.trade.query`: a gateway request signed RSA2 with the app's private key, and an answer whose
`alipay_trade_query_response` object is signed, as the exact text Alipay sent, with the Alipay public key."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from domain.intake.models import SignatureVerdict
from domain.ledger.models import VoucherKind, VoucherStatus
from domain.ledger.providers import alipay
from domain.ledger.providers.answer import QueryOutcome, Reading, http_failure
from domain.ledger.providers.verdict import CHINA, Checked, china_time
from domain.ledger.service import PaymentNotice
from domain.money import MoneyError, parse_minor

METHOD = "alipay.trade.query"
RESPONSE_KEY = "alipay_trade_query_response"
_NOT_PAID = {"WAIT_BUYER_PAY", "TRADE_CLOSED"}
_NOT_FOUND = {"ACQ.TRADE_NOT_EXIST"}
_UNAVAILABLE = {"ACQ.SYSTEM_ERROR", "isp.unknow-error"}


def request_signing_content(params: dict[str, str]) -> bytes:
    """A request is signed over every non-empty parameter but `sign` (sign_type included, unlike a notification)."""
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "sign" and v != "").encode()


def query_params(app_id: str, out_trade_no: str, key: RSAPrivateKey, now: datetime) -> dict[str, str]:
    params = {
        "app_id": app_id,
        "method": METHOD,
        "format": "JSON",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": now.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
        "version": "1.0",
        "biz_content": json.dumps({"out_trade_no": out_trade_no}, separators=(",", ":"), ensure_ascii=False),
    }
    signature = key.sign(request_signing_content(params), padding.PKCS1v15(), hashes.SHA256())
    return {**params, "sign": base64.b64encode(signature).decode()}


def signed_part(body: bytes) -> tuple[bytes, str | None] | None:
    """The response object's text exactly as sent (Alipay signs those bytes, not a re-serialization) and the
    sign beside it; None when the body is not such an answer."""
    try:
        text = body.decode("utf-8")
        whole = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(whole, dict) or not isinstance(whole.get(RESPONSE_KEY), dict):
        return None
    start = text.index(f'"{RESPONSE_KEY}"') + len(RESPONSE_KEY) + 2
    start = text.index(":", start) + 1
    while text[start] in " \t\r\n":
        start += 1
    _, end = json.JSONDecoder().raw_decode(text, start)
    sign = whole.get("sign")
    return text[start:end].encode("utf-8"), sign if isinstance(sign, str) and sign else None


def must_be_signed(status: int, body: bytes) -> bool:
    """An answer that says the trade was paid must be signed; an error Alipay could not sign moves nothing."""
    return status == 200 and b'"10000"' in body


def check_signature(status: int, body: bytes, key: RSAPublicKey) -> Checked:
    part = signed_part(body)
    if part is None or part[1] is None:
        if must_be_signed(status, body):
            return Checked(SignatureVerdict.MISSING, f"{RESPONSE_KEY} or its sign missing")
        return Checked(SignatureVerdict.NOT_APPLICABLE)
    return alipay.verify_rsa2(part[0], part[1], key)


def read_answer(status: int, body: bytes) -> Reading:
    part = signed_part(body)
    response: Any = json.loads(part[0]) if part is not None else None
    detail = _detail(response) if response is not None else body[:120].decode("utf-8", "replace")
    failed = http_failure(status, detail)
    if failed is not None:
        return failed
    if response is None:
        return Reading(QueryOutcome.MALFORMED, f"HTTP {status}: not an {RESPONSE_KEY}: {detail!r}"[:300])
    code, sub_code = str(response.get("code") or ""), str(response.get("sub_code") or "")
    if sub_code in _NOT_FOUND:
        return Reading(QueryOutcome.NOT_FOUND, detail)
    if code == "20000" or sub_code in _UNAVAILABLE:
        return Reading(QueryOutcome.UNAVAILABLE, detail)
    if code != "10000" or status != 200:
        return Reading(QueryOutcome.REFUSED, f"HTTP {status} {detail}"[:300])
    state = str(response.get("trade_status") or "")
    if state in _NOT_PAID or state not in {"TRADE_SUCCESS", "TRADE_FINISHED"}:
        return Reading(QueryOutcome.NOT_PAID, f"trade_status {state or 'missing'}")
    try:
        notice = _notice(response)
    except (KeyError, ValueError, MoneyError) as exc:
        return Reading(QueryOutcome.MALFORMED, f"field missing or malformed: {exc!r}"[:300])
    return Reading(QueryOutcome.POSTED, f"trade_status {state}", notice)


def _notice(response: dict[str, Any]) -> PaymentNotice:
    currency = str(response.get("trans_currency") or "CNY")
    paid_at = response.get("send_pay_date")
    return PaymentNotice(
        provider=alipay.PROVIDER,
        provider_txn_id=str(response["trade_no"]),
        kind=VoucherKind.PAYMENT,
        order_ref=str(response.get("out_trade_no") or "") or None,
        amount=parse_minor(str(response["total_amount"]), currency),
        currency=currency,
        status=VoucherStatus.CONFIRMED,
        provider_time=china_time(str(paid_at)) if paid_at else None,
        raw=response,
        payee={},  # a query answers for the app that signed the request: no seller to compare
    )


def _detail(response: dict[str, Any]) -> str:
    parts = [str(response.get(k)) for k in ("code", "msg", "sub_code", "sub_msg") if response.get(k)]
    return " ".join(parts)[:300]
