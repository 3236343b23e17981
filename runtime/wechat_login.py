"""WeChat mini-program login: `jscode2session` exchanges the code `wx.login()` gave the app for the buyer's
openid (and unionid when the app is bound to an open platform account) and a session_key.

The session_key is what decrypts data the app later hands over; orderhub decrypts nothing, so it is
dropped here and never stored or logged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx

from domain.settings import Settings
from domain.signin.errors import SignInErrorCode
from runtime.sms import ProviderError

# WeChat's documented errcodes of jscode2session, and what each means for the buyer signing in.
ERRCODES: dict[int, SignInErrorCode] = {
    40029: SignInErrorCode.INVALID_CODE,  # invalid code
    40163: SignInErrorCode.CODE_ALREADY_USED,  # code been used
    45011: SignInErrorCode.PROVIDER_THROTTLED,  # API minute-quota reached (per user)
    40226: SignInErrorCode.PROVIDER_REFUSED,  # high-risk user, login blocked by WeChat
    -1: SignInErrorCode.PROVIDER_UNAVAILABLE,  # system busy
}


@dataclass(frozen=True)
class WechatBuyer:
    openid: str
    unionid: str | None


@dataclass(frozen=True)
class WechatLogin:
    base_url: str
    appid: str
    secret: str
    timeout_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> WechatLogin | None:
        if not settings.wechat_mini_appid or settings.wechat_mini_secret is None:
            return None
        return cls(
            settings.wechat_api_base.rstrip("/"),
            settings.wechat_mini_appid,
            settings.wechat_mini_secret.get_secret_value(),
            settings.signin_provider_timeout_seconds,
        )

    async def code_to_buyer(self, client: httpx.AsyncClient, code: str) -> WechatBuyer:
        params = {"appid": self.appid, "secret": self.secret, "js_code": code, "grant_type": "authorization_code"}
        try:
            response = await client.get(f"{self.base_url}/sns/jscode2session", params=params, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            raise ProviderError(SignInErrorCode.PROVIDER_UNAVAILABLE, f"wechat: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise ProviderError(SignInErrorCode.PROVIDER_UNAVAILABLE, f"wechat: HTTP {response.status_code}")
        try:
            # WeChat answers JSON labelled text/plain: parsed from the text, whatever the content type says.
            body = json.loads(response.text)
        except ValueError as exc:
            raise ProviderError(SignInErrorCode.PROVIDER_UNAVAILABLE, "wechat: answer is not JSON") from exc
        errcode = body.get("errcode", 0) if isinstance(body, dict) else None
        if errcode not in (0, None) or not isinstance(body, dict):
            code_of = ERRCODES.get(errcode, SignInErrorCode.PROVIDER_REFUSED) if isinstance(errcode, int) else None
            raise ProviderError(
                code_of or SignInErrorCode.PROVIDER_UNAVAILABLE, f"wechat: errcode {errcode} {body.get('errmsg', '')}"
            )
        openid, unionid = body.get("openid"), body.get("unionid")
        if not isinstance(openid, str) or not openid:
            raise ProviderError(SignInErrorCode.PROVIDER_UNAVAILABLE, "wechat: answer without an openid")
        return WechatBuyer(openid, unionid if isinstance(unionid, str) and unionid else None)
