"""The usage dashboard (``/dashboard``), the task pages (``/dashboard/tasks``, one task at
``/dashboard/tasks/{task_id}``) and the operator page (``/dashboard/ops``).

Static HTML/JS/CSS served by the gateway itself: no CDN, no build step, the chart is a small
hand-written SVG. The pages sign in with an API key, exchange it at once for a short-lived
session token (``POST /v1/auth/session``) and keep only the token, in ``sessionStorage``; they
call the public API only.

The task page shows the task's ``report.html`` in an ``<iframe sandbox srcdoc>``: no script and
an opaque origin (it cannot reach this page), and it inherits this page's policy plus its own
(``default-src 'none'``), so it can make no request. The only thing this page's policy allows
beyond ``'self'`` is the hash of the report's one stylesheet (``REPORT_CSS_HASH``).
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, JSONResponse
from starlette.staticfiles import StaticFiles

from core.settings import get_settings

STATIC = Path(__file__).parent / "static"

#: The report's stylesheet (``transformers/report/report.css``, inlined into every report.html):
#: read as a file beside this package (source tree or site-packages alike), so the gateway never
#: imports the analysis engine.
_REPORT_CSS = Path(__file__).resolve().parents[2] / "transformers" / "report" / "report.css"
REPORT_CSS_HASH = (
    "sha256-"
    + base64.b64encode(
        hashlib.sha256(_REPORT_CSS.read_text(encoding="utf-8").strip().encode()).digest()
    ).decode()
)


def _csp(style_src: str = "'self'") -> str:
    """Only our own origin: no CDN, no inline script, no framing of this page."""
    return (
        f"default-src 'self'; script-src 'self'; style-src {style_src}; img-src 'self' data:; "
        "connect-src 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    )


SECURITY_HEADERS = {
    "Content-Security-Policy": _csp(),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
#: The task page: the same, and the report's stylesheet (by hash) for the report frame.
TASK_PAGE_HEADERS = SECURITY_HEADERS | {
    "Content-Security-Policy": _csp(f"'self' '{REPORT_CSS_HASH}'")
}

router = APIRouter(include_in_schema=False)


def _page(name: str, headers: dict[str, str] = SECURITY_HEADERS) -> FileResponse:
    return FileResponse(STATIC / name, media_type="text/html", headers=headers)


@router.get("/dashboard")
def dashboard() -> FileResponse:
    return _page("index.html")


@router.get("/dashboard/tasks")
def tasks_page() -> FileResponse:
    return _page("tasks.html")


@router.get("/dashboard/tasks/{task_id}")
def task_page(task_id: str) -> FileResponse:
    """The page is the same for every task; its script reads the id from the path."""
    return _page("task.html", TASK_PAGE_HEADERS)


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
