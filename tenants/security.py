"""API key format, hashing and verification.

Keys are ``agk_<prefix>_<secret>``: a 10-character public prefix for lookup and a 32-byte
random secret. We store HMAC-SHA256(k, key) where k is the API-key-hash key derived from the
server's root secret ``hash_kid`` (core/keys.py): keys are long random secrets, so a slow
password hash would add tens of milliseconds per request without adding safety. A hash made
with a key that is no longer configured (or with none at all) never verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

from core.keys import KeyPurpose, keyring
from core.settings import get_settings

KEY_PREFIX = "agk"
_ALPHABET = string.ascii_lowercase + string.digits


def generate_key() -> tuple[str, str]:
    """Return (full key, public prefix)."""
    prefix = "".join(secrets.choice(_ALPHABET) for _ in range(10))
    return f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}", prefix


def hash_key(key: str) -> str:
    """The hash with the primary key (what new keys store; also the principal cache's key)."""
    return hash_key_with(key)[1]


def hash_key_with(key: str, kid: str | None = None) -> tuple[str, str]:
    """(kid, hex hash) with the key ``kid`` (default: the primary). Raises for unknown kids."""
    found = keyring().key(KeyPurpose.API_KEY_HASH, kid)
    if found is None:
        raise KeyError(kid)
    used, k = found
    return used, hmac.new(k, key.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def parse_prefix(key: str) -> str | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 10:
        return None
    return parts[1]


def matches(key: str, hashed: str, kid: str | None) -> bool:
    """Whether ``key`` hashes to ``hashed`` under key id ``kid``. ``kid`` None is a hash made
    before key ids: HMAC with one of the configured root secrets themselves."""
    raw = key.encode("utf-8", "surrogatepass")
    if kid is None:
        return any(
            hmac.compare_digest(hmac.new(root.secret, raw, hashlib.sha256).hexdigest(), hashed)
            for root in keyring().keys
        )
    try:
        return hmac.compare_digest(hash_key_with(key, kid)[1], hashed)
    except KeyError:
        return False


def is_admin_key(key: str) -> bool:
    admin = get_settings().admin_api_key
    return admin is not None and hmac.compare_digest(
        key.encode("utf-8", "surrogatepass"), admin.get_secret_value().encode()
    )
