"""``GET /v1/tasks/{task_id}/report.html``: the task's HTML report, served so that it can do
nothing but be read.

The report is self-contained (no script, no external reference). The response adds a
Content-Security-Policy that forbids every fetch, scripts, forms and plugins, puts the document
in a ``sandbox`` (an opaque origin: it cannot touch the gateway's cookies, storage or a parent
page) and only lets the gateway's own pages frame it.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from core.errors import ConflictError
from gateway.deps import Scope, SessionDep, StorageDep, TenantDep
from gateway.errors import responses
from tasks import repository

router = APIRouter(
    prefix="/v1/tasks",
    tags=["tasks"],
    dependencies=[Scope("tasks")],
    responses=responses(401, 403, 429, 503),
)

REPORT_HTML = "report.html"
REPORT_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'self'; sandbox"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "private, no-store",
}


@router.get(
    "/{task_id}/report.html",
    response_class=Response,
    responses={
        **responses(404, 409),
        200: {
            "content": {"text/html": {"schema": {"type": "string"}}},
            "description": "The self-contained HTML report (charts as inline SVG, no script).",
        },
    },
    summary="The HTML report",
)
def get_report_html(
    task_id: str, principal: TenantDep, session: SessionDep, storage: StorageDep
) -> Response:
    """The task's ``report.html`` once the task has ended with one; 409 ``REPORT_NOT_READY``
    (with ``details.status``) before that. Served with a sandboxing Content-Security-Policy."""
    assert principal.tenant_id is not None
    task = repository.get_task(session, principal.tenant_id, task_id)
    out = next((o for o in task.outputs if o.name == REPORT_HTML), None)
    if out is None:
        raise ConflictError(
            f"The task is {task.status}; its HTML report is not available",
            code="REPORT_NOT_READY",
            details={"status": task.status},
        )
    return Response(
        storage.get_bytes(out.key), media_type="text/html; charset=utf-8", headers=REPORT_HEADERS
    )
