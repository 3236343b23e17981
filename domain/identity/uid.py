"""The buyer UID: a keyed hash of the E.164 phone, so the same buyer matches across channels.

A per-channel salt would make the cross-channel match impossible; a plain hash of an
11-digit number is reversed by enumeration within the hour. Hence HMAC under a secret key
that never enters the database, with its version stored beside the UID for rotation.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass


@dataclass(frozen=True)
class IdentityKey:
    version: int
    secret: bytes


@dataclass(frozen=True)
class Uid:
    value: str
    key_version: int


def derive_uid(e164: str, key: IdentityKey) -> Uid:
    digest = hmac.new(key.secret, f"uid:v1:{e164}".encode(), hashlib.sha256).hexdigest()
    return Uid(digest, key.version)


def candidate_uids(e164: str, keys: list[IdentityKey]) -> list[Uid]:
    """During rotation a buyer may be stored under either key; lookups try each."""
    return [derive_uid(e164, key) for key in keys]
