"""The usage dashboard (``/dashboard``) and the operator page (``/dashboard/ops``).

Static HTML/JS/CSS served by the gateway itself: no CDN, no build step, the chart is a small
hand-written SVG. The pages sign in with an API key, exchange it at once for a short-lived
session token (``POST /v1/auth/session``) and keep only the token, in ``sessionStorage``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, JSONResponse
from starlette.staticfiles import StaticFiles

from core.settings import get_settings

STATIC = Path(__file__).parent / "static"

#: Only our own origin: no CDN, no inline script, no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

router = APIRouter(include_in_schema=False)


def _page(name: str) -> FileResponse:
    return FileResponse(STATIC / name, media_type="text/html", headers=SECURITY_HEADERS)


@router.get("/dashboard")
def dashboard() -> FileResponse:
    return _page("index.html")


@router.get("/dashboard/ops")
def ops() -> FileResponse:
    return _page("ops.html")


def _packages() -> list[dict[str, Any]]:
    """Credit packages from ``CREDIT_PACKAGES`` (``id:credits:price_cents,...``)."""
    out = []
    for item in get_settings().credit_packages.split(","):
        parts = [p.strip() for p in item.split(":")]
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            out.append({"id": parts[0], "credits": int(parts[1]), "price_cents": int(parts[2])})
    return out


@router.get("/dashboard/config.json")
def config() -> JSONResponse:
    """What the pages need that is not behind auth: the credit packages on offer."""
    return JSONResponse({"packages": _packages()}, headers={"Cache-Control": "no-store"})


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static")
