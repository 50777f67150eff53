"""Signed completion callbacks, sent only to globally routable addresses.

**Signature.** POST JSON with ``X-Agensium-Signature: t=<ts>,v1=<hmac>[,v1=<hmac>]`` where each
HMAC-SHA256 is keyed by one of the tenant's callback secrets over ``"<ts>.<body>"`` (the scheme
Stripe uses). A tenant's secret is random (a stored nonce, keyed with the callback key derived
from the server's root secret, core/keys.py) and rotatable through the API; for
``CALLBACK_SECRET_OVERLAP_SECONDS`` after a rotation the header carries both signatures.

**Target guard.** ``tasks/callback_url.py`` decides which URLs may receive a callback, at
creation and again here, at send time: the host is resolved once, checked, and the connection
goes to that checked address (the URL is rewritten to the IP; ``Host`` and TLS SNI keep the
name, so certificates are still verified against it). Redirects are not followed. A name that
starts resolving to an internal address after the task was created is therefore refused, not
connected to.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlunsplit

import httpx
from sqlalchemy.orm import Session

from core.db import session_scope, utcnow
from core.keys import KeyPurpose, keyring
from core.settings import get_settings
from tasks.callback_url import IPAddress, Target, check_url, parse_ip_literal, resolve_target
from tasks.exceptions import InvalidCallbackUrl
from tasks.models import Task
from tenants.models import CallbackSecret
from tenants.repository import scoped

log = logging.getLogger(__name__)


# --- secrets -------------------------------------------------------------------------------


def _secret_of(row: CallbackSecret) -> str | None:
    found = keyring().key(KeyPurpose.CALLBACK_SECRET, row.kid)
    if found is None:
        return None  # its root key was retired
    msg = f"callback:{row.tenant_id}:{row.nonce}".encode()
    return "whsec_" + hmac.new(found[1], msg, hashlib.sha256).hexdigest()


def _new_secret_row(session: Session, tenant_id: str) -> CallbackSecret:
    row = CallbackSecret(
        tenant_id=tenant_id, kid=keyring().primary.kid, nonce=secrets.token_hex(32)
    )
    session.add(row)
    session.flush()
    return row


def _live_rows(session: Session, tenant_id: str) -> list[CallbackSecret]:
    now = utcnow()
    rows = session.scalars(
        scoped(CallbackSecret, tenant_id).order_by(
            CallbackSecret.created_at.desc(), CallbackSecret.id.desc()
        )
    ).all()
    return [r for r in rows if r.expires_at is None or r.expires_at > now]


def signing_secrets(session: Session, tenant_id: str) -> list[str]:
    """The tenant's secrets that sign callbacks now, newest first (one is created on first
    use)."""
    out = [s for s in (_secret_of(r) for r in _live_rows(session, tenant_id)) if s]
    if not out:
        secret = _secret_of(_new_secret_row(session, tenant_id))
        assert secret is not None
        out = [secret]
    return out


def tenant_webhook_secret(tenant_id: str) -> str:
    """The tenant's current (newest) callback secret."""
    with session_scope() as session:
        return signing_secrets(session, tenant_id)[0]


@dataclass(frozen=True)
class Rotation:
    secret: str
    previous_valid_until: dt.datetime | None


def rotate_secret(session: Session, tenant_id: str) -> Rotation:
    """A new random secret signs from now on; the ones before keep signing (a second ``v1``)
    for ``CALLBACK_SECRET_OVERLAP_SECONDS``, so receivers can switch without losing one."""
    until = utcnow() + dt.timedelta(seconds=get_settings().callback_secret_overlap_seconds)
    live = _live_rows(session, tenant_id)
    for row in live:
        if row.expires_at is None or row.expires_at > until:
            row.expires_at = until
    row = _new_secret_row(session, tenant_id)
    secret = _secret_of(row)
    assert secret is not None
    return Rotation(secret, until if live else None)


def sign(secret: str, body: bytes, ts: int | None = None) -> str:
    return sign_all([secret], body, ts)


def sign_all(keys: list[str], body: bytes, ts: int | None = None) -> str:
    ts = ts or int(time.time())
    macs = [
        hmac.new(k.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest() for k in keys
    ]
    return f"t={ts}," + ",".join(f"v1={m}" for m in macs)


# --- the connection to the checked address -------------------------------------------------


def pinned_request(target: Target, ip: IPAddress) -> tuple[str, dict[str, str], dict[str, Any]]:
    """(URL with the checked IP as host, headers with the original Host, httpx extensions with
    the SNI name)."""
    p = target.parts
    ip_text = f"[{ip}]" if isinstance(ip, ipaddress.IPv6Address) else str(ip)
    netloc = f"{ip_text}:{target.port}"
    url = urlunsplit((p.scheme.lower(), netloc, p.path or "/", p.query, ""))
    default = 443 if p.scheme.lower() == "https" else 80
    host_header = target.host if target.port == default else f"{target.host}:{target.port}"
    if ":" in target.host:
        host_header = (
            f"[{target.host}]" if target.port == default else f"[{target.host}]:{target.port}"
        )
    extensions: dict[str, Any] = {}
    if p.scheme.lower() == "https" and parse_ip_literal(target.host) is None:
        extensions["sni_hostname"] = target.host
    return url, {"Host": host_header}, extensions


# --- delivery ------------------------------------------------------------------------------


def deliver(task_id: str) -> dict[str, Any]:
    with session_scope() as session:
        task = session.get(Task, task_id)
        if task is None or not task.callback_url:
            return {"delivered": False}
        payload = {
            "type": "task.finished",
            "task_id": task.id,
            "tenant_id": task.tenant_id,
            "tool_id": task.tool_id,
            "status": task.status,
            "error": {"code": task.error_code, "message": task.error_message}
            if task.error_code
            else None,
            "credits_charged": task.credits_charged,
            "finished_at": task.finished_at.isoformat() if task.finished_at else None,
        }
        url = task.callback_url
        keys = signing_secrets(session, task.tenant_id)
    try:
        target = check_url(url)
        ip = resolve_target(target)
    except InvalidCallbackUrl as exc:
        # Not retried: the address is the problem, not the receiver.
        log.warning("callback.refused task_id=%s reason=%s", task_id, exc.message)
        return {"delivered": False, "refused": exc.message}
    body = json.dumps(payload, separators=(",", ":")).encode()
    pinned_url, headers, extensions = pinned_request(target, ip)
    headers.update(
        {
            "Content-Type": "application/json",
            "X-Agensium-Signature": sign_all(keys, body),
            "X-Agensium-Task-Id": task_id,
        }
    )
    try:
        with httpx.Client(
            timeout=get_settings().callback_timeout_seconds, follow_redirects=False, trust_env=False
        ) as client:
            request = client.build_request(
                "POST", pinned_url, content=body, headers=headers, extensions=extensions
            )
            resp = client.send(request)
    except httpx.TransportError as exc:
        # The delivering Celery task retries ConnectionError with backoff; httpx's own
        # exceptions are not OSErrors and would end the delivery at the first refusal.
        raise ConnectionError(f"callback failed: {type(exc).__name__}: {exc}") from exc
    if resp.status_code >= 500 or resp.status_code == 429:
        raise ConnectionError(f"callback answered {resp.status_code}")
    return {"delivered": True, "status_code": resp.status_code}
