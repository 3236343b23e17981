"""What a channel's answer to a shipment confirmation means, whichever channel gave it.

Every reply ends in one verdict, including the ones no documentation describes (an HTML error page from a
gateway, a body cut short, a timeout): a call that may or may not have reached the channel is tried again,
which is safe because each channel answers a repeated confirmation with "already shipped"."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any

from domain.i18n import Message, msg


class Verdict(StrEnum):
    CONFIRMED = "CONFIRMED"
    ALREADY_CONFIRMED = "ALREADY_CONFIRMED"
    TRANSIENT = "TRANSIENT"
    RATE_LIMITED = "RATE_LIMITED"
    REFUSED = "REFUSED"
    CREDENTIALS_REFUSED = "CREDENTIALS_REFUSED"


DONE = frozenset({Verdict.CONFIRMED, Verdict.ALREADY_CONFIRMED})
AGAIN = frozenset({Verdict.TRANSIENT, Verdict.RATE_LIMITED})


@dataclass(frozen=True)
class Answer:
    """`message` is the channel's own words as it gave them, or, when orderhub had to say what happened (a
    timeout, a bare 429), the English of `ours`, which each reader gets in their own language."""

    verdict: Verdict
    code: str
    message: str
    retry_after: float | None = None
    ours: Message | None = None


def our_answer(verdict: Verdict, code: str, said: Message, retry_after: float | None = None) -> Answer:
    return Answer(verdict, code, str(said), retry_after, said)


@dataclass(frozen=True)
class SignedRequest:
    """A call ready to send: everything signed, nothing left for the transport to decide."""

    method: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes


MAX_MESSAGE = 500


def clip(text: object) -> str:
    return str(text)[:MAX_MESSAGE]


def json_object(reply: Reply) -> dict[str, Any] | Answer:
    """The body as a JSON object, or the verdict on a body that is not one."""
    content_type = reply.headers.get("content-type", "")
    try:
        decoded = json.loads(reply.body)
    except (ValueError, UnicodeDecodeError):
        if "html" in content_type or reply.body.lstrip()[:1] == b"<":
            return Answer(
                Verdict.TRANSIENT, f"HTML_ERROR_PAGE_{reply.status}", clip(reply.body.decode(errors="replace"))
            )
        return Answer(Verdict.TRANSIENT, f"MALFORMED_ANSWER_{reply.status}", clip(reply.body.decode(errors="replace")))
    if not isinstance(decoded, dict):
        return Answer(Verdict.TRANSIENT, f"MALFORMED_ANSWER_{reply.status}", clip(reply.body.decode(errors="replace")))
    return decoded


def retry_after(reply: Reply, now: datetime | None = None) -> float | None:
    """Retry-After in seconds or as an HTTP date; None when absent or unreadable."""
    value = reply.headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def http_failure(reply: Reply) -> Answer | None:
    """What the status alone says, before a channel reads its own error codes: 429 and 5xx are worth another try."""
    if reply.status == 429:
        return our_answer(Verdict.RATE_LIMITED, "HTTP_429", msg("rate limited"), retry_after(reply))
    if reply.status >= 500:
        found = json_object(reply)
        if isinstance(found, Answer):
            return found
        return Answer(Verdict.TRANSIENT, f"HTTP_{reply.status}", clip(json.dumps(found, ensure_ascii=False)))
    return None


def delay_seconds(answer: Answer, attempt: int, base: float, cap: float) -> float:
    """Exponential back-off from the attempt just made (1, 2, ...); a channel's Retry-After wins when it is longer."""
    backoff: float = min(cap, base * 2.0 ** max(0, attempt - 1))
    if answer.retry_after is not None:
        return min(cap, max(backoff, answer.retry_after))
    return backoff


def timeout_answer(seconds: float) -> Answer:
    return our_answer(Verdict.TRANSIENT, "TIMEOUT", msg("no answer within {seconds} s", seconds=f"{seconds:g}"))


def unreachable_answer(error: str) -> Answer:
    return Answer(Verdict.TRANSIENT, "UNREACHABLE", clip(error))


def answered_object(reply: Reply) -> dict[str, Any] | Answer:
    """A 2xx/4xx body as a JSON object for the channel to read its own codes from; else the verdict on the status
    or on a body that is not one."""
    failed = http_failure(reply)
    if failed is not None:
        return failed
    return json_object(reply)
