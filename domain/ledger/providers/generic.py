"""Other providers post JSON signed with HMAC-SHA256 under a secret shared per provider."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from domain.clock import as_utc
from domain.intake.models import SignatureVerdict
from domain.ledger.models import VoucherKind, VoucherStatus
from domain.ledger.providers.verdict import Checked, NoticeRejected
from domain.ledger.service import PaymentNotice
from domain.money import MoneyError, check_currency, parse_minor

SIGNATURE_HEADER = "x-orderhub-signature"


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def check_signature(signature: str | None, body: bytes, secret: bytes | None) -> Checked:
    if secret is None:
        return Checked(SignatureVerdict.INVALID, "no secret configured for this provider")
    if not signature:
        return Checked(SignatureVerdict.MISSING, f"{SIGNATURE_HEADER} header missing")
    if not hmac.compare_digest(signature.strip(), sign(secret, body)):
        return Checked(SignatureVerdict.INVALID, "signature does not match the body")
    return Checked(SignatureVerdict.VALID)


def parse_notification(provider: str, body: bytes) -> PaymentNotice:
    """{"transaction_id", "kind": payment|refund, "order_ref", "amount": "80.00" (refunds positive),
    "currency", "status": pending|confirmed, "occurred_at": ISO 8601 with offset}."""
    try:
        data: dict[str, Any] = json.loads(body)
        kind = VoucherKind(str(data["kind"]).upper())
        if kind == VoucherKind.REVERSAL:
            raise ValueError("kind must be payment or refund")
        currency = check_currency(str(data["currency"]))
        amount = parse_minor(str(data["amount"]), currency)
        occurred = data.get("occurred_at")
        return PaymentNotice(
            provider=provider,
            provider_txn_id=str(data["transaction_id"]),
            kind=kind,
            order_ref=data.get("order_ref") or None,
            amount=-amount if kind == VoucherKind.REFUND else amount,
            currency=currency,
            status=VoucherStatus(str(data.get("status", "confirmed")).upper()),
            provider_time=as_utc(datetime.fromisoformat(occurred)) if occurred else None,
            raw=data,
        )
    except KeyError as exc:
        raise NoticeRejected(f"field {exc.args[0]} missing", SignatureVerdict.VALID) from exc
    except (MoneyError, ValueError, TypeError) as exc:
        raise NoticeRejected(f"malformed notification: {exc}", SignatureVerdict.VALID) from exc
