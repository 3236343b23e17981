"""JPush REST API v3: one notification to a buyer's devices by registration id.

POST {base}/v3/push with HTTP Basic auth (appKey:masterSecret) and a JSON push object; 200 answers
{"sendno": "...", "msg_id": "..."}, a refusal {"error": {"code": 1011, "message": "..."}}. Codes that say the
request itself is wrong (bad auth, no such audience, bad parameters) are final; server errors, timeouts and
the frequency limit (2002, HTTP 429) are worth trying again later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from domain.push.service import Delivery
from domain.settings import Settings

TRANSIENT_CODES = frozenset({1000, 1030, 2002})
"""Internal error, internal timeout, and the API frequency limit."""


class PushUnavailable(Exception):
    """JPush could not take the push now: try again later."""


class PushRefused(Exception):
    """JPush refused the push for good (`code` as JPush numbers it)."""

    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(f"JPush {code}: {message}" if code is not None else message)
        self.code = code


@dataclass(frozen=True)
class JPush:
    base_url: str
    app_key: str
    master_secret: str
    time_to_live_s: int
    apns_production: bool
    timeout_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> JPush | None:
        """None when no app is configured: notices then stay owed until one is."""
        if not settings.jpush_app_key or settings.jpush_master_secret is None:
            return None
        return cls(
            settings.jpush_base_url.rstrip("/"),
            settings.jpush_app_key,
            settings.jpush_master_secret.get_secret_value(),
            settings.push_time_to_live_seconds,
            settings.jpush_apns_production,
            settings.push_timeout_seconds,
        )

    def body(self, delivery: Delivery) -> dict[str, Any]:
        notification: dict[str, Any] = {"alert": delivery.text}
        if "android" in delivery.platforms:
            notification["android"] = {"alert": delivery.text, "title": delivery.title, "extras": delivery.extras}
        if "ios" in delivery.platforms:
            notification["ios"] = {
                "alert": {"title": delivery.title, "body": delivery.text},
                "sound": "default",
                "badge": "+1",
                "extras": delivery.extras,
            }
        return {
            "platform": delivery.platforms,
            "audience": {"registration_id": delivery.registration_ids},
            "notification": notification,
            "options": {
                "sendno": delivery.notice_id,
                "time_to_live": self.time_to_live_s,
                "apns_production": self.apns_production,
            },
        }

    async def push(self, delivery: Delivery) -> str:
        """JPush's msg_id of the push."""
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as client:
                response = await client.post(
                    f"{self.base_url}/v3/push", json=self.body(delivery), auth=(self.app_key, self.master_secret)
                )
        except httpx.HTTPError as exc:
            raise PushUnavailable(f"JPush unreachable: {type(exc).__name__}: {exc}") from exc
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code == 200 and isinstance(answer, dict) and answer.get("msg_id") is not None:
            return str(answer["msg_id"])
        error = answer.get("error") if isinstance(answer, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        message = str(error.get("message")) if isinstance(error, dict) else f"HTTP {response.status_code}"
        if response.status_code >= 500 or response.status_code == 429 or code in TRANSIENT_CODES:
            raise PushUnavailable(f"JPush {code}: {message} (HTTP {response.status_code})")
        raise PushRefused(code if isinstance(code, int) else None, f"{message} (HTTP {response.status_code})")
