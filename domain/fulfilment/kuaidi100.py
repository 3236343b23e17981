"""Kuaidi100, the tracking aggregator: the subscribe request (`poll.kuaidi100.com/poll`) and its push callback.

A subscription posts `schema=json&param={company, number, key, parameters: {callbackurl, salt, resultv2}}`.
Kuaidi100 then pushes `param=<JSON>&sign=<MD5(param + salt), upper case>` to the callback whenever the parcel
moves: `lastResult.data` holds the whole history, newest first, each entry a context, a time (`ftime`, Beijing
time) and a status; so every entry becomes one piece of carrier evidence, keyed so that a push repeating the
history records nothing twice. `status: abort` with "3天查询无记录" is Kuaidi100 giving up on a number the
courier never scanned: the order's NO_COURIER_RECORD.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from domain.fulfilment.evidence import CarrierSubmission
from domain.intake.models import SignatureVerdict
from domain.ledger.providers.verdict import china_time

SUCCESS_REPLY = {"result": True, "returnCode": "200", "message": "成功"}
DUPLICATE_SUBSCRIPTION = "501"
_PICKED_UP = {"揽收", "1"}
_SIGNED = {"签收", "3"}


class PushRejected(ValueError):
    """A push we refuse: bad signature or not Kuaidi100's format; the reason is recorded and answered, the
    verdict is what the signature check concluded."""

    def __init__(self, message: str, verdict: SignatureVerdict = SignatureVerdict.VALID) -> None:
        super().__init__(message)
        self.verdict = verdict


@dataclass(frozen=True)
class Push:
    company: str
    number: str
    status: str  # polling, shutdown, abort, updateall
    message: str
    events: list[CarrierSubmission]

    @property
    def gave_up(self) -> bool:
        """Kuaidi100 stopped tracking a number no courier ever scanned."""
        return self.status == "abort" and not self.events


def subscribe_form(company: str, number: str, key: str, callback_url: str, salt: str) -> dict[str, str]:
    param = {
        "company": company,
        "number": number,
        "key": key,
        "parameters": {"callbackurl": callback_url, "salt": salt, "resultv2": "1"},
    }
    return {"schema": "json", "param": json.dumps(param, separators=(",", ":"), ensure_ascii=False)}


def subscribed(body: bytes) -> tuple[bool, str]:
    """(accepted, what Kuaidi100 said): a repeated subscription (501) is an accepted one."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return False, f"not JSON: {body[:80].decode('utf-8', 'replace')!r}"
    if not isinstance(data, dict):
        return False, "not a JSON object"
    code = str(data.get("returnCode") or "")
    ok = data.get("result") is True or code == DUPLICATE_SUBSCRIPTION
    return ok, f"{code} {data.get('message') or ''}".strip()


def push_sign(param: str, salt: str) -> str:
    return hashlib.md5((param + salt).encode()).hexdigest().upper()  # Kuaidi100 chose MD5; it only proves the salt


def check_push(form: dict[str, str], salt: str) -> None:
    param, sign = form.get("param"), form.get("sign")
    if not param or not sign:
        raise PushRejected("param or sign missing", SignatureVerdict.MISSING)
    if not hmac.compare_digest(sign.upper(), push_sign(param, salt)):
        raise PushRejected("sign does not match MD5(param + salt)", SignatureVerdict.INVALID)


def parse_push(param: str, carriers: dict[str, str]) -> Push:
    """`carriers` maps Kuaidi100's company codes to orderhub's carrier codes."""
    try:
        data = json.loads(param)
        last: dict[str, Any] = data.get("lastResult") or {}
        company = str(last.get("com") or data.get("comNew") or "")
        number = str(last.get("nu") or "")
        entries = last.get("data") or []
        if not number or not isinstance(entries, list):
            raise PushRejected("lastResult.nu or lastResult.data missing")
        carrier = carriers.get(company, company.upper())
        events = [_event(carrier, company, number, entry) for entry in entries]
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        if isinstance(exc, PushRejected):
            raise
        raise PushRejected(f"not a Kuaidi100 push: {type(exc).__name__}: {exc}"[:300]) from exc
    return Push(company, number, str(data.get("status") or ""), str(data.get("message") or ""), events)


def _event(carrier: str, company: str, number: str, entry: dict[str, Any]) -> CarrierSubmission:
    when = str(entry.get("ftime") or entry.get("time"))
    context = str(entry.get("context") or "")
    status = {str(entry.get("status") or ""), str(entry.get("statusCode") or "")}
    action = "PICKED_UP" if status & _PICKED_UP else "DELIVERED" if status & _SIGNED else "IN_TRANSIT"
    digest = hashlib.sha256(f"{when}|{context}".encode()).hexdigest()[:16]
    return CarrierSubmission(
        event_id=f"kuaidi100:{company}:{number}:{digest}",
        carrier_code=carrier,
        tracking_number=number,
        action=action,
        occurred_at=china_time(when),
        location=(str(entry.get("areaName") or "") or None),
        signer=None,
    )
