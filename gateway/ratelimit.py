"""Per-tenant rate limits: slowapi on Redis, checked before anything else in a request.

How a request is limited (see docs/rate-limits.md for the why):

- The key is ``tenant:<id>`` for a tenant's key (resolved through ``deps.resolve_principal``, which
  reuses the short principal cache and leaves the principal on ``request.state`` so the endpoint
  does not authenticate again), the client IP (``ip:<addr>``) for calls without a valid key, and
  none at all for the operator key (operators are not throttled by a tenant's plan).
- The limit comes from the tenant's plan, read through a cache as short as the principal cache:
  ``submit_per_minute`` for task submissions (create, upload, process), ``read_per_minute`` for
  everything else. ``key_style="endpoint"`` makes one bucket per tenant and endpoint function,
  so ``/v1/tasks/{id}`` is one bucket whatever the id.
- Over the limit: 429 ``RATE_LIMITED`` in the project's error shape, with ``Retry-After``.
  Every limited response carries ``X-RateLimit-Limit``, ``-Remaining`` and ``-Reset`` (epoch s).
- Storage down: 503 on guarded routes (fail closed) unless ``RATELIMIT_FAIL_OPEN=true``. Only
  a storage connection error counts as "down" (``STORAGE_ERRORS``); any other exception is a
  bug, raised as such rather than disguised as a limiter outage.
- ``RATELIMIT_ENABLED=false`` turns limiting off (our typed setting decides, not slowapi's own
  reading of the environment, which takes the string "false" for true).

The middleware subclasses slowapi's ``SlowAPIASGIMiddleware`` but replaces its responder:
slowapi 0.1.10 makes its synchronous Redis calls (the hit, then ``get_window_stats`` for the
headers) on the event loop, and re-sends ``http.response.start`` for every body chunk, which
breaks streaming responses such as the task events stream (laurentS/slowapi#249, #260). Here the
whole check (key, plan lookup, hit, window stats) runs in one worker thread and the headers are
added to the single start message.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from slowapi import Limiter
from slowapi.errors import RateLimitExceeded
from slowapi.extension import HEADERS
from slowapi.middleware import SlowAPIASGIMiddleware, _should_exempt
from slowapi.util import get_remote_address
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import Message, Receive, Scope, Send

from core.db import session_scope
from core.errors import AppError
from core.logging import bind_log_context
from core.metrics import record_rate_limited
from core.settings import get_settings
from gateway.errors import error_response
from tenants.models import Plan

log = logging.getLogger(__name__)

#: Endpoints that submit work share the plan's ``submit_per_minute`` (each its own bucket).
SUBMIT_ENDPOINTS = frozenset(
    {
        "gateway.routers.tasks.create_task",
        "gateway.routers.tasks.upload_file",
        "gateway.routers.tasks.process_task",
    }
)
#: Never limited: probes must answer when Redis is down; Stripe's webhook is signature-verified
#: and arrives from a few shared addresses (throttling it delays credits). ``/metrics`` on the
#: API port needs the operator key (which is not throttled); anonymous tries are limited.
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/v1/billing/stripe/webhook"})

_STORAGE_OPTIONS: dict[str, Any] = {"socket_connect_timeout": 1, "socket_timeout": 2}


def _storage_errors() -> tuple[type[BaseException], ...]:
    import limits.errors
    import redis.exceptions

    return (
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        limits.errors.StorageError,
        ConnectionError,
        TimeoutError,
    )


#: What the limiter's storage raises when it cannot be reached: the only "outage".
STORAGE_ERRORS = _storage_errors()


@dataclass(frozen=True)
class PlanRates:
    submit_per_minute: int
    read_per_minute: int


_plan_cache: dict[str, tuple[float, PlanRates]] = {}
_plan_lock = threading.Lock()


def invalidate_plan_rates() -> None:
    """Forget cached plan rates (an operator edited a plan); other replicas follow within
    ``PRINCIPAL_CACHE_SECONDS``."""
    with _plan_lock:
        _plan_cache.clear()


def cached_plan_rates(plan_id: str) -> PlanRates | None:
    """The plan's rates if cached and fresh, without touching the database."""
    with _plan_lock:
        hit = _plan_cache.get(plan_id)
    return hit[1] if hit is not None and hit[0] > time.monotonic() else None


def plan_rates(plan_id: str) -> PlanRates:
    now = time.monotonic()
    with _plan_lock:
        hit = _plan_cache.get(plan_id)
    if hit is not None and hit[0] > now:
        return hit[1]
    with session_scope(read_only=True) as session:
        plan = session.get(Plan, plan_id)
        rates = (
            PlanRates(plan.submit_per_minute, plan.read_per_minute)
            if plan is not None
            else PlanRates(0, 0)
        )
    with _plan_lock:
        _plan_cache[plan_id] = (now + get_settings().principal_cache_seconds, rates)
    return rates


# The limit provider takes no argument in slowapi's default limits, so the request being
# checked is handed over in a context variable, set inside the worker thread that checks it.
_checking: contextvars.ContextVar[Request | None] = contextvars.ContextVar(
    "ratelimit_request", default=None
)


def _endpoint_name(request: Request) -> str:
    handler = getattr(request.state, "rate_limit_handler", None)
    return f"{handler.__module__}.{handler.__name__}" if handler else ""


def rate_limit_key(request: Request) -> str:
    """``tenant:<id>``, ``ip:<addr>`` without a valid key, ``""`` (not limited) for operators.

    Also decides the limit string for this request (``request.state.rate_limit_value``).
    """
    cached: str | None = getattr(request.state, "rate_limit_key", None)
    if cached is not None:
        return cached
    from gateway.deps import resolve_principal

    try:
        principal = resolve_principal(request)
    except AppError:  # no key, a bad key: the endpoint answers 401 itself; limit by address
        principal = None
    if principal is None:
        key = f"ip:{get_remote_address(request)}"
        value = f"{get_settings().ratelimit_anonymous_per_minute}/minute"
    elif principal.tenant_id is None:
        key, value = "", ""
    else:
        rates = plan_rates(principal.plan_id or "")
        submit = _endpoint_name(request) in SUBMIT_ENDPOINTS
        per_minute = rates.submit_per_minute if submit else rates.read_per_minute
        key = f"tenant:{principal.tenant_id}"
        value = f"{max(per_minute, 0)}/minute"
    request.state.rate_limit_key = key
    request.state.rate_limit_value = value
    return key


def _current_limit() -> str:
    """slowapi's limit provider: the limit string ``rate_limit_key`` chose for this request."""
    request = _checking.get()
    value: str = getattr(request.state, "rate_limit_value", "") if request else ""
    return value


@dataclass
class _Outcome:
    response: Response | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _stats_headers(limiter: Limiter, request: Request, *, retry_after: bool) -> dict[str, str]:
    current = getattr(request.state, "view_rate_limit", None)
    if current is None:
        return {}
    item, args = current
    reset, remaining = limiter.limiter.get_window_stats(item, *args)
    return _window_headers(limiter, item, reset, remaining, retry_after=retry_after)


def _window_headers(
    limiter: Limiter, item: Any, reset: float, remaining: int, *, retry_after: bool
) -> dict[str, str]:
    names = limiter._header_mapping
    out = {
        names[HEADERS.LIMIT]: str(item.amount),
        names[HEADERS.REMAINING]: str(max(int(remaining), 0)),
        names[HEADERS.RESET]: str(math.ceil(reset)),  # epoch seconds, as slowapi sends it
    }
    if retry_after:
        out[names[HEADERS.RETRY_AFTER]] = str(max(1, math.ceil(reset - time.time())))
    return out


def _rejected(request: Request, item: Any, headers: dict[str, str]) -> _Outcome:
    """The 429 of a request over its limit (``headers`` include Retry-After)."""
    record_rate_limited("rate")
    log.info(
        "ratelimit.exceeded key=%s endpoint=%s limit=%s",
        request.state.rate_limit_key,
        _endpoint_name(request),
        item,
    )
    return _Outcome(
        error_response(
            429,
            "RATE_LIMITED",
            f"Rate limit exceeded: {item} for this endpoint; retry after"
            f" {headers.get('Retry-After', '?')} s",
            {
                "limit": item.amount,
                "window_seconds": item.get_expiry(),
                "retry_after_seconds": int(headers.get("Retry-After", "1")),
                "scope": "submit" if _endpoint_name(request) in SUBMIT_ENDPOINTS else "read",
            },
            headers,
        )
    )


def _storage_down(exc: BaseException, fail_open: bool) -> _Outcome:
    if fail_open:
        log.warning("ratelimit.storage_error policy=fail-open error=%s", type(exc).__name__)
        return _Outcome()
    log.warning("ratelimit.storage_error policy=fail-closed error=%s", type(exc).__name__)
    return _Outcome(
        error_response(
            503,
            "SERVICE_UNAVAILABLE",
            "Rate limiting is unavailable, so the request was refused; retry shortly",
            {"dependency": "rate-limit-storage"},
            {"Retry-After": "5"},
        )
    )


def _check(
    limiter: Limiter, request: Request, handler: Callable[..., Any] | None, fail_open: bool
) -> _Outcome:
    """Runs in a worker thread: resolve the key and limit, hit Redis, read the window."""
    token = _checking.set(request)
    try:
        if not rate_limit_key(request):
            return _Outcome()  # the operator key
        try:
            limiter._check_request_limit(request, handler, True)
        except RateLimitExceeded:
            headers = _stats_headers(limiter, request, retry_after=True)
            return _rejected(request, request.state.view_rate_limit[0], headers)
        return _Outcome(headers=_stats_headers(limiter, request, retry_after=False))
    except AppError as exc:
        return _Outcome(error_response(exc.status_code, exc.code, exc.message, exc.details))
    except STORAGE_ERRORS as exc:
        return _storage_down(exc, fail_open)
    finally:
        _checking.reset(token)


# --------------------------------------------------------------------------- the fast path

#: The moving-window hit and the window it leaves, in one call: ``limits``' own
#: ``acquire_moving_window.lua`` then ``moving_window.lua`` on the same list, so a request
#: checked here and one checked by slowapi spend from the same bucket. Answers
#: ``{acquired (1/0), oldest entry in the window (a string), entries in the window}``.
HIT_AND_WINDOW = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local expiry = tonumber(ARGV[3])
local acquired = 0
if limit >= 1 then
    local entry = redis.call('lindex', key, limit - 1)
    if not (entry and tonumber(entry) >= now - expiry) then
        redis.call('lpush', key, now)
        redis.call('ltrim', key, 0, limit - 1)
        redis.call('expire', key, expiry)
        acquired = 1
    end
end
local low, high, found = 0, limit - 1, nil
while low <= high do
    local mid = math.floor((low + high) / 2)
    local val = tonumber(redis.call('lindex', key, mid))
    if val and val >= now - expiry then
        found = mid
        low = mid + 1
    else
        high = mid - 1
    end
end
if found then
    return {acquired, tostring(redis.call('lindex', key, found)), found + 1}
end
return {acquired, tostring(now), 0}
"""


class _AsyncWindow:
    """An asyncio Redis client for the fast path, made again for a new event loop."""

    def __init__(self, uri: str, prefixed_key: Callable[[str], str]) -> None:
        self.uri = uri
        #: The storage's own key naming (``LIMITS:<key>``), so both paths share the buckets.
        self.prefixed_key = prefixed_key
        self._loop: asyncio.AbstractEventLoop | None = None
        self._script: Any = None

    def _script_for_loop(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            import redis.asyncio

            client = redis.asyncio.Redis.from_url(self.uri, **_STORAGE_OPTIONS)
            self._script = client.register_script(HIT_AND_WINDOW)
            self._loop = loop
        return self._script

    async def hit(self, key: str, amount: int, expiry: int) -> tuple[bool, float, int]:
        acquired, oldest, count = await self._script_for_loop()(
            keys=[key], args=[time.time(), amount, expiry]
        )
        return bool(acquired), float(oldest), int(count)


def _async_window(limiter: Limiter) -> _AsyncWindow | None:
    """The fast path's client when the limiter's storage is a plain Redis (not a cluster or
    sentinel, not memory), else None."""
    uri = get_settings().limiter_storage_uri
    storage: Any = limiter._storage
    if type(storage).__name__ != "RedisStorage" or not uri.startswith(("redis://", "rediss://")):
        return None
    return _AsyncWindow(uri, storage.prefixed_key)


@functools.lru_cache(maxsize=256)
def _limit_item(value: str) -> Any:
    from limits import parse

    return parse(value)


async def _fast_check(app: FastAPI, limiter: Limiter, request: Request) -> _Outcome | None:
    """On the event loop, when the principal and its plan's rates are cached (nearly every
    call of a busy key): the key and limit in memory, then one Redis call (``HIT_AND_WINDOW``)
    for the hit and the headers. None: not answerable here, take the worker-thread path
    (``_check``: a database lookup, an anonymous or session-token call, another storage)."""
    window: _AsyncWindow | None = getattr(app.state, "rate_limit_window", None)
    if window is None:
        return None
    from gateway.deps import cached_principal_of

    principal = cached_principal_of(request)
    if principal is None:
        return None
    if principal.tenant_id is None:
        request.state.rate_limit_key = request.state.rate_limit_value = ""
        return _Outcome()  # the operator key
    rates = cached_plan_rates(principal.plan_id or "")
    if rates is None:
        return None
    submit = _endpoint_name(request) in SUBMIT_ENDPOINTS
    per_minute = rates.submit_per_minute if submit else rates.read_per_minute
    key = f"tenant:{principal.tenant_id}"
    value = f"{max(per_minute, 0)}/minute"
    request.state.rate_limit_key, request.state.rate_limit_value = key, value
    item = _limit_item(value)
    args = [limiter._key_prefix, key, _endpoint_name(request)]
    request.state.view_rate_limit = (item, args)
    storage_key = window.prefixed_key(item.key_for(*args))
    try:
        acquired, oldest, count = await window.hit(storage_key, item.amount, item.get_expiry())
    except STORAGE_ERRORS as exc:
        return _storage_down(exc, app.state.rate_limit_fail_open)
    reset, remaining = oldest + item.get_expiry(), item.amount - count
    if not acquired:
        return _rejected(
            request, item, _window_headers(limiter, item, reset, remaining, retry_after=True)
        )
    return _Outcome(headers=_window_headers(limiter, item, reset, remaining, retry_after=False))


_RouteTable = list[tuple["re.Pattern[str]", frozenset[str], Callable[..., Any]]]


def _route_table(app: FastAPI) -> _RouteTable:
    """Every endpoint with its path pattern and methods, built once per app.

    slowapi's ``_find_route_handler`` only looks at the top-level routes, but FastAPI 0.16x
    keeps included routers as ``_IncludedRouter`` branches without an ``endpoint``, so it would
    find no handler (and exempt every route); ``iter_route_contexts`` walks the branches.
    """
    table: _RouteTable | None = getattr(app.state, "rate_limit_routes", None)
    if table is None:
        table = []
        for ctx in iter_route_contexts(app.routes):
            path, endpoint = ctx.path, ctx.endpoint
            if path is None or endpoint is None:
                continue  # mounts (static files) are not limited
            table.append((compile_path(path)[0], frozenset(ctx.methods or ()), endpoint))
        app.state.rate_limit_routes = table
    return table


def _route_handler(app: FastAPI, scope: Scope) -> Callable[..., Any] | None:
    path, method = scope["path"], scope["method"]
    for pattern, methods, endpoint in _route_table(app):
        if (not methods or method in methods) and pattern.match(path):
            return endpoint
    return None


class RateLimitMiddleware(SlowAPIASGIMiddleware):
    """slowapi's ASGI middleware with the check off the event loop (see the module doc)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        app = scope["app"]
        limiter: Limiter = app.state.limiter
        handler = _route_handler(app, scope)
        if not limiter.enabled or _should_exempt(limiter, handler):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive=receive)
        request.state.rate_limit_handler = handler
        outcome = await _fast_check(app, limiter, request)
        if outcome is None:
            outcome = await run_in_threadpool(
                _check, limiter, request, handler, app.state.rate_limit_fail_open
            )
        principal = getattr(request.state, "principal", None)
        if principal is not None and principal.tenant_id is not None:
            # The endpoint reuses the principal; keep the tenant on its log lines (in place,
            # so fields the request middleware bound, such as task_id, survive).
            bind_log_context(tenant_id=principal.tenant_id)
        if outcome.response is not None:
            await outcome.response(scope, receive, send)
            return
        if not outcome.headers:
            await self.app(scope, receive, send)
            return
        extra = outcome.headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def build_limiter() -> Limiter:
    s = get_settings()
    limiter = Limiter(
        key_func=rate_limit_key,
        default_limits=[_current_limit],
        headers_enabled=True,
        strategy=s.ratelimit_strategy,
        storage_uri=s.limiter_storage_uri,
        storage_options=dict(_STORAGE_OPTIONS),
        key_prefix="agensium",
        key_style="endpoint",
        enabled=s.ratelimit_enabled,
    )
    # slowapi re-reads RATELIMIT_ENABLED itself and takes any non-empty string as true.
    limiter.enabled = s.ratelimit_enabled
    return limiter


def install_rate_limits(app: FastAPI) -> None:
    """Attach the limiter and its middleware (added last, so it runs before the routes and
    any middleware added earlier)."""
    app.state.limiter = build_limiter()
    app.state.rate_limit_fail_open = get_settings().ratelimit_fail_open
    app.state.rate_limit_window = _async_window(app.state.limiter)
    app.add_middleware(RateLimitMiddleware)


def readiness(app: FastAPI) -> dict[str, str]:
    """What /readyz reports about rate limiting: the policy in force and the storage."""
    limiter: Limiter | None = getattr(app.state, "limiter", None)
    if limiter is None or not limiter.enabled:
        return {"rate_limit_policy": "disabled"}
    policy = "fail-open" if app.state.rate_limit_fail_open else "fail-closed"
    try:
        ok = bool(limiter._storage.check())
    except Exception:
        ok = False
    return {"rate_limit_policy": policy, "rate_limit_storage": "ok" if ok else "error: unreachable"}
