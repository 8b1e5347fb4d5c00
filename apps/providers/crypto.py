"""Encryption of provider credentials at rest.

Each workspace gets its own key, derived with HKDF from the operator's master key and the workspace
schema, so a ciphertext copied into another workspace does not decrypt there. ENCRYPTION_KEYS lists
master keys newest first: the first encrypts, all of them decrypt, and `rotate_encryption_keys`
re-encrypts everything under the first one.
"""

import base64
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


class CredentialsUnreadable(Exception):
    """The stored credentials cannot be decrypted with any configured key."""


def _derive(master: str, schema: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"tessera.credentials.v1",
               info=schema.encode()).derive(master.encode())
    return Fernet(base64.urlsafe_b64encode(key))


@lru_cache(maxsize=256)
def _keyring(schema: str, masters: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([_derive(master, schema) for master in masters])


def keyring(schema: str) -> MultiFernet:
    return _keyring(schema, tuple(settings.ENCRYPTION_KEYS))


def encrypt(schema: str, data: dict[str, Any]) -> str:
    return keyring(schema).encrypt(json.dumps(data, separators=(",", ":")).encode()).decode()


def decrypt(schema: str, token: str) -> dict[str, Any]:
    try:
        return json.loads(keyring(schema).decrypt(token.encode()))
    except InvalidToken as exc:
        raise CredentialsUnreadable(
            "The stored credentials cannot be decrypted with the configured ENCRYPTION_KEYS; enter them again."
        ) from exc


def rotate(schema: str, token: str) -> str:
    """Re-encrypt `token` under the newest master key."""
    return keyring(schema).rotate(token.encode()).decode()


def mask(secret: str) -> str:
    """What the console shows of a secret: its first and last characters at most."""
    if not secret:
        return ""
    if len(secret) <= 8:
        return "•" * len(secret)
    return f"{secret[:3]}{'•' * 6}{secret[-4:]}"
