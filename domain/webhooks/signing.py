"""Standard Webhooks signatures (webhook-id, webhook-timestamp, webhook-signature), made by the spec's own library.

During a secret rotation's overlap both the new and the old secret sign: the spec lets `webhook-signature` carry
several space-separated signatures, and a receiver still holding the old secret finds its own among them.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """24 random bytes, base64, with the prefix the spec's libraries strip before decoding."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def signed_headers(signing_secrets: Sequence[str], message_id: str, at: datetime, body: str) -> dict[str, str]:
    """The three headers of one attempt; `at` is the attempt's time (receivers refuse stale timestamps)."""
    signatures = " ".join(Webhook(secret).sign(message_id, at, body) for secret in signing_secrets)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
    }
