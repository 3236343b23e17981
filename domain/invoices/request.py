"""An invoice request as the channel sent it, and what is wrong with it."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass
from typing import Any

from domain.invoices import tax_id

KINDS = ("NORMAL", "SPECIAL", "ELECTRONIC", "PAPER")


@dataclass(frozen=True)
class InvoiceRequest:
    """`kind` is what the channel called it (普通/专用, electronic or paper), kept as sent."""

    title: str
    tax_id: str | None = None
    kind: str = "NORMAL"
    email: str | None = None
    address: str | None = None

    def problem(self) -> str | None:
        """Flags the request (the order is accepted all the same): an invoice cannot be issued as asked."""
        if not self.title.strip():
            return "no invoice title"
        if self.tax_id:
            wrong = tax_id.problem(self.tax_id)
            if wrong:
                return f"tax id: {wrong}"
        if not (self.email or self.address):
            return "neither an email nor a postal address to send the invoice to"
        return None

    def as_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> InvoiceRequest:
        fields: dict[str, Any] = json.loads(data)
        return cls(**fields)

    def fingerprint(self, key: bytes) -> str:
        """Equal for two requests that make the same invoice: who it is for and which kind, however typed."""
        who = "|".join((" ".join(self.title.split()), tax_id.normalize(self.tax_id or ""), self.kind.upper()))
        return hmac.new(key, f"invoice:v1:{who}".encode(), hashlib.sha256).hexdigest()
