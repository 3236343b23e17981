"""Turn what a channel says about a buyer into a UID, dropping the phone right after hashing."""

from __future__ import annotations

from dataclasses import dataclass

from domain.identity.phones import PhoneRejected, normalize_phone
from domain.identity.uid import IdentityKey, derive_uid


@dataclass(frozen=True)
class BuyerKey:
    uid: str | None
    key_version: int | None
    problem: str | None


class BuyerIdentity:
    def __init__(self, keys: list[IdentityKey], region: str = "CN") -> None:
        if not keys:
            raise ValueError("at least one identity key is needed")
        self.keys = keys
        self.region = region

    @property
    def current(self) -> IdentityKey:
        return self.keys[0]

    def key_for_phone(self, phone: str | None) -> BuyerKey:
        if not phone:
            return BuyerKey(None, None, "EMPTY")
        try:
            e164 = normalize_phone(phone, self.region)
        except PhoneRejected as rejected:
            return BuyerKey(None, None, rejected.code)
        uid = derive_uid(e164, self.current)
        return BuyerKey(uid.value, uid.key_version, None)
