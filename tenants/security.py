"""API key format, hashing and verification.

Keys are ``agk_<prefix>_<secret>``: a 10-character public prefix for lookup and a 32-byte
random secret. We store HMAC-SHA256(pepper, key): keys are long random secrets, so a slow
password hash would add tens of milliseconds per request without adding safety.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

from core.settings import get_settings

KEY_PREFIX = "agk"
_ALPHABET = string.ascii_lowercase + string.digits


def generate_key() -> tuple[str, str]:
    """Return (full key, public prefix)."""
    prefix = "".join(secrets.choice(_ALPHABET) for _ in range(10))
    return f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}", prefix


def hash_key(key: str) -> str:
    return hmac.new(get_settings().pepper, key.encode(), hashlib.sha256).hexdigest()


def parse_prefix(key: str) -> str | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 10:
        return None
    return parts[1]


def matches(key: str, hashed: str) -> bool:
    return hmac.compare_digest(hash_key(key), hashed)


def is_admin_key(key: str) -> bool:
    admin = get_settings().admin_api_key
    return admin is not None and hmac.compare_digest(
        key.encode(), admin.get_secret_value().encode()
    )
