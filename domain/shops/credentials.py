"""What a shop signs its calls with, and how it is kept: sealed by the vault, shown only as a fingerprint."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields

from domain.intake.vault import Vault


@dataclass(frozen=True)
class Credentials:
    """The union of what the four channels ask for; each channel client reads the fields it needs.

    Taobao/Tmall: app_key, app_secret, access_token (the TOP session key). Douyin: app_key, app_secret,
    access_token. WeChat Channels: access_token. Amazon: access_token (an LWA token), seller_id, marketplace_id."""

    app_key: str = ""
    app_secret: str = ""
    access_token: str = ""
    refresh_token: str = ""
    seller_id: str = ""
    marketplace_id: str = ""

    def __repr__(self) -> str:  # never in a log or a traceback
        return f"Credentials(fingerprint={fingerprint(self)})"


FIELD_NAMES = tuple(f.name for f in fields(Credentials))


def _canonical(credentials: Credentials) -> bytes:
    return json.dumps(asdict(credentials), sort_keys=True, separators=(",", ":")).encode()


def fingerprint(credentials: Credentials) -> str:
    """Tells two credentials apart (did the new token take?) without telling anything of either."""
    return hashlib.sha256(b"orderhub-shop-credentials:" + _canonical(credentials)).hexdigest()[:16]


def seal(vault: Vault, credentials: Credentials) -> bytes:
    return vault.seal(_canonical(credentials))


def open_sealed(vault: Vault, sealed: bytes) -> Credentials:
    stored = json.loads(vault.open(sealed))
    return Credentials(**{name: str(stored.get(name, "")) for name in FIELD_NAMES})
