"""Signed completion callbacks: POST JSON with ``X-Agensium-Signature: t=<ts>,v1=<hmac>``
where the HMAC-SHA256 key is derived per tenant from the server pepper (shown to the tenant as
its webhook secret) over ``"<ts>.<body>"``, the same scheme Stripe uses."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
import time
from typing import Any
from urllib.parse import urlparse

import httpx

from core.db import session_scope
from core.settings import get_settings
from workers.exceptions import InvalidCallbackUrl
from workers.models import Task


def tenant_webhook_secret(tenant_id: str) -> str:
    return hmac.new(
        get_settings().pepper, f"callback:{tenant_id}".encode(), hashlib.sha256
    ).hexdigest()


def sign(secret: str, body: bytes, ts: int | None = None) -> str:
    ts = ts or int(time.time())
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def validate_callback_url(url: str) -> str:
    """https only outside local use; private, loopback and link-local targets refused unless
    ``CALLBACK_ALLOW_PRIVATE`` (so callbacks cannot reach internal services)."""
    s = get_settings()
    if len(url) > 2000 or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in url):
        raise InvalidCallbackUrl(
            "callback_url must be a URL of at most 2000 characters, without spaces or control"
            " characters"
        )
    try:
        parsed = urlparse(url)
        port = parsed.port
    except ValueError:
        raise InvalidCallbackUrl("callback_url is not a valid URL") from None
    if parsed.scheme not in ("https", "http") or not parsed.hostname:
        raise InvalidCallbackUrl("callback_url must be an absolute http(s) URL")
    if parsed.scheme != "https" and not s.callback_allow_private:
        raise InvalidCallbackUrl("callback_url must use https")
    if not s.callback_allow_private:
        try:
            infos = socket.getaddrinfo(parsed.hostname, port or 443)
        except (socket.gaierror, UnicodeError):
            raise InvalidCallbackUrl("callback_url host does not resolve") from None
        for info in infos:
            ip: ipaddress.IPv4Address | ipaddress.IPv6Address
            ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
                ip = ip.ipv4_mapped
            if (
                ip.is_unspecified
                or ip.is_private
                or ip.is_loopback
                or ip.is_link_local
                or ip.is_reserved
                or ip.is_multicast
            ):
                raise InvalidCallbackUrl("callback_url points at a private or local address")
    return url


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
        url, tenant_id = task.callback_url, task.tenant_id
    validate_callback_url(url)
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Agensium-Signature": sign(tenant_webhook_secret(tenant_id), body),
        "X-Agensium-Task-Id": task_id,
    }
    try:
        resp = httpx.post(
            url, content=body, headers=headers, timeout=get_settings().callback_timeout_seconds
        )
    except httpx.TransportError as exc:
        # The delivering Celery task retries ConnectionError with backoff; httpx's own
        # exceptions are not OSErrors and would end the delivery at the first refusal.
        raise ConnectionError(f"callback failed: {type(exc).__name__}: {exc}") from exc
    if resp.status_code >= 500 or resp.status_code == 429:
        raise ConnectionError(f"callback answered {resp.status_code}")
    return {"delivered": True, "status_code": resp.status_code}
