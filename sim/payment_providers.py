"""The payment providers' side of the wire: keys, signatures and encryption exactly as they send them.

Keys are generated per run; the platform's public halves are written where orderhub's settings point.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.ledger.providers import alipay, alipay_query, generic, wechatpay


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _rsa_sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


@dataclass
class WechatPayPlatform:
    key: rsa.RSAPrivateKey = field(default_factory=_new_key)
    apiv3_key: str = field(default_factory=lambda: secrets.token_hex(16))
    serial: str = field(default_factory=lambda: secrets.token_hex(20).upper())

    def write_public_key(self, path: Path) -> Path:
        path.write_bytes(_public_pem(self.key))
        return path

    def encrypt(self, resource: dict[str, Any], original_type: str = "transaction") -> dict[str, Any]:
        nonce = secrets.token_hex(6)
        associated = original_type
        ciphertext = AESGCM(self.apiv3_key.encode()).encrypt(
            nonce.encode(), json.dumps(resource, ensure_ascii=False).encode(), associated.encode()
        )
        return {
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": base64.b64encode(ciphertext).decode(),
            "associated_data": associated,
            "original_type": original_type,
            "nonce": nonce,
        }

    def notification(
        self, resource: dict[str, Any], *, event_type: str = "TRANSACTION.SUCCESS", timestamp: int, notice_id: str = ""
    ) -> tuple[dict[str, str], bytes]:
        original_type = "refund" if event_type.startswith("REFUND.") else "transaction"
        envelope = {
            "id": notice_id or secrets.token_hex(18),
            "create_time": "2026-11-24T20:16:00+08:00",
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": "支付成功" if original_type == "transaction" else "退款成功",
            "resource": self.encrypt(resource, original_type),
        }
        body = json.dumps(envelope, ensure_ascii=False).encode()
        return self.sign(body, timestamp), body

    def sign(self, body: bytes, timestamp: int) -> dict[str, str]:
        nonce = secrets.token_hex(16)
        return {
            "Content-Type": "application/json",
            "Wechatpay-Timestamp": str(timestamp),
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": _rsa_sign(self.key, wechatpay.signed_message(str(timestamp), nonce, body)),
            "Wechatpay-Serial": self.serial,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }

    def query_answer(self, status: int, answer: dict[str, Any], timestamp: int) -> tuple[int, dict[str, str], bytes]:
        """A query's answer as the platform sends it: the JSON in clear, signed in the headers."""
        body = json.dumps(answer, ensure_ascii=False).encode()
        return status, self.sign(body, timestamp), body


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    """A merchant's API key file, as the providers' key tools write it (PKCS#8)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def verify_wechatpay_request(authorization: str, method: str, target: str, body: bytes, key: rsa.RSAPublicKey) -> bool:
    """What WeChat Pay checks before it answers: the WECHATPAY2-SHA256-RSA2048 header against the merchant key."""
    scheme, _, rest = authorization.partition(" ")
    if scheme != "WECHATPAY2-SHA256-RSA2048":
        return False
    fields = dict(part.split("=", 1) for part in rest.split(","))
    values = {k.strip(): v.strip().strip('"') for k, v in fields.items()}
    message = f"{method}\n{target}\n{values['timestamp']}\n{values['nonce_str']}\n".encode() + body + b"\n"
    try:
        key.verify(base64.b64decode(values["signature"]), message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


WECHATPAY_MCHID = "1230000109"
WECHATPAY_APPID = "wx2421b1c4370ec43b"


def wechat_transaction(
    out_trade_no: str, transaction_id: str, total: int, *, coupon: int = 0, state: str = "SUCCESS",
    success_time: str = "2026-11-24T20:15:45+08:00", currency: str = "CNY", mchid: str = WECHATPAY_MCHID,
    appid: str = WECHATPAY_APPID,
) -> dict[str, Any]:  # fmt: skip
    resource: dict[str, Any] = {
        "appid": appid,
        "mchid": mchid,
        "out_trade_no": out_trade_no,
        "transaction_id": transaction_id,
        "trade_type": "JSAPI",
        "trade_state": state,
        "trade_state_desc": "支付成功",
        "bank_type": "CMC",
        "success_time": success_time,
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        "amount": {"total": total, "payer_total": total - coupon, "currency": currency, "payer_currency": currency},
    }
    if coupon:
        resource["promotion_detail"] = [
            {"coupon_id": "109519", "name": "单品惠-6", "scope": "SINGLE", "type": "CASH", "amount": coupon}
        ]
    return resource


def wechat_refund(out_trade_no: str, transaction_id: str, refund_id: str, refund: int, total: int) -> dict[str, Any]:
    return {
        "mchid": WECHATPAY_MCHID,
        "out_trade_no": out_trade_no,
        "transaction_id": transaction_id,
        "out_refund_no": f"R{out_trade_no}",
        "refund_id": refund_id,
        "refund_status": "SUCCESS",
        "success_time": "2026-11-24T21:00:00+08:00",
        "amount": {"total": total, "refund": refund, "payer_total": total, "payer_refund": refund},
    }


@dataclass
class AlipayPlatform:
    key: rsa.RSAPrivateKey = field(default_factory=_new_key)

    def write_public_key(self, path: Path) -> Path:
        path.write_bytes(_public_pem(self.key))
        return path

    def notification(self, fields: dict[str, str], charset: str = "utf-8") -> bytes:
        """Signed over the text encoded in the declared charset and sent percent-escaped in that charset."""
        signed = dict(fields, sign_type="RSA2", charset=charset)
        signed["sign"] = _rsa_sign(self.key, alipay.signing_content(signed))
        return urlencode(signed, encoding=charset).encode()

    def query_answer(self, response: dict[str, Any], *, signed: bool = True) -> bytes:
        """The gateway's answer: the response object's exact text is what the sign covers."""
        text = json.dumps(response, ensure_ascii=False, separators=(",", ":"))
        if not signed:
            return f'{{"{alipay_query.RESPONSE_KEY}":{text}}}'.encode()
        sign = _rsa_sign(self.key, text.encode())
        return f'{{"{alipay_query.RESPONSE_KEY}":{text},"sign":"{sign}"}}'.encode()


def verify_alipay_request(params: dict[str, str], key: rsa.RSAPublicKey) -> bool:
    try:
        key.verify(
            base64.b64decode(params["sign"]), alipay_query.request_signing_content(params), padding.PKCS1v15(),
            hashes.SHA256(),
        )  # fmt: skip
    except (InvalidSignature, KeyError):
        return False
    return True


ALIPAY_SELLER_ID = "2088721033871945"
ALIPAY_APP_ID = "9021000136624944"


def alipay_trade(
    out_trade_no: str, trade_no: str, total: str, *, status: str = "TRADE_SUCCESS", seller_id: str = ALIPAY_SELLER_ID,
    app_id: str = ALIPAY_APP_ID,
) -> dict[str, str]:  # fmt: skip
    """The fields of Alipay's published trade_status_sync example (fund_bill_list is JSON inside the form)."""
    return {
        "notify_time": "2026-11-24 20:16:00",
        "notify_type": "trade_status_sync",
        "notify_id": secrets.token_hex(16),
        "version": "1.0",
        "app_id": app_id,
        "auth_app_id": app_id,
        "seller_id": seller_id,
        "buyer_id": "2088722033871957",
        "trade_no": trade_no,
        "out_trade_no": out_trade_no,
        "trade_status": status,
        "total_amount": total,
        "receipt_amount": total,
        "invoice_amount": total,
        "buyer_pay_amount": total,
        "point_amount": "0.00",
        "fund_bill_list": json.dumps([{"amount": total, "fundChannel": "ALIPAYACCOUNT"}], separators=(",", ":")),
        "gmt_create": "2026-11-24 20:15:03",
        "gmt_payment": "2026-11-24 20:15:40",
        "subject": "明前龙井",
    }


def generic_notification(secret: str, payload: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    body = json.dumps(payload).encode()
    return {"Content-Type": "application/json", "X-Orderhub-Signature": generic.sign(secret.encode(), body)}, body
