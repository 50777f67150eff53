"""Liveness and readiness.

``/readyz`` is what a load balancer asks: ready when this replica can serve, i.e. the database
and Redis answer (and the rate-limit storage when rate limiting fails closed, since every
guarded call would be refused). S3 is reported as *degraded*, never as not ready: an S3 outage
fails the calls that touch S3 with 503, and taking every replica out of the load balancer for
it would fail all the others too. The public answer is only the verdict; which dependency
failed, and how, is for the operator (``GET /v1/admin/readiness``). The verdict is computed at
most every ``READINESS_CACHE_SECONDS`` whoever asks, so anonymous probes cannot turn into a
database query, a Redis ping and an S3 call each.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from core.db import get_engine
from core.redis import get_redis
from core.settings import get_settings
from core.storage import get_storage
from gateway import ratelimit
from gateway.deps import AdminDep
from gateway.errors import responses

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


def _probe(name: str, call: Any) -> str:
    try:
        call()
        return "ok"
    except Exception as exc:
        return f"error: {type(exc).__name__}"


def _database() -> None:
    with get_engine().connect() as conn:
        conn.execute(text("SELECT 1"))


def _checks(app: FastAPI) -> dict[str, Any]:
    out: dict[str, Any] = {
        "database": _probe("database", _database),
        "redis": _probe("redis", lambda: get_redis().ping()),
        "s3": _probe("s3", lambda: get_storage().ping()),
    }
    out.update(ratelimit.readiness(app))
    return out


def verdict(checks: dict[str, Any]) -> str:
    """``ok``, ``degraded`` (S3 down: still serving) or ``unavailable`` (not ready)."""
    needed = ["database", "redis"]
    if checks.get("rate_limit_policy") == "fail-closed":
        needed.append("rate_limit_storage")
    if not all(checks.get(k) == "ok" for k in needed):
        return "unavailable"
    return "ok" if checks.get("s3") == "ok" else "degraded"


@dataclass
class _Cache:
    """One probe at a time per replica; its result is reused for READINESS_CACHE_SECONDS."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    at: float = float("-inf")
    checks: dict[str, Any] = field(default_factory=dict)
    probes: int = 0

    def get(self, app: FastAPI) -> dict[str, Any]:
        ttl = get_settings().readiness_cache_seconds
        with self.lock:
            if time.monotonic() - self.at >= ttl:
                self.checks = _checks(app)
                self.at = time.monotonic()
                self.probes += 1
            return dict(self.checks)


def _cache(app: FastAPI) -> _Cache:
    cache: _Cache | None = getattr(app.state, "readiness_cache", None)
    if cache is None:
        cache = _Cache()
        app.state.readiness_cache = cache
    return cache


@router.get(
    "/readyz",
    responses={503: {"description": "Not ready: the database or Redis does not answer."}},
)
async def readyz(request: Request) -> JSONResponse:
    """``{"status": "ok" | "degraded" | "unavailable"}``: 200 when the database and Redis
    answer (``degraded`` when S3 does not: calls touching S3 then answer 503 themselves), 503
    otherwise. No details here: the operator reads them at ``GET /v1/admin/readiness``."""
    checks = await run_in_threadpool(_cache(request.app).get, request.app)
    status = verdict(checks)
    return JSONResponse({"status": status}, status_code=503 if status == "unavailable" else 200)


@router.get("/v1/admin/readiness", responses=responses(401, 403), tags=["admin"])
async def readiness_details(request: Request, _: AdminDep) -> JSONResponse:
    """The operator's view of ``/readyz``: the verdict and each dependency's check (``ok`` or
    the error class), the rate-limit policy in force, and how many probes this replica ran."""
    cache = _cache(request.app)
    checks = await run_in_threadpool(cache.get, request.app)
    return JSONResponse({"status": verdict(checks), "checks": checks, "probes": cache.probes})
