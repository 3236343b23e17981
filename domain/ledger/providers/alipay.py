"""Alipay asynchronous notifications: form fields signed with RSA2 (SHA256withRSA) over the sorted pairs."""

from __future__ import annotations

import base64
import binascii
import codecs
from collections.abc import Mapping
from urllib.parse import parse_qsl

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from domain.intake.models import SignatureVerdict
from domain.ledger.models import VoucherKind, VoucherStatus
from domain.ledger.providers.verdict import Checked, NoticeRejected, china_time
from domain.ledger.service import PaymentNotice
from domain.money import MoneyError, parse_minor

PROVIDER = "alipay"
SUCCESS_REPLY = "success"
_PAID = {"TRADE_SUCCESS", "TRADE_FINISHED"}
PAYEE_FIELDS = ("seller_id", "app_id")


def form_fields(body: bytes) -> dict[str, str]:
    """Decoded with the charset the message declares (its `charset` field, UTF-8 when absent), as Alipay
    signed it. The pairs are split on the raw bytes first, so percent-escaped GBK and raw GBK both arrive whole.
    """
    try:
        pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True, strict_parsing=bool(body), encoding="latin-1")
        charset = declared_charset(dict(pairs))
        return {k.encode("latin-1").decode(charset): v.encode("latin-1").decode(charset) for k, v in pairs}
    except (UnicodeError, ValueError, LookupError) as exc:
        raise NoticeRejected(f"body is not a form: {exc}", SignatureVerdict.MISSING) from exc


def declared_charset(fields: Mapping[str, str]) -> str:
    """Alipay sends UTF-8, GBK or GB2312; GBK is a superset of GB2312 and decodes what a GB2312 sender means."""
    charset = (fields.get("charset") or "utf-8").strip().lower()
    charset = "gbk" if charset == "gb2312" else charset
    codecs.lookup(charset)
    return charset


def signing_content(fields: Mapping[str, str]) -> bytes:
    """Alipay signs every non-empty parameter except sign and sign_type, sorted by name, joined k=v&k=v,
    as bytes in the message's own charset."""
    pairs = sorted((k, v) for k, v in fields.items() if k not in ("sign", "sign_type") and v != "")
    return "&".join(f"{k}={v}" for k, v in pairs).encode(declared_charset(fields))


def check_signature(fields: Mapping[str, str], key: RSAPublicKey) -> Checked:
    if not fields.get("sign"):
        return Checked(SignatureVerdict.MISSING, "sign missing")
    if fields.get("sign_type", "RSA2") != "RSA2":
        return Checked(SignatureVerdict.INVALID, f"sign_type {fields.get('sign_type')!r} refused; only RSA2")
    try:
        content = signing_content(fields)
    except LookupError:
        return Checked(SignatureVerdict.INVALID, "sign does not match the Alipay public key")
    return verify_rsa2(content, fields["sign"], key)


def verify_rsa2(content: bytes, sign: str, key: RSAPublicKey) -> Checked:
    """SHA256withRSA over the signed bytes, as every Alipay message (notification or gateway answer) is signed."""
    try:
        key.verify(base64.b64decode(sign, validate=True), content, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return Checked(SignatureVerdict.INVALID, "sign does not match the Alipay public key")
    return Checked(SignatureVerdict.VALID)


def parse_notification(fields: Mapping[str, str]) -> PaymentNotice | None:
    """A refund arrives as a notification of the trade carrying refund_fee; the refund's own key is out_biz_no."""
    try:
        trade_no = fields["trade_no"]
        status = fields["trade_status"]
        raw = dict(fields)
        payee = {name: fields[name] for name in PAYEE_FIELDS if fields.get(name)}
        refund_fee = fields.get("refund_fee", "")
        if refund_fee and parse_minor(refund_fee, "CNY") > 0:
            when = fields.get("gmt_refund")
            return PaymentNotice(
                provider=PROVIDER,
                provider_txn_id=f"{trade_no}:{fields.get('out_biz_no') or 'refund'}",
                kind=VoucherKind.REFUND,
                order_ref=fields.get("out_trade_no") or None,
                amount=-parse_minor(refund_fee, "CNY"),
                currency="CNY",
                status=VoucherStatus.CONFIRMED,
                provider_time=china_time(when) if when else None,
                raw=raw,
                payee=payee,
            )
        if status not in _PAID and status != "WAIT_BUYER_PAY":
            return None
        when = fields.get("gmt_payment")
        return PaymentNotice(
            provider=PROVIDER,
            provider_txn_id=trade_no,
            kind=VoucherKind.PAYMENT,
            order_ref=fields.get("out_trade_no") or None,
            amount=parse_minor(fields["total_amount"], "CNY"),
            currency="CNY",
            status=VoucherStatus.CONFIRMED if status in _PAID else VoucherStatus.PENDING,
            provider_time=china_time(when) if when else None,
            raw=raw,
            payee=payee,
        )
    except KeyError as exc:
        raise NoticeRejected(f"field {exc.args[0]} missing", SignatureVerdict.VALID) from exc
    except (MoneyError, ValueError) as exc:
        raise NoticeRejected(f"malformed field: {exc}", SignatureVerdict.VALID) from exc
