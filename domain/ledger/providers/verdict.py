"""What every provider adapter reports before anything is posted."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

from domain.intake.models import SignatureVerdict

if TYPE_CHECKING:
    from domain.ledger.service import PaymentNotice

CHINA = ZoneInfo("Asia/Shanghai")


class NoticeRejected(ValueError):
    """A notification we refuse; `verdict` is what the signature check concluded."""

    def __init__(self, message: str, verdict: SignatureVerdict, status: int = 400) -> None:
        super().__init__(message)
        self.verdict = verdict
        self.status = status


@dataclass(frozen=True)
class Checked:
    verdict: SignatureVerdict
    problem: str | None = None


@lru_cache(maxsize=16)
def load_rsa_public_key(path: Path) -> RSAPublicKey:
    key = load_pem_public_key(path.read_bytes())
    if not isinstance(key, RSAPublicKey):
        raise ValueError(f"{path}: not an RSA public key")
    return key


@lru_cache(maxsize=16)
def load_rsa_private_key(path: Path) -> RSAPrivateKey:
    """The merchant's own API key (PKCS#8 PEM, as the providers' key tools write it), for signing requests."""
    key = load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, RSAPrivateKey):
        raise ValueError(f"{path}: not an RSA private key")
    return key


def china_time(text: str) -> datetime:
    """Alipay writes local Beijing time without an offset; it is never UTC. Refund times (gmt_refund) carry
    milliseconds, "2024-01-02 10:11:12.345"; payment times do not."""
    cleaned = text.strip()
    layout = "%Y-%m-%d %H:%M:%S.%f" if "." in cleaned else "%Y-%m-%d %H:%M:%S"
    return datetime.strptime(cleaned, layout).replace(tzinfo=CHINA)


def text_field(data: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    """A field that must be text: a number is taken as written, an object, a list or a boolean is refused
    (str() of an object would post `{'a': 1}` as a transaction id)."""
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise NoticeRejected(f"field {name} missing", SignatureVerdict.VALID)
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise NoticeRejected(f"field {name} must be a string, got {type(value).__name__}", SignatureVerdict.VALID)
    return str(value)


# What the ledger's columns hold; a notice beyond them is the sender's error, refused before the database.
MAX_PROVIDER = 40
MAX_REFERENCE = 100
INT64 = 2**63 - 1
_CURRENCY = re.compile(r"[A-Z]{3}")


def check_storable(notice: PaymentNotice) -> None:
    """Refuse (400) what the database would refuse with a 500: over-long ids, NUL characters, an amount
    beyond 64 bits, a currency that is not three letters, raw JSON that PostgreSQL's jsonb cannot hold."""
    problems = []
    for name, value, limit in (
        ("provider", notice.provider, MAX_PROVIDER),
        ("transaction id", notice.provider_txn_id, MAX_REFERENCE),
        ("order reference", notice.order_ref, MAX_REFERENCE),
    ):
        if value is None:
            continue
        if not isinstance(value, str):
            problems.append(f"{name} must be a string")
        elif len(value) > limit:
            problems.append(f"{name} of {len(value)} characters exceeds {limit}")
        elif "\x00" in value:
            problems.append(f"{name} contains a NUL character")
    if not notice.provider_txn_id:
        problems.append("transaction id is empty")
    if isinstance(notice.amount, bool) or not isinstance(notice.amount, int) or abs(notice.amount) > INT64:
        problems.append(f"amount {str(notice.amount)[:40]} is not an integer within 64 bits")
    if not isinstance(notice.currency, str) or not _CURRENCY.fullmatch(notice.currency):
        problems.append(f"currency {str(notice.currency)[:20]!r} is not an ISO 4217 code")
    problem = _json_problem(notice.raw)
    if problem:
        problems.append(problem)
    if problems:
        raise NoticeRejected("; ".join(problems), SignatureVerdict.VALID)


def _json_problem(raw: object) -> str | None:
    """Walks without recursion: what json.loads accepted can be nested deeper than Python recurses."""
    pending = [raw]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str) and "\x00" in value:
            return "a field contains a NUL character"
        elif isinstance(value, float) and not math.isfinite(value):
            return "a field holds a number that is not finite"
    return None
