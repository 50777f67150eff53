"""What a task's callback URL may be: the target guard. A callback URL is refused when the task
is created (:func:`validate_callback_url`) and again at send time (``workers/callbacks.py``:
:func:`check_url`, then :func:`resolve_target`), unless:

- the scheme is https (http only with ``CALLBACK_ALLOW_HTTP`` or for an allow-listed target);
- it has no credentials (``user:pass@``) and no zone id;
- every address its host stands for is globally routable (``ip.is_global``, not multicast),
  after reading every IPv4 spelling (``2130706433``, ``0x7f000001``, ``0177.0.0.1``,
  ``127.1``) and unwrapping IPv6 forms that embed an IPv4 address (IPv4-mapped, IPv4-compatible,
  6to4, NAT64 well-known and local-use prefixes, Teredo server and client);
- or ``host:port`` is listed in ``CALLBACK_ALLOW_HOSTS`` (tests, the local stack: one exact
  listener each, never a network).

"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from core.settings import get_settings
from tasks.exceptions import InvalidCallbackUrl

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPAT = ipaddress.ip_network("::/96")


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
