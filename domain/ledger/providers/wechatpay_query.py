"""WeChat Pay v3 query by merchant order number (`GET /v3/pay/transactions/out-trade-no/{out_trade_no}`).

The request is signed with the merchant's API private key in the `WECHATPAY2-SHA256-RSA2048` scheme; the
answer is signed by the platform exactly like a notification (`wechatpay.check_signature`) and, unlike one,
carries the transaction in clear.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from domain.ledger.providers import wechatpay
from domain.ledger.providers.answer import QueryOutcome, Reading, http_failure
from domain.ledger.providers.verdict import NoticeRejected

SCHEME = "WECHATPAY2-SHA256-RSA2048"
_PAID = {"SUCCESS", "REFUND"}  # REFUND: paid, then (part) refunded; the refund is a voucher of its own
_NOT_FOUND = {"ORDER_NOT_EXIST", "RESOURCE_NOT_EXISTS"}


def query_target(out_trade_no: str, mchid: str) -> str:
    """The path and query as signed and sent: the order number is one path segment, escaped."""
    return f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}?mchid={quote(mchid, safe='')}"


def authorization(
    key: RSAPrivateKey, mchid: str, serial_no: str, method: str, target: str, body: bytes, timestamp: int, nonce: str
) -> str:
    """The Authorization header: the method, path, time, nonce and body, each followed by a newline, signed."""
    message = f"{method}\n{target}\n{timestamp}\n{nonce}\n".encode() + body + b"\n"
    signature = base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()
    return (
        f'{SCHEME} mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial_no}"'
    )


def must_be_signed(status: int) -> bool:
    """An answer that may move money is signed; a gateway's 429 or 5xx may come unsigned and moves nothing."""
    return status < 429


def read_answer(status: int, body: bytes) -> Reading:
    data = _json(body)
    detail = (
        f"{data.get('code')}: {data.get('message')}"
        if isinstance(data, dict)
        else body[:120].decode("utf-8", "replace")
    )
    failed = http_failure(status, detail)
    if failed is not None:
        return failed
    if not isinstance(data, dict):
        return Reading(QueryOutcome.MALFORMED, f"HTTP {status}: answer is not a JSON object: {detail!r}"[:300])
    if status == 404 or data.get("code") in _NOT_FOUND:
        return Reading(QueryOutcome.NOT_FOUND, f"HTTP {status} {detail}"[:300])
    if status != 200:
        return Reading(QueryOutcome.REFUSED, f"HTTP {status} {detail}"[:300])
    state = str(data.get("trade_state") or "")
    if state not in _PAID:
        return Reading(QueryOutcome.NOT_PAID, f"trade_state {state or 'missing'}: {data.get('trade_state_desc') or ''}")
    try:
        notice = wechatpay.transaction_notice({**data, "trade_state": "SUCCESS"})
    except (KeyError, TypeError, ValueError, OverflowError) as exc:  # NoticeRejected is a ValueError
        reason = str(exc) if isinstance(exc, NoticeRejected) else f"field missing or malformed: {exc!r}"
        return Reading(QueryOutcome.MALFORMED, reason[:300])
    assert notice is not None
    return Reading(QueryOutcome.POSTED, f"trade_state {state}", replace(notice, raw=data))


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None
