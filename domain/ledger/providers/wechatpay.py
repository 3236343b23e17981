"""WeChat Pay API v3 notifications: a signed envelope around an AES-256-GCM encrypted resource."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.intake.models import SignatureVerdict
from domain.ledger.models import VoucherKind, VoucherStatus
from domain.ledger.providers.verdict import Checked, NoticeRejected, text_field
from domain.ledger.service import PaymentNotice

PROVIDER = "wechatpay"
_PENDING_STATES = {"NOTPAY", "USERPAYING"}
PAYEE_FIELDS = ("mchid", "appid")
_HEADERS = ("wechatpay-timestamp", "wechatpay-nonce", "wechatpay-signature", "wechatpay-serial")


def signed_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    return timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body + b"\n"


def check_signature(
    headers: Mapping[str, str], body: bytes, key: RSAPublicKey, serial: str | None, now: datetime, max_age_s: int
) -> Checked:
    """A stale timestamp fails like a bad signature: a captured message replayed later is refused."""
    lowered = {k.lower(): v for k, v in headers.items()}
    missing = [h for h in _HEADERS if not lowered.get(h)]
    if missing:
        return Checked(SignatureVerdict.MISSING, f"missing headers: {', '.join(missing)}")
    if serial is not None and lowered["wechatpay-serial"] != serial:
        return Checked(SignatureVerdict.INVALID, f"unknown platform certificate serial {lowered['wechatpay-serial']}")
    try:
        timestamp = int(lowered["wechatpay-timestamp"])
        signature = base64.b64decode(lowered["wechatpay-signature"], validate=True)
    except (ValueError, binascii.Error):
        return Checked(SignatureVerdict.INVALID, "Wechatpay-Timestamp or Wechatpay-Signature is malformed")
    try:
        key.verify(
            signature,
            signed_message(lowered["wechatpay-timestamp"], lowered["wechatpay-nonce"], body),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except InvalidSignature:
        return Checked(SignatureVerdict.INVALID, "signature does not match the platform public key")
    if abs(now.timestamp() - timestamp) > max_age_s:
        return Checked(SignatureVerdict.INVALID, f"timestamp {timestamp} is more than {max_age_s} s from now")
    return Checked(SignatureVerdict.VALID)


def decrypt_resource(resource: Mapping[str, Any], apiv3_key: bytes) -> dict[str, Any]:
    if resource.get("algorithm") != "AEAD_AES_256_GCM":
        raise NoticeRejected(f"resource.algorithm {resource.get('algorithm')!r} unsupported", SignatureVerdict.VALID)
    try:
        plain = AESGCM(apiv3_key).decrypt(
            str(resource["nonce"]).encode(),
            base64.b64decode(str(resource["ciphertext"])),
            str(resource.get("associated_data") or "").encode(),
        )
    except KeyError as exc:
        raise NoticeRejected(f"resource.{exc.args[0]} missing", SignatureVerdict.VALID) from exc
    except (InvalidTag, binascii.Error, ValueError) as exc:
        raise NoticeRejected("resource does not decrypt with the APIv3 key", SignatureVerdict.VALID) from exc
    try:
        decoded = json.loads(plain)
    except (ValueError, RecursionError) as exc:
        raise NoticeRejected("decrypted resource is not JSON", SignatureVerdict.VALID) from exc
    if not isinstance(decoded, dict):
        raise NoticeRejected("decrypted resource is not a JSON object", SignatureVerdict.VALID)
    return decoded


def parse_notification(body: bytes, apiv3_key: bytes) -> PaymentNotice | None:
    """None for a notification that moves no money (a closed or failed trade)."""
    try:
        envelope = json.loads(body)
        resource = envelope["resource"]
        event_type = str(envelope["event_type"])
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise NoticeRejected(f"body is not a WeChat Pay notification: {exc!r}"[:300], SignatureVerdict.VALID) from exc
    if not isinstance(resource, dict):
        raise NoticeRejected(f"resource must be an object, got {type(resource).__name__}", SignatureVerdict.VALID)
    data = decrypt_resource(resource, apiv3_key)
    try:
        if event_type.startswith("REFUND."):
            return _refund(event_type, data)
        return transaction_notice(data)
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise NoticeRejected(f"resource field missing or malformed: {exc}"[:300], SignatureVerdict.VALID) from exc


def _payee(data: dict[str, Any]) -> dict[str, str]:
    """A transaction names the merchant (mchid) and the app (appid) it paid; a refund names only the merchant."""
    return {name: str(data[name]) for name in PAYEE_FIELDS if data.get(name)}


def transaction_notice(data: dict[str, Any]) -> PaymentNotice | None:
    """A transaction as a notification's resource or a query's answer holds it; None when it moves no money."""
    state = text_field(data, "trade_state")
    if state != "SUCCESS" and state not in _PENDING_STATES:
        return None
    amount = data["amount"]
    success_time = data.get("success_time")
    return PaymentNotice(
        provider=PROVIDER,
        provider_txn_id=str(text_field(data, "transaction_id")),
        kind=VoucherKind.PAYMENT,
        order_ref=text_field(data, "out_trade_no", required=False),
        amount=int(amount["total"]),
        currency=str(amount.get("currency") or "CNY"),
        status=VoucherStatus.CONFIRMED if state == "SUCCESS" else VoucherStatus.PENDING,
        provider_time=datetime.fromisoformat(success_time) if success_time else None,
        raw=data,
        payee=_payee(data),
    )


def _refund(event_type: str, data: dict[str, Any]) -> PaymentNotice | None:
    if event_type != "REFUND.SUCCESS" or data.get("refund_status") != "SUCCESS":
        return None
    amount = data["amount"]
    success_time = data.get("success_time")
    return PaymentNotice(
        provider=PROVIDER,
        provider_txn_id=str(text_field(data, "refund_id")),
        kind=VoucherKind.REFUND,
        order_ref=text_field(data, "out_trade_no", required=False),
        amount=-int(amount["refund"]),
        currency=str(amount.get("currency") or "CNY"),
        status=VoucherStatus.CONFIRMED,
        provider_time=datetime.fromisoformat(success_time) if success_time else None,
        raw=data,
        payee=_payee(data),
    )
