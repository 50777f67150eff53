"""Short-lived session tokens for the dashboard, so a browser page never keeps the API key.

``POST /v1/auth/session`` exchanges an API key for ``ags.<payload>.<signature>``: the payload
(base64url JSON) names the key, its tenant and scopes, an expiry and the key id (``kid``) of the
server key that signed it; the signature is HMAC-SHA256 with the session-token key derived from
that root secret (core/keys.py) over a domain-separated message, so a token cannot be forged or
confused with a key hash, and signing keys rotate with two active. A token whose ``exp`` lies
further ahead than ``SESSION_TOKEN_TTL_SECONDS`` is refused whoever signed it. Each use
re-checks that the key is not revoked or expired and the tenant not disabled (a primary-key
lookup), so revoking the key ends its sessions at once.

A token is weaker than the key on purpose: it is accepted on GET requests and on the few write
endpoints the dashboard needs (``SESSION_WRITE_PATHS``), never to mint another token, and in a
``?token=`` query parameter only on the task events stream (``EventSource`` cannot send
headers).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass

from fastapi import Request

from core.db import session_scope
from core.errors import PermissionDeniedError
from core.keys import KeyPurpose, keyring
from core.settings import get_settings
from tenants import service as tenants
from tenants.exceptions import InvalidApiKey
from tenants.models import ApiKey, Tenant
from tenants.schemas import ADMIN_SCOPE, Principal

PREFIX = "ags."
#: Seconds of clock skew between replicas tolerated on ``exp``.
_SKEW_SECONDS = 30
_DOMAIN = b"agensium-session-token:v1:"
#: Non-GET requests a session token may make (method, path).
SESSION_WRITE_PATHS = frozenset({("POST", "/v1/billing/top-ups")})
_EVENTS_PATH = re.compile(r"^/v1/tasks/[^/]+/events$")


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: int
    expires_in: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(payload: str, kid: str | None = None) -> str | None:
    found = keyring().key(KeyPurpose.SESSION_TOKEN, kid)
    if found is None:
        return None
    mac = hmac.new(found[1], _DOMAIN + payload.encode(), hashlib.sha256)
    return _b64(mac.digest())


def _admin_fingerprint(kid: str | None = None) -> str:
    admin = get_settings().admin_api_key
    secret = admin.get_secret_value() if admin is not None else ""
    found = keyring().key(KeyPurpose.SESSION_TOKEN, kid)
    if found is None:
        return ""
    mac = hmac.new(found[1], b"admin-key:" + secret.encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def is_session_token(value: str) -> bool:
    return value.startswith(PREFIX)


def issue(principal: Principal, ttl_seconds: int | None = None) -> IssuedToken:
    lifetime = get_settings().session_token_ttl_seconds
    ttl = min(ttl_seconds or lifetime, lifetime)
    exp = int(time.time()) + ttl
    kid = keyring().primary.kid
    body: dict[str, object] = {
        "kid": kid,
        "t": principal.tenant_id,
        "k": principal.key_id,
        "s": sorted(principal.scopes),
        "exp": exp,
    }
    if principal.is_admin:
        body["a"] = _admin_fingerprint(kid)
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    return IssuedToken(f"{PREFIX}{payload}.{_sign(payload, kid)}", exp, ttl)


def _decode(token: str) -> dict[str, object]:
    """The verified body. The kid is read before the signature is checked, but only to pick
    which configured key verifies it; nothing else in the payload is trusted before."""
    invalid = InvalidApiKey("Invalid session token")
    try:
        payload, signature = token.removeprefix(PREFIX).split(".", 1)
        body = json.loads(_unb64(payload))
    except (ValueError, UnicodeDecodeError):
        raise invalid from None
    if not isinstance(body, dict) or not isinstance(body.get("kid"), str):
        raise invalid
    expected = _sign(payload, body["kid"])
    if expected is None or not hmac.compare_digest(signature.encode(), expected.encode()):
        raise invalid
    exp = body.get("exp")
    if not isinstance(exp, int) or isinstance(exp, bool):
        raise invalid
    now = time.time()
    if exp > now + get_settings().session_token_ttl_seconds + _SKEW_SECONDS:
        raise InvalidApiKey("Invalid session token: it claims to live longer than allowed")
    if exp <= now:
        raise InvalidApiKey("The session expired; sign in again", code="SESSION_EXPIRED")
    return body


def authenticate(token: str) -> Principal:
    """The principal a valid, unexpired token stands for (its key still active)."""
    body = _decode(token)
    scopes = body.get("s")
    if isinstance(scopes, list) and ADMIN_SCOPE in scopes:
        expected = _admin_fingerprint(str(body["kid"]))
        if not expected or not hmac.compare_digest(str(body.get("a", "")), expected):
            raise InvalidApiKey("The operator key changed; sign in again")
        return tenants.ADMIN_PRINCIPAL
    with session_scope() as session:
        key = session.get(ApiKey, str(body.get("k")))
        tenant = session.get(Tenant, key.tenant_id) if key is not None else None
        if key is None or tenant is None or key.tenant_id != body.get("t"):
            raise InvalidApiKey("Invalid session token")
        tenants.check_usable(key, tenant)
        tenants.touch_key(session, key.id)
        return Principal(
            tenant_id=tenant.id,
            key_id=key.id,
            plan_id=tenant.plan_id,
            scopes=frozenset(key.scopes),
        )


def token_from_query(request: Request) -> str | None:
    """``?token=`` on the events stream only, and only a session token (never a key: URLs
    end up in logs)."""
    if request.method != "GET" or not _EVENTS_PATH.match(request.url.path):
        return None
    token = request.query_params.get("token")
    return token if token and is_session_token(token) else None


def check_allowed(request: Request) -> None:
    """Session tokens read; they write only where the dashboard must."""
    if request.method in ("GET", "HEAD"):
        return
    if (request.method, request.url.path) in SESSION_WRITE_PATHS:
        return
    raise PermissionDeniedError(
        "A dashboard session token cannot be used for this request; use an API key",
        code="SESSION_TOKEN_NOT_ALLOWED",
    )
