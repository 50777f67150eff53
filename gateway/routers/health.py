"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from core.db import get_engine
from core.redis import get_redis
from core.storage import get_storage
from gateway import ratelimit

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


def _checks() -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        out["database"] = "ok"
    except Exception as exc:
        out["database"] = f"error: {type(exc).__name__}"
    try:
        get_redis().ping()
        out["redis"] = "ok"
    except Exception as exc:
        out["redis"] = f"error: {type(exc).__name__}"
    try:
        get_storage().ping()
        out["s3"] = "ok"
    except Exception as exc:
        out["s3"] = f"error: {type(exc).__name__}"
    return out


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Ready when the database, Redis and S3 answer; says whether rate limiting fails closed
    (then its storage must answer too, since guarded routes would refuse every call)."""
    checks = await run_in_threadpool(_checks)
    checks.update(await run_in_threadpool(ratelimit.readiness, request.app))
    needed = ["database", "redis", "s3"]
    if checks["rate_limit_policy"] == "fail-closed":
        needed.append("rate_limit_storage")
    ok = all(checks.get(k) == "ok" for k in needed)
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503
    )
