"""Raw bodies are sealed at rest with AES-256-GCM so that the mirror keeps everything a
partner sent without writing a buyer's phone number to disk in the clear."""

from __future__ import annotations

import hashlib
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = b"\x01"


class Vault:
    def __init__(self, secret: str) -> None:
        self._aead = AESGCM(hashlib.sha256(f"orderhub-vault:{secret}".encode()).digest())

    def seal(self, plaintext: bytes) -> bytes:
        nonce = os.urandom(12)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, _VERSION)

    def open(self, sealed: bytes) -> bytes:
        if sealed[:1] != _VERSION:
            raise ValueError("unknown vault format")
        return self._aead.decrypt(sealed[1:13], sealed[13:], _VERSION)
