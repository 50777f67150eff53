"""The server's keys: one purpose each, derived with HKDF from the configured root secrets.

``SECRET_KEYS=<kid>:<secret>[,<kid>:<secret>...]`` lists the root secrets; the first one
signs and hashes everything new, the others are still accepted (a rotation keeps two active).
``API_KEY_PEPPER=<secret>`` alone is shorthand for ``SECRET_KEYS=k0:<secret>``. There is no
default: the local stack generates random secrets on first start (``var/secrets.env``), tests
set their own, and production refuses to start without them.

From each root secret, HKDF-SHA256 (RFC 5869) with a distinct label derives an independent
key per purpose, so an API-key hash, a session token and a callback secret never share a key
and a leaked derived key says nothing about the others.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum

from core.errors import AppError

_SALT = b"agensium-keyring-v1"


class KeyPurpose(StrEnum):
    API_KEY_HASH = "agensium/api-key-hash/v1"
    SESSION_TOKEN = "agensium/session-token/v1"
    CALLBACK_SECRET = "agensium/callback-secret/v1"


class SecretsNotConfigured(AppError):
    code = "SECRETS_NOT_CONFIGURED"
    status_code = 503


def hkdf_sha256(ikm: bytes, info: bytes, length: int = 32, salt: bytes = _SALT) -> bytes:
    """RFC 5869 extract-and-expand."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


@dataclass(frozen=True)
class RootKey:
    kid: str
    secret: bytes

    def derive(self, purpose: KeyPurpose) -> bytes:
        return _derived(self.secret, purpose.value.encode())


@functools.lru_cache(maxsize=64)
def _derived(secret: bytes, info: bytes) -> bytes:
    """Derived once per root secret and purpose: the API key hash needs it on every request."""
    return hkdf_sha256(secret, info)


def parse_secret_keys(value: str) -> tuple[RootKey, ...]:
    """``kid:secret,kid:secret`` -> root keys, primary first. Secrets need 16+ characters."""
    keys: list[RootKey] = []
    for raw in value.split(","):
        raw = raw.strip()
        if not raw:
            continue
        kid, sep, secret = raw.partition(":")
        kid = kid.strip()
        if not sep or not kid or not kid.isalnum() or len(kid) > 16:
            raise ValueError("SECRET_KEYS entries are <kid>:<secret> (kid: 1-16 letters/digits)")
        if len(secret) < 16:
            raise ValueError(f"SECRET_KEYS secret of key id {kid!r} is shorter than 16 chars")
        if any(k.kid == kid for k in keys):
            raise ValueError(f"SECRET_KEYS lists key id {kid!r} twice")
        keys.append(RootKey(kid, secret.encode()))
    return tuple(keys)


@dataclass(frozen=True)
class Keyring:
    keys: tuple[RootKey, ...]

    @property
    def primary(self) -> RootKey:
        if not self.keys:
            raise SecretsNotConfigured(
                "The server has no secret keys configured (SECRET_KEYS or API_KEY_PEPPER)"
            )
        return self.keys[0]

    def get(self, kid: str) -> RootKey | None:
        return next((k for k in self.keys if k.kid == kid), None)

    def key(self, purpose: KeyPurpose, kid: str | None = None) -> tuple[str, bytes] | None:
        """(kid, derived key) for ``kid`` (default: the primary); None for an unknown kid."""
        root = self.primary if kid is None else self.get(kid)
        return None if root is None else (root.kid, root.derive(purpose))


def keyring() -> Keyring:
    from core.settings import get_settings

    return get_settings().keyring
