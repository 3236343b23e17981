"""Local stand-ins for WeChat's jscode2session, Alibaba Cloud SMS and Tencent Cloud SMS, answering in their
published wire formats and checking each request's signature the way the provider does (written apart from
orderhub's own signing code, so a wrong signature is refused here)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, urlparse

WECHAT_APPID = "wx1234567890abcdef"
WECHAT_SECRET = "wechat-app-secret-0123456789"
ALIYUN_KEY_ID = "LTAI-test-key"
ALIYUN_SECRET = "aliyun-test-secret"
TENCENT_ID = "AKID-test"
TENCENT_KEY = "tencent-test-key"


@dataclass
class Providers:
    """What the fakes know and remember: WeChat codes per buyer, codes texted per phone, and the mode."""

    wechat_codes: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    used_codes: set[str] = field(default_factory=set)
    texted: dict[str, list[str]] = field(default_factory=dict)
    refusals: list[str] = field(default_factory=list)
    mode: str = "ok"  # ok | throttle | down | slow
    base_url: str = ""

    def last_code(self, phone: str) -> str:
        return self.texted[phone][-1]


class _Server(ThreadingHTTPServer):
    state: Providers


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _answer(self, status: int, body: dict[str, Any], content_type: str = "application/json") -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if self.server.state.mode == "down":
            self._answer(503, {"message": "service unavailable"})
        elif url.path == "/sns/jscode2session":
            self._wechat(dict(parse_qsl(url.query)))
        else:
            self._aliyun(url.query)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.server.state.mode == "slow":
            time.sleep(1.0)  # past the client's timeout in the tests that use it
        if self.server.state.mode == "down":
            self._answer(502, {"message": "bad gateway"})
        else:
            self._tencent(body)

    def _wechat(self, query: dict[str, str]) -> None:
        """WeChat answers 200 with JSON labelled text/plain, success or not."""
        state = self.server.state
        code = query.get("js_code", "")
        if query.get("appid") != WECHAT_APPID or query.get("secret") != WECHAT_SECRET:
            answer: dict[str, Any] = {"errcode": 40125, "errmsg": "invalid appsecret"}
        elif query.get("grant_type") != "authorization_code":
            answer = {"errcode": 40002, "errmsg": "invalid grant_type"}
        elif state.mode == "throttle":
            answer = {"errcode": 45011, "errmsg": "api minute-quota reach limit  mustslower  retry next minute"}
        elif code in state.used_codes:
            answer = {"errcode": 40163, "errmsg": "code been used"}
        elif code not in state.wechat_codes:
            answer = {"errcode": 40029, "errmsg": "invalid code"}
        else:
            state.used_codes.add(code)
            openid, unionid = state.wechat_codes[code]
            answer = {"openid": openid, "session_key": "tiihtNczf5v6AKRyjwEUhQ=="}
            if unionid:
                answer["unionid"] = unionid
        self._answer(200, answer, "text/plain")

    def _aliyun(self, raw_query: str) -> None:
        state = self.server.state
        params = dict(parse_qsl(raw_query, keep_blank_values=True))
        signature = params.pop("Signature", "")

        def enc(text: str) -> str:
            return quote(text, safe="-_.~")

        canonical = "&".join(f"{enc(k)}={enc(params[k])}" for k in sorted(params))
        string_to_sign = "GET&%2F&" + enc(canonical)
        expected = base64.b64encode(
            hmac.new((ALIYUN_SECRET + "&").encode(), string_to_sign.encode(), hashlib.sha1).digest()
        ).decode()
        stamp = time.mktime(time.strptime(params.get("Timestamp", "1970-01-01T00:00:00Z"), "%Y-%m-%dT%H:%M:%SZ"))
        fresh = abs(stamp - time.mktime(time.gmtime())) < 900
        shaped = (
            params.get("Action") == "SendSms"
            and params.get("Version") == "2017-05-25"
            and params.get("SignatureMethod") == "HMAC-SHA1"
            and params.get("SignatureVersion") == "1.0"
            and params.get("AccessKeyId") == ALIYUN_KEY_ID
            and bool(params.get("SignatureNonce"))
        )
        request_id = "F655A8D5-B967-440B-8683-DAD6FF8DE990"
        if not hmac.compare_digest(signature, expected) or not fresh or not shaped:
            state.refusals.append("aliyun:SignatureDoesNotMatch")
            message = "Specified signature is not matched with our calculation."
            self._answer(400, {"RequestId": request_id, "Code": "SignatureDoesNotMatch", "Message": message})
            return
        if state.mode == "throttle":
            answer = {
                "RequestId": request_id,
                "Code": "isv.BUSINESS_LIMIT_CONTROL",
                "Message": "触发分钟级流控Permits:1",
            }
            self._answer(200, answer)
            return
        phone = params["PhoneNumbers"]
        if not re.fullmatch(r"1\d{10}|00\d{6,15}", phone):
            self._answer(200, {"RequestId": request_id, "Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号"})
            return
        state.texted.setdefault(phone, []).append(json.loads(params["TemplateParam"])["code"])
        self._answer(200, {"Message": "OK", "RequestId": request_id, "BizId": "9006197469364984^0", "Code": "OK"})

    def _tencent(self, body: bytes) -> None:
        state = self.server.state
        auth = self.headers.get("Authorization", "")
        found = re.fullmatch(
            r"TC3-HMAC-SHA256 Credential=([^/]+)/(\d{4}-\d{2}-\d{2})/sms/tc3_request, "
            r"SignedHeaders=([a-z;-]+), Signature=([0-9a-f]{64})",
            auth,
        )
        request_id = "a0aabda6-cf91-4f3e-a27d-ee2e5c4f0f2c"
        valid = False
        if found is not None and found.group(1) == TENCENT_ID:
            date, signed, signature = found.group(2), found.group(3), found.group(4)
            timestamp = self.headers.get("X-TC-Timestamp", "0")
            headers = "".join(f"{h}:{self.headers.get(h, '').strip().lower()}\n" for h in signed.split(";"))
            canonical = f"POST\n/\n\n{headers}\n{signed}\n{hashlib.sha256(body).hexdigest()}"
            to_sign = (
                f"TC3-HMAC-SHA256\n{timestamp}\n{date}/sms/tc3_request\n"
                + hashlib.sha256(canonical.encode()).hexdigest()
            )
            key = ("TC3" + TENCENT_KEY).encode()
            for part in (date, "sms", "tc3_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
            fresh = abs(int(timestamp) - time.time()) < 300
            valid = hmac.compare_digest(expected, signature) and fresh and "host" in signed.split(";")
            valid = valid and time.strftime("%Y-%m-%d", time.gmtime(int(timestamp))) == date
        shaped = self.headers.get("X-TC-Action") == "SendSms" and self.headers.get("X-TC-Version") == "2021-01-11"
        if not valid or not shaped:
            state.refusals.append("tencent:AuthFailure.SignatureFailure")
            error = {
                "Code": "AuthFailure.SignatureFailure",
                "Message": "The provided credentials could not be validated.",
            }
            self._answer(200, {"Response": {"Error": error, "RequestId": request_id}})
            return
        payload = json.loads(body)
        phone = payload["PhoneNumberSet"][0]
        status: dict[str, Any] = {
            "SerialNo": "5000:1045710669157053657849499619",
            "PhoneNumber": phone,
            "Fee": 1,
            "SessionContext": "",
            "Code": "Ok",
            "Message": "send success",
            "IsoCode": "CN",
        }
        if state.mode == "throttle":
            status.update(
                Code="LimitExceeded.PhoneNumberThirtySecondLimit",
                Message="the number of sms messages "
                "sent from a single mobile number within 30 seconds exceeds the upper limit",
                Fee=0,
            )
        else:
            state.texted.setdefault(phone, []).append(payload["TemplateParamSet"][0])
        self._answer(200, {"Response": {"SendStatusSet": [status], "RequestId": request_id}})

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def providers() -> Iterator[Providers]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.state = Providers(base_url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.state
    finally:
        server.shutdown()
        server.server_close()


def provider_settings(base_url: str, sms: str = "aliyun") -> dict[str, Any]:
    return {
        "wechat_api_base": base_url,
        "wechat_mini_appid": WECHAT_APPID,
        "wechat_mini_secret": WECHAT_SECRET,
        "sms_provider": sms,
        "aliyun_sms_base": base_url,
        "aliyun_access_key_id": ALIYUN_KEY_ID,
        "aliyun_access_key_secret": ALIYUN_SECRET,
        "aliyun_sms_sign_name": "阿里云短信测试",
        "aliyun_sms_template_code": "SMS_154950909",
        "tencent_sms_base": base_url + "/",
        "tencent_secret_id": TENCENT_ID,
        "tencent_secret_key": TENCENT_KEY,
        "tencent_sms_sdk_app_id": "1400006666",
        "tencent_sms_sign_name": "腾讯云",
        "tencent_sms_template_id": "1110",
    }
