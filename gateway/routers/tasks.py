"""The task API: create, upload, process, watch, fetch results, cancel, delete, list."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from core.errors import BadRequestError, ValidationFailedError
from core.settings import get_settings
from core.storage import Storage
from gateway import idempotency, uploads
from gateway.deps import (
    CursorQ,
    PlanDep,
    ReadSessionDep,
    Scope,
    SessionDep,
    StorageDep,
    TenantDep,
    get_plan,
)
from gateway.errors import responses
from gateway.idempotency import idempotent
from tasks import files, intake, repository, service
from tasks.models import FINAL_STATUSES, TaskStatus
from tasks.presenters import task_out
from tasks.schemas import (
    CallbackSecretOut,
    CallbackSecretRotated,
    FileUploaded,
    OutputOut,
    ProcessAccepted,
    TaskCreate,
    TaskCreated,
    TaskOut,
    TaskPage,
)
from tenants.schemas import Principal
from transformers.registry import get_tool
from workers import faults
from workers.callbacks import rotate_secret, signing_secrets

# 401 (no or bad key), 429 (rate limit, every route) and 503 (a dependency is down) can answer
# any task call.
router = APIRouter(
    prefix="/v1/tasks",
    tags=["tasks"],
    dependencies=[Scope("tasks")],
    responses=responses(401, 403, 429, 503),
)
callbacks_router = APIRouter(
    prefix="/v1/callbacks",
    tags=["callbacks"],
    dependencies=[Scope("tasks")],
    responses=responses(401, 403, 429),
)

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="Replays the first response for 24 h."),
]


_CREATE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": TaskCreate.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["spec"],
                    "properties": {
                        "spec": {
                            "type": "string",
                            "description": "The JSON task spec ({tool_id, agents?, ...}).",
                        },
                        "process": {
                            "type": "string",
                            "enum": ["true", "false"],
                            "description": "true: process right after the uploads.",
                        },
                        "primary": {"type": "string", "format": "binary"},
                        "baseline": {"type": "string", "format": "binary"},
                        "contract": {"type": "string", "format": "binary"},
                        "reference": {"type": "string", "format": "binary"},
                    },
                }
            },
        },
    }
}


@router.post(
    "",
    status_code=201,
    response_model=TaskCreated,
    responses=responses(400, 402, 409, 413, 415, 422),
    summary="Create a task",
    openapi_extra=_CREATE_BODY,
)
async def create_task(
    request: Request,
    principal: TenantDep,
    storage: StorageDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create a task for a tool and get a presigned PUT URL per file role.

    Send JSON ``{tool_id, agents?, parameters?, report_formats?, callback_url?}``, or
    ``multipart/form-data`` with a ``spec`` JSON field, one file field per role (``primary``,
    ``baseline``...) and ``process=true`` to create, upload and process in one call (201 with
    ``status: QUEUED``; if any step fails the task is removed and the error returned). Agents
    and parameters are validated against the tool before anything is stored: 422
    ``UNKNOWN_TOOL``, ``UNKNOWN_AGENT``, ``INVALID_PARAMETERS`` (``details.path``),
    ``UNKNOWN_ROLE``, ``UNKNOWN_REPORT_FORMAT``, ``INVALID_CALLBACK_URL``. JSON bodies over
    1 MB are 413. Honours ``Idempotency-Key``.
    """
    assert principal.tenant_id is not None
    tenant_id = principal.tenant_id
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        return await _one_shot(request, principal, storage, idempotency_key)
    raw = await _json_body(request)
    body = _parse(TaskCreate, raw)

    async def run() -> tuple[int, dict[str, Any]]:
        created = await run_in_threadpool(intake.create, tenant_id, body, storage)
        return 201, created.model_dump(mode="json")

    status, out, replayed = await idempotent(tenant_id, idempotency_key, "POST /v1/tasks", raw, run)
    return JSONResponse(
        out, status_code=status, headers={"Idempotent-Replayed": "true"} if replayed else None
    )


async def _json_body(request: Request) -> Any:
    limit = get_settings().max_json_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise uploads.BodyTooLarge(
            f"JSON bodies are limited to {limit} bytes", details={"limit_bytes": limit}
        )
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise uploads.BodyTooLarge(
                f"JSON bodies are limited to {limit} bytes", details={"limit_bytes": limit}
            )
    try:
        return json.loads(bytes(data) or b"null")
    except (ValueError, RecursionError) as exc:
        raise BadRequestError(f"The body is not valid JSON: {exc}", code="INVALID_JSON") from None


def _parse(model: type[TaskCreate], raw: Any) -> TaskCreate:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        errors = [
            {"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
            for e in exc.errors(include_input=False)
        ]
        raise ValidationFailedError(
            f"{errors[0]['path'] or 'body'}: {errors[0]['message']}", details={"errors": errors}
        ) from None


async def _one_shot(
    request: Request, principal: Principal, storage: Storage, idem: str | None
) -> Response:
    """multipart: spec (JSON) + a file per role + process=true, all or nothing
    (``tasks.intake.create_with_files``)."""
    assert principal.tenant_id is not None
    tenant_id = principal.tenant_id
    plan = await run_in_threadpool(get_plan, principal)
    form = await uploads.parse_multipart(request, plan.max_file_bytes * 4 + 1024 * 1024)
    try:
        spec = form.get("spec")
        if isinstance(spec, UploadFile):
            spec = (await spec.read(get_settings().max_json_body_bytes + 1)).decode(
                "utf-8", "replace"
            )
        try:
            raw = json.loads(spec or "{}")
        except (ValueError, RecursionError):
            raise BadRequestError(
                "The 'spec' field is not valid JSON", code="INVALID_JSON"
            ) from None
        body = _parse(TaskCreate, raw)
        do_process = str(form.get("process", "false")).lower() in ("1", "true", "yes")
        parts = {k: v for k, v in form.multi_items() if isinstance(v, UploadFile)}
        parts.pop("spec", None)
        intake.check_file_roles(body.tool_id, parts)
        idem_body = {"spec": raw, "files": sorted(parts), "process": do_process}

        async def run() -> tuple[int, dict[str, Any]]:
            created = await intake.create_with_files(
                tenant_id,
                body,
                {role: uploads.FormFile(upload) for role, upload in parts.items()},
                process_now=do_process,
                plan=plan,
                storage=storage,
                on_created=_note_created,
            )
            return 201, created.model_dump(mode="json")

        status, out, replayed = await idempotent(
            tenant_id, idem, "POST /v1/tasks (multipart)", idem_body, run
        )
    finally:
        await form.close()
    return JSONResponse(
        out, status_code=status, headers={"Idempotent-Replayed": "true"} if replayed else None
    )


def _note_created(task_id: str) -> None:
    """If this gateway dies from here on, the Idempotency-Key's next user removes the task."""
    idempotency.note_pending(task_id)
    faults.checkpoint("one_shot_created")


@router.put(
    "/{task_id}/files/{role}",
    response_model=FileUploaded,
    responses=responses(400, 404, 409, 413, 415, 422),
    summary="Upload a file through the gateway",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
            },
        }
    },
)
async def upload_file(
    task_id: str,
    role: Annotated[
        str,
        Path(max_length=32, examples=["primary", "baseline", "contract", "reference"]),
    ],
    request: Request,
    principal: TenantDep,
    plan: PlanDep,
    storage: StorageDep,
    filename: Annotated[
        str | None,
        Query(max_length=1000, description="The file's name (raw-body uploads)."),
    ] = None,
) -> FileUploaded:
    """Stream a file for one role to storage: the raw bytes as the body with ``?filename=``,
    or ``multipart/form-data`` with a ``file`` field. The name is sanitised (no directories, no
    control characters). 413 ``FILE_TOO_LARGE`` over the plan's limit, 415
    ``UNSUPPORTED_FORMAT`` when the content is not a format the role accepts (judged by the
    bytes, not the extension), 422 ``EMPTY_FILE``, 422 ``UNKNOWN_ROLE``, 409 ``INVALID_STATE``
    unless the task is CREATED. Answers the stored name, size, SHA-256 and format."""
    assert principal.tenant_id is not None
    # The envelope: a declared body past the cap (the plan's file limit and room for a
    # multipart form's headers) is refused before anything is read.
    envelope = plan.max_file_bytes + 64 * 1024
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > envelope:
        raise files.too_large(plan.max_file_bytes)
    return await intake.upload_file(
        principal.tenant_id,
        task_id,
        role,
        filename,
        uploads.RequestFile(request, filename, envelope),
        storage,
        plan,
    )


@router.post(
    "/{task_id}/process",
    status_code=202,
    response_model=ProcessAccepted,
    responses=responses(402, 404, 409, 413, 415, 422),
    summary="Validate, hold credits and queue a task",
)
async def process_task(
    task_id: str, principal: TenantDep, storage: StorageDep, idempotency_key: IdempotencyKey = None
) -> Response:
    """Checks that every required file is in storage with its recorded size (409
    ``MISSING_FILE`` otherwise; files PUT to presigned URLs are checked for size, emptiness
    and format here), estimates the credits, holds them and puts the task on its tool's queue
    (after the commit). 402 ``INSUFFICIENT_CREDITS`` with required/available/shortfall; 409
    ``INVALID_STATE`` when the task is not CREATED (``details.status``); 429
    ``QUOTA_EXCEEDED`` over the plan's concurrency. Concurrent calls queue the task once.
    Honours ``Idempotency-Key``."""
    assert principal.tenant_id is not None
    tenant_id = principal.tenant_id

    async def run() -> tuple[int, dict[str, Any]]:
        accepted = await run_in_threadpool(
            intake.process, tenant_id, principal.plan_id, task_id, storage
        )
        return 202, accepted.model_dump(mode="json")

    status, out, replayed = await idempotent(
        tenant_id, idempotency_key, f"POST /v1/tasks/{task_id}/process", {}, run
    )
    return JSONResponse(
        out, status_code=status, headers={"Idempotent-Replayed": "true"} if replayed else None
    )


@router.get("/{task_id}", response_model=TaskOut, responses=responses(404), summary="Task status")
def get_task(task_id: str, principal: TenantDep, session: ReadSessionDep) -> TaskOut:
    """Status, progress 0-100, the current agent, per-agent status, credits and errors."""
    assert principal.tenant_id is not None
    return task_out(repository.get_task(session, principal.tenant_id, task_id))


@router.get(
    "/{task_id}/events",
    response_class=Response,
    responses={
        **responses(404),
        200: {
            "content": {
                "text/event-stream": {
                    "schema": {
                        "type": "object",
                        "required": ["event", "data"],
                        "properties": {
                            "event": {"type": "string", "enum": ["progress", "status"]},
                            "data": {"type": "string", "description": "A JSON document."},
                        },
                    }
                }
            },
            "description": "Server-Sent Events: `event: progress` with the task (as GET "
            "/v1/tasks/{task_id}) on every change, then one `event: status` with "
            '`{"status": ...}` when the task has ended; the stream then closes.',
        },
    },
    summary="Progress as Server-Sent Events",
)
async def task_events(task_id: str, principal: TenantDep, request: Request) -> Response:
    """Pushes a ``progress`` event on every change of status, progress, current agent or an
    agent's status, and ends with a ``status`` event when the task ends (at once for a task that
    has already ended). Polls the task row, the source of truth, twice a second."""
    from sse_starlette.sse import EventSourceResponse

    assert principal.tenant_id is not None
    tenant_id = principal.tenant_id

    def snapshot() -> dict[str, Any] | None:
        task = service.snapshot(tenant_id, task_id)
        return None if task is None else task.model_dump(mode="json")  # None: deleted

    first = await run_in_threadpool(snapshot)
    if first is None:
        repository.raise_not_found(task_id)
    final = {s.value for s in FINAL_STATUSES}

    async def stream() -> AsyncIterator[dict[str, str]]:
        last: Any = None
        current: dict[str, Any] | None = first
        while True:
            if current is None:
                yield {"event": "status", "data": json.dumps({"status": "DELETED"})}
                return
            key = (
                current["status"],
                current["progress"],
                current["current_agent"],
                [a["status"] for a in current["agents"]],
            )
            if key != last:
                last = key
                yield {"event": "progress", "data": json.dumps(current)}
            if current["status"] in final:
                yield {"event": "status", "data": json.dumps({"status": current["status"]})}
                return
            if await request.is_disconnected():
                return
            await asyncio.sleep(0.5)
            current = await run_in_threadpool(snapshot)

    return EventSourceResponse(stream(), ping=15)


@router.get(
    "/{task_id}/report",
    response_class=Response,
    responses={
        **responses(404, 409),
        200: {
            "content": {"application/json": {"schema": {"type": "object"}}},
            "description": "The report: summary, per-agent results, findings.",
        },
    },
    summary="The JSON report",
)
def get_report(
    task_id: str, principal: TenantDep, session: SessionDep, storage: StorageDep
) -> Response:
    """The task's report once it has ended with one; 409 ``REPORT_NOT_READY`` (with
    ``details.status``) before that, and for a task that failed before producing one."""
    assert principal.tenant_id is not None
    report = service.report(session, principal.tenant_id, task_id, storage)
    return Response(report, media_type="application/json")


@router.get(
    "/{task_id}/outputs",
    response_model=list[OutputOut],
    responses=responses(404),
    summary="Output files",
)
def get_outputs(
    task_id: str, principal: TenantDep, session: SessionDep, storage: StorageDep
) -> list[OutputOut]:
    """Output files with presigned GET URLs that expire (``S3_PRESIGN_EXPIRY_SECONDS``, one
    hour by default); each URL is signed for that one object, so it cannot fetch another. Empty
    until the task has ended."""
    assert principal.tenant_id is not None
    return service.outputs(session, principal.tenant_id, task_id, storage)


@router.post(
    "/{task_id}/cancel",
    response_model=TaskOut,
    responses=responses(404, 409),
    summary="Cancel a task",
)
def cancel_task(task_id: str, principal: TenantDep, session: SessionDep) -> TaskOut:
    """CREATED and QUEUED tasks end at once (``CANCELLED``, hold released); a PROCESSING task
    stops after its current agent (the answer still says ``PROCESSING``; watch it end).
    Agents that finished stay charged, the rest is released. 409 for a task that has ended."""
    assert principal.tenant_id is not None
    return task_out(service.cancel_task(session, principal.tenant_id, task_id))


@router.delete(
    "/{task_id}",
    status_code=204,
    response_class=Response,
    responses=responses(404, 409),
    summary="Delete a task",
)
def delete_task(
    task_id: str, principal: TenantDep, session: SessionDep, storage: StorageDep
) -> Response:
    """Delete a task with all its files (inputs, outputs, checkpoints); 409 ``INVALID_STATE``
    while it is QUEUED or PROCESSING (cancel it first)."""
    assert principal.tenant_id is not None
    service.delete_task(session, principal.tenant_id, task_id, storage)
    return Response(status_code=204)


@router.get("", response_model=TaskPage, responses=responses(422), summary="List tasks")
def list_tasks(
    principal: TenantDep,
    session: ReadSessionDep,
    status: Annotated[TaskStatus | None, Query(description="Only tasks in this status.")] = None,
    tool_id: Annotated[
        str | None, Query(max_length=64, description="Only tasks of this tool.")
    ] = None,
    cursor: CursorQ = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size.")] = 50,
) -> TaskPage:
    """Your tasks, newest first, with cursor pagination: pass ``next_cursor`` as ``cursor``
    until it is null. 422 ``UNKNOWN_TOOL`` / ``INVALID_CURSOR`` for a bad filter or cursor."""
    assert principal.tenant_id is not None
    if tool_id is not None:
        get_tool(tool_id)
    page = repository.list_tasks(
        session,
        principal.tenant_id,
        status=status.value if status else None,
        tool_id=tool_id,
        cursor=cursor,
        limit=limit,
    )
    return TaskPage(items=[task_out(t) for t in page.items], next_cursor=page.next_cursor)


@callbacks_router.get("/secret", response_model=CallbackSecretOut, summary="Callback secret")
def callback_secret(principal: TenantDep, session: SessionDep) -> CallbackSecretOut:
    """Your webhook secret (random, made on first read): verify each callback by recomputing
    ``hex(HMAC_SHA256(secret, "<t>." + raw body))`` from the ``X-Agensium-Signature:
    t=<unix seconds>,v1=<hex>[,v1=<hex>]`` header, accept it when any ``v1`` matches (compare
    in constant time), and reject a ``t`` more than five minutes old (replays)."""
    assert principal.tenant_id is not None
    return CallbackSecretOut(secret=signing_secrets(session, principal.tenant_id)[0])


@callbacks_router.post(
    "/secret/rotate",
    response_model=CallbackSecretRotated,
    summary="Rotate the callback secret",
    responses=responses(401, 403, 429),
)
def rotate_callback_secret(principal: TenantDep, session: SessionDep) -> CallbackSecretRotated:
    """A new random secret signs every callback from now on. The previous one keeps signing
    too (a second ``v1`` in the header) until ``previous_valid_until``, so you can deploy the
    new secret to your receiver without losing a callback."""
    assert principal.tenant_id is not None
    rotation = rotate_secret(session, principal.tenant_id)
    return CallbackSecretRotated(
        secret=rotation.secret, previous_valid_until=rotation.previous_valid_until
    )
