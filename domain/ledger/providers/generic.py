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
from domain.ledger.providers.verdict import Checked, NoticeRejected, text_field
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
    if not hmac.compare_digest(signature.strip().encode(), sign(secret, body).encode()):
        return Checked(SignatureVerdict.INVALID, "signature does not match the body")
    return Checked(SignatureVerdict.VALID)


def parse_notification(provider: str, body: bytes) -> PaymentNotice:
    """{"transaction_id", "kind": payment|refund, "order_ref", "amount": "80.00" (refunds positive),
    "currency", "status": pending|confirmed, "occurred_at": ISO 8601 with offset}."""
    try:
        data: dict[str, Any] = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        kind = VoucherKind(str(text_field(data, "kind")).upper())
        if kind == VoucherKind.REVERSAL:
            raise ValueError("kind must be payment or refund")
        currency = check_currency(str(text_field(data, "currency")))
        amount = parse_minor(str(text_field(data, "amount")), currency)
        occurred = data.get("occurred_at")
        return PaymentNotice(
            provider=provider,
            provider_txn_id=str(text_field(data, "transaction_id")),
            kind=kind,
            order_ref=text_field(data, "order_ref", required=False),
            amount=-amount if kind == VoucherKind.REFUND else amount,
            currency=currency,
            status=VoucherStatus((text_field(data, "status", required=False) or "confirmed").upper()),
            provider_time=as_utc(datetime.fromisoformat(occurred)) if occurred else None,
            raw=data,
        )
    except KeyError as exc:
        raise NoticeRejected(f"field {exc.args[0]} missing", SignatureVerdict.VALID) from exc
    except NoticeRejected:
        raise
    except (MoneyError, ValueError, TypeError, OverflowError) as exc:
        raise NoticeRejected(f"malformed notification: {exc}"[:300], SignatureVerdict.VALID) from exc
    except RecursionError as exc:
        raise NoticeRejected("malformed notification: JSON nested too deeply", SignatureVerdict.VALID) from exc
