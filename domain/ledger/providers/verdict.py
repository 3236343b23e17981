"""What every provider adapter reports before anything is posted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from domain.intake.models import SignatureVerdict

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


def china_time(text: str) -> datetime:
    """Alipay writes local Beijing time without an offset; it is never UTC. Refund times (gmt_refund) carry
    milliseconds, "2024-01-02 10:11:12.345"; payment times do not."""
    cleaned = text.strip()
    layout = "%Y-%m-%d %H:%M:%S.%f" if "." in cleaned else "%Y-%m-%d %H:%M:%S"
    return datetime.strptime(cleaned, layout).replace(tzinfo=CHINA)
