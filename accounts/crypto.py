"""Encryption at rest for broker secrets (api_secret, access_token).

Keys come from ``FIELD_ENCRYPTION_KEYS`` (comma-separated Fernet keys, newest first). Every key
in the list decrypts, only the first encrypts: rotating means putting a new key in front and
running ``manage.py rotate_encryption_keys``, which re-encrypts every secret under it.
"""

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretDecryptionError(Exception):
    """A stored secret cannot be read with any configured key."""


def _fallback_key() -> bytes:
    # Only for the embedded default with no keys configured: derived from SECRET_KEY so a
    # newcomer's demo works; production settings require FIELD_ENCRYPTION_KEYS.
    digest = hashlib.sha256(("field-encryption:" + settings.SECRET_KEY).encode()).digest()
    return base64.urlsafe_b64encode(digest)


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS holds an invalid Fernet key: {exc}")


def configured_keys() -> tuple[str, ...]:
    keys = tuple(k.strip() for k in getattr(settings, "FIELD_ENCRYPTION_KEYS", []) if k.strip())
    return keys or (_fallback_key().decode(),)


def encrypt(plaintext: str) -> str:
    return _fernet(configured_keys()).encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _fernet(configured_keys()).decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretDecryptionError("stored secret cannot be decrypted with the configured keys")


def rotate(ciphertext: str) -> str:
    """Re-encrypt under the newest key (MultiFernet.rotate keeps the original timestamp).

    Rotation also reads secrets written under the embedded default's fallback key, so a system
    that started without FIELD_ENCRYPTION_KEYS moves onto real keys with one command.
    """
    keys = configured_keys()
    fallback = _fallback_key().decode()
    if fallback not in keys:
        keys = (*keys, fallback)
    try:
        return _fernet(keys).rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretDecryptionError("stored secret cannot be decrypted with the configured keys")
