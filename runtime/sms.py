"""SMS providers for sign-in codes, chosen by `ORDERHUB_SMS_PROVIDER`: Alibaba Cloud SMS `SendSms` (RPC style,
signature version 1.0, HMAC-SHA1) or Tencent Cloud SMS `SendSms` (API 2021-01-11, TC3-HMAC-SHA256).

Each answers per request whether the message was accepted; a provider's throttling (per phone number,
per minute or day) and its outages are told apart, because the buyer is told to wait in one case and to
try again later in the other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import quote, urlsplit

import httpx

from domain.settings import Settings
from domain.signin.errors import SignInErrorCode


class ProviderError(Exception):
    """An outside service refused or failed: `code` is what the buyer is told, the message what is recorded."""

    def __init__(self, code: SignInErrorCode, detail: str) -> None:
        super().__init__(detail)
        self.code = code


class SmsSender(Protocol):
    @property
    def name(self) -> str: ...

    async def send_code(self, client: httpx.AsyncClient, e164: str, code: str) -> None: ...


def _unavailable(name: str, exc: Exception | str) -> ProviderError:
    detail = exc if isinstance(exc, str) else type(exc).__name__
    return ProviderError(SignInErrorCode.PROVIDER_UNAVAILABLE, f"{name}: {detail}")


def _json(name: str, response: httpx.Response) -> dict[str, object]:
    if response.status_code >= 500:
        raise _unavailable(name, f"HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError as exc:
        raise _unavailable(name, "answer is not JSON") from exc
    if not isinstance(body, dict):
        raise _unavailable(name, "answer is not a JSON object")
    return body


def aliyun_percent(text: str) -> str:
    """RFC 3986 encoding as Alibaba Cloud's signature v1 wants it: only A-Z a-z 0-9 - _ . ~ stay as they are."""
    return quote(text, safe="~")


def aliyun_signature(secret: str, method: str, params: dict[str, str]) -> str:
    canonical = "&".join(f"{aliyun_percent(k)}={aliyun_percent(v)}" for k, v in sorted(params.items()))
    to_sign = f"{method}&{aliyun_percent('/')}&{aliyun_percent(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


ALIYUN_THROTTLING = {"isv.BUSINESS_LIMIT_CONTROL", "isv.DAY_LIMIT_CONTROL", "Throttling.User", "Throttling"}


@dataclass(frozen=True)
class AliyunSms:
    base_url: str
    access_key_id: str
    access_key_secret: str
    sign_name: str
    template_code: str
    timeout_s: float
    name: str = "aliyun"

    async def send_code(self, client: httpx.AsyncClient, e164: str, code: str) -> None:
        params = {
            "AccessKeyId": self.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            # mainland numbers go as their 11 digits, others with the 00 international prefix
            "PhoneNumbers": e164[3:] if e164.startswith("+86") else "00" + e164.lstrip("+"),
            "RegionId": "cn-hangzhou",
            "SignName": self.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": secrets.token_hex(16),
            "SignatureVersion": "1.0",
            "TemplateCode": self.template_code,
            "TemplateParam": json.dumps({"code": code}),
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }
        query = {"Signature": aliyun_signature(self.access_key_secret, "GET", params), **params}
        url = (
            self.base_url.rstrip("/")
            + "/?"
            + "&".join(f"{aliyun_percent(k)}={aliyun_percent(v)}" for k, v in query.items())
        )
        try:
            response = await client.get(url, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            raise _unavailable(self.name, exc) from exc
        body = _json(self.name, response)
        result = str(body.get("Code"))
        if result == "OK":
            return
        detail = f"{self.name}: {result} {body.get('Message', '')}"
        if result in ALIYUN_THROTTLING:
            raise ProviderError(SignInErrorCode.PROVIDER_THROTTLED, detail)
        if result == "isv.MOBILE_NUMBER_ILLEGAL":
            raise ProviderError(SignInErrorCode.INVALID_PHONE, detail)
        raise ProviderError(SignInErrorCode.PROVIDER_REFUSED, detail)


def tc3_authorization(secret_id: str, secret_key: str, service: str, host: str, payload: bytes, timestamp: int) -> str:
    """Tencent Cloud API 3.0 signing (TC3-HMAC-SHA256) of a JSON POST to `/`."""
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    signed_headers = "content-type;host"
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:application/json; charset=utf-8\nhost:{host}\n",
            signed_headers,
            hashlib.sha256(payload).hexdigest(),
        ]
    )
    scope = f"{date}/{service}/tc3_request"
    to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"

    def _hmac(key: bytes, text: str) -> bytes:
        return hmac.new(key, text.encode(), hashlib.sha256).digest()

    signing = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    signature = hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"


@dataclass(frozen=True)
class TencentSms:
    base_url: str
    secret_id: str
    secret_key: str
    region: str
    sdk_app_id: str
    sign_name: str
    template_id: str
    timeout_s: float
    name: str = "tencent"

    async def send_code(self, client: httpx.AsyncClient, e164: str, code: str) -> None:
        payload = json.dumps(
            {
                "PhoneNumberSet": [e164],
                "SmsSdkAppId": self.sdk_app_id,
                "SignName": self.sign_name,
                "TemplateId": self.template_id,
                "TemplateParamSet": [code],
            }
        ).encode()
        host = urlsplit(self.base_url).netloc
        timestamp = int(datetime.now(UTC).timestamp())
        headers = {
            "Authorization": tc3_authorization(self.secret_id, self.secret_key, "sms", host, payload, timestamp),
            "Content-Type": "application/json; charset=utf-8",
            "Host": host,
            "X-TC-Action": "SendSms",
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Version": "2021-01-11",
            "X-TC-Region": self.region,
        }
        try:
            response = await client.post(self.base_url, content=payload, headers=headers, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            raise _unavailable(self.name, exc) from exc
        answer = _json(self.name, response).get("Response")
        if not isinstance(answer, dict):
            raise _unavailable(self.name, "answer without Response")
        error = answer.get("Error")
        if isinstance(error, dict):
            raise self._refusal(str(error.get("Code")), str(error.get("Message", "")))
        statuses = answer.get("SendStatusSet")
        status = statuses[0] if isinstance(statuses, list) and statuses and isinstance(statuses[0], dict) else None
        if status is None:
            raise _unavailable(self.name, "answer without SendStatusSet")
        if status.get("Code") != "Ok":
            raise self._refusal(str(status.get("Code")), str(status.get("Message", "")))

    def _refusal(self, code: str, message: str) -> ProviderError:
        detail = f"{self.name}: {code} {message}"
        if code.startswith(("LimitExceeded", "RequestLimitExceeded")):
            return ProviderError(SignInErrorCode.PROVIDER_THROTTLED, detail)
        if code in ("InternalError", "ServiceUnavailable") or code.startswith("InternalError."):
            return ProviderError(SignInErrorCode.PROVIDER_UNAVAILABLE, detail)
        if code in ("InvalidParameterValue.IncorrectPhoneNumber", "FailedOperation.PhoneNumberParseFail"):
            return ProviderError(SignInErrorCode.INVALID_PHONE, detail)
        return ProviderError(SignInErrorCode.PROVIDER_REFUSED, detail)


def sms_from_settings(settings: Settings) -> SmsSender | None:
    """None when no provider is chosen or its credentials are missing: code sign-in answers NOT_CONFIGURED."""
    timeout = settings.signin_provider_timeout_seconds
    if settings.sms_provider == "aliyun":
        s = settings
        if (
            s.aliyun_access_key_id
            and s.aliyun_access_key_secret
            and s.aliyun_sms_sign_name
            and s.aliyun_sms_template_code
        ):
            return AliyunSms(
                s.aliyun_sms_base,
                s.aliyun_access_key_id,
                s.aliyun_access_key_secret.get_secret_value(),
                s.aliyun_sms_sign_name,
                s.aliyun_sms_template_code,
                timeout,
            )
    if settings.sms_provider == "tencent":
        s = settings
        if s.tencent_secret_id and s.tencent_secret_key and s.tencent_sms_sdk_app_id and s.tencent_sms_sign_name:
            return TencentSms(
                s.tencent_sms_base,
                s.tencent_secret_id,
                s.tencent_secret_key.get_secret_value(),
                s.tencent_sms_region,
                s.tencent_sms_sdk_app_id,
                s.tencent_sms_sign_name,
                s.tencent_sms_template_id or "",
                timeout,
            )
    return None
