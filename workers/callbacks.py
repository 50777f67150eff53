"""Signed completion callbacks, sent only to globally routable addresses.

**Signature.** POST JSON with ``X-Agensium-Signature: t=<ts>,v1=<hmac>[,v1=<hmac>]`` where each
HMAC-SHA256 is keyed by one of the tenant's callback secrets over ``"<ts>.<body>"`` (the scheme
Stripe uses). A tenant's secret is random (a stored nonce, keyed with the callback key derived
from the server's root secret, core/keys.py) and rotatable through the API; for
``CALLBACK_SECRET_OVERLAP_SECONDS`` after a rotation the header carries both signatures.

**Target guard.** A callback URL is refused, at creation and again at send time, unless:

- the scheme is https (http only with ``CALLBACK_ALLOW_HTTP`` or for an allow-listed target);
- it has no credentials (``user:pass@``) and no zone id;
- every address its host stands for is globally routable (``ip.is_global``, not multicast),
  after reading every IPv4 spelling (``2130706433``, ``0x7f000001``, ``0177.0.0.1``,
  ``127.1``) and unwrapping IPv6 forms that embed an IPv4 address (IPv4-mapped, IPv4-compatible,
  6to4, NAT64 well-known and local-use prefixes, Teredo server and client);
- or ``host:port`` is listed in ``CALLBACK_ALLOW_HOSTS`` (tests, the local stack: one exact
  listener each, never a network).

At send time the host is resolved once, checked, and the connection goes to that checked
address (the URL is rewritten to the IP; ``Host`` and TLS SNI keep the name, so certificates are
still verified against it). Redirects are not followed. A name that starts resolving to an
internal address after the task was created is therefore refused, not connected to.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

import httpx
from sqlalchemy.orm import Session

from core.db import session_scope, utcnow
from core.keys import KeyPurpose, keyring
from core.settings import get_settings
from tasks.exceptions import InvalidCallbackUrl
from tasks.models import Task
from tenants.models import CallbackSecret
from tenants.repository import scoped

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPAT = ipaddress.ip_network("::/96")


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


# --- target guard --------------------------------------------------------------------------


def _refuse(message: str) -> InvalidCallbackUrl:
    return InvalidCallbackUrl(message)


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, 6to4, NAT64, Teredo)."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if any(ip in net for net in _NAT64) or (ip in _IPV4_COMPAT and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: IPAddress) -> bool:
    """Globally routable, and so is any IPv4 address it wraps."""
    if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.teredo is not None and not all(is_public(v4) for v4 in ip.teredo):
            return False
        inner = embedded_ipv4(ip)
        if inner is not None and not is_public(inner):
            return False
    return True


def parse_ip_literal(host: str) -> IPAddress | None:
    """``host`` as an IP address in any spelling a resolver accepts, else None."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise _refuse("callback_url has an invalid IPv6 address") from None
    try:
        return ipaddress.IPv4Address(host)
    except ValueError:
        pass
    try:
        # inet_aton reads the BSD forms: decimal, hex, octal and short (127.1) spellings.
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def _resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the name resolves to (one lookup). Tests replace this function."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    out: list[IPAddress] = []
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]
        out.append(ipaddress.ip_address(text))
    return out


@dataclass(frozen=True)
class Target:
    url: str
    parts: SplitResult
    host: str  # normalised (lowercase, no trailing dot, IDNA)
    port: int
    allow_listed: bool


def check_url(url: str) -> Target:
    """Everything that can be decided without DNS."""
    if len(url) > 2000 or any(ord(ch) < 0x21 or 0x7F <= ord(ch) <= 0xA0 for ch in url):
        raise _refuse(
            "callback_url must be a URL of at most 2000 characters, without spaces or control"
            " characters"
        )
    if "\\" in url:
        raise _refuse("callback_url must not contain backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
        hostname = parts.hostname
    except ValueError:
        raise _refuse("callback_url is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not hostname:
        raise _refuse("callback_url must be an absolute https URL")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise _refuse("callback_url must not contain credentials")
    if "%" in parts.netloc:
        raise _refuse("callback_url must not contain a zone id or an escaped host")
    host = hostname.rstrip(".").lower()
    if not host:
        raise _refuse("callback_url has no host")
    if parse_ip_literal(host) is None:
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise _refuse("callback_url host is not a valid name") from None
    effective_port = port or (443 if scheme == "https" else 80)
    s = get_settings()
    allowed = s.callback_allowed_targets
    literal = parse_ip_literal(host)
    allow_listed = (host, effective_port) in allowed or (
        literal is not None and (str(literal), effective_port) in allowed
    )
    if scheme != "https" and not (allow_listed or s.callback_allow_http):
        raise _refuse("callback_url must use https")
    if literal is not None and not allow_listed and not is_public(literal):
        raise _refuse("callback_url points at a private, local or reserved address")
    return Target(url, parts, host, effective_port, allow_listed)


def resolve_target(target: Target) -> IPAddress:
    """Resolve once; every address must be public (unless the target is allow-listed). The
    first address is the one to connect to."""
    literal = parse_ip_literal(target.host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = _resolve(target.host, target.port)
        except (OSError, UnicodeError, ValueError):
            raise _refuse("callback_url host does not resolve") from None
    if not addresses:
        raise _refuse("callback_url host does not resolve")
    if not target.allow_listed and not all(is_public(ip) for ip in addresses):
        raise _refuse("callback_url points at a private, local or reserved address")
    return addresses[0]


def validate_callback_url(url: str) -> str:
    """At creation: the URL's form, and what its host resolves to now."""
    resolve_target(check_url(url))
    return url


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
