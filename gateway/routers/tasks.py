"""The task API: create, upload, process, watch, fetch results, cancel, delete, list."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from core.db import session_scope, utcnow
from core.errors import BadRequestError, ConflictError, ValidationFailedError
from core.settings import get_settings
from core.storage import Storage, input_key
from gateway import uploads
from gateway.deps import PlanDep, SessionDep, StorageDep, TenantDep
from gateway.errors import responses
from gateway.idempotency import idempotent
from gateway.presenters import task_out
from gateway.schemas import (
    FileUploaded,
    OutputOut,
    ProcessAccepted,
    TaskCreate,
    TaskCreated,
    TaskOut,
    TaskPage,
    UploadSlot,
)
from tenants.models import Plan, Tenant
from tenants.schemas import Principal
from transformers.registry import get_tool
from workers import service
from workers.callbacks import validate_callback_url
from workers.models import Task, TaskStatus

router = APIRouter(prefix="/v1/tasks", tags=["tasks"])

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="Replays the first response for 24 h."),
]


def _upload_slots(
    task: Task, storage: Storage, filenames: dict[str, str] | None
) -> dict[str, UploadSlot]:
    tool = get_tool(task.tool_id)
    expires = get_settings().s3_presign_expiry_seconds
    at = utcnow() + dt.timedelta(seconds=expires)
    slots = {}
    for role in tool.file_roles:
        name = uploads.clean_filename((filenames or {}).get(role.name), role.name)
        key = input_key(task.tenant_id, task.id, role.name, name)
        slots[role.name] = UploadSlot(url=storage.presign_put(key, expires), expires_at=at)
    return slots


def _create(
    session: Session, principal: Principal, body: TaskCreate, storage: Storage
) -> TaskCreated:
    if body.callback_url:
        validate_callback_url(body.callback_url)
    tool = get_tool(body.tool_id)
    unknown = [r for r in (body.filenames or {}) if tool.role(r) is None]
    if unknown:
        raise ValidationFailedError(
            f"Tool '{tool.tool_id}' has no file role {unknown[0]!r}",
            code="UNKNOWN_ROLE",
            details={"roles": [r.name for r in tool.file_roles]},
        )
    assert principal.tenant_id is not None
    task = service.create_task(
        session,
        principal.tenant_id,
        body.tool_id,
        body.agents,
        body.parameters,
        options={
            "on_bad_lines": body.on_bad_lines,
            "sheet": body.sheet,
            "filenames": body.filenames or {},
        },
        callback_url=body.callback_url,
        max_attempts=get_settings().task_max_attempts,
    )
    return TaskCreated(
        task_id=task.id,
        status=task.status,
        tool_id=task.tool_id,
        agents=list(task.agents),
        uploads=_upload_slots(task, storage, body.filenames),
    )


@router.post(
    "",
    status_code=201,
    response_model=TaskCreated,
    responses=responses(401, 409, 413, 415, 422, 429),
    summary="Create a task",
)
async def create_task(
    request: Request,
    principal: TenantDep,
    storage: StorageDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create a task for a tool and get a presigned PUT URL per file role.

    Send JSON ``{tool_id, agents?, parameters?, callback_url?}``, or ``multipart/form-data``
    with a ``spec`` JSON field, one file field per role (``primary``, ``baseline``...) and
    ``process=true`` to create, upload and process in one call.
    """
    assert principal.tenant_id is not None
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        return await _one_shot(request, principal, storage, idempotency_key)
    raw = await _json_body(request)
    body = _parse(TaskCreate, raw)

    async def run() -> tuple[int, dict[str, Any]]:
        def work() -> dict[str, Any]:
            with session_scope() as session:
                return _create(session, principal, body, storage).model_dump(mode="json")

        return 201, await run_in_threadpool(work)

    status, out, replayed = await idempotent(
        principal.tenant_id, idempotency_key, "POST /v1/tasks", raw, run
    )
    return JSONResponse(
        out, status_code=status, headers={"Idempotent-Replayed": "true"} if replayed else None
    )


async def _json_body(request: Request) -> Any:
    limit = get_settings().max_json_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise uploads.FileTooLarge(
            f"JSON bodies are limited to {limit} bytes", details={"limit_bytes": limit}
        )
    data = b""
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise uploads.FileTooLarge(
                f"JSON bodies are limited to {limit} bytes", details={"limit_bytes": limit}
            )
    try:
        return json.loads(data or b"null")
    except ValueError as exc:
        raise BadRequestError(f"The body is not valid JSON: {exc}", code="INVALID_JSON") from None


def _parse(model: type[TaskCreate], raw: Any) -> TaskCreate:
    from pydantic import ValidationError

    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        errors = [
            {"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        raise ValidationFailedError(
            f"{errors[0]['path'] or 'body'}: {errors[0]['message']}", details={"errors": errors}
        ) from None


async def _one_shot(
    request: Request, principal: Principal, storage: Storage, idem: str | None
) -> Response:
    """multipart: spec (JSON) + a file per role + process=true."""
    assert principal.tenant_id is not None
    form = await request.form()
    try:
        raw = json.loads(str(form.get("spec") or "{}"))
    except ValueError:
        raise BadRequestError("The 'spec' field is not valid JSON", code="INVALID_JSON") from None
    for field_name in ("tool_id",):
        if form.get(field_name) and isinstance(raw, dict):
            raw.setdefault(field_name, str(form.get(field_name)))
    body = _parse(TaskCreate, raw)
    do_process = str(form.get("process", "false")).lower() in ("1", "true", "yes")
    tool = get_tool(body.tool_id)
    files = {
        k: v for k, v in form.multi_items() if isinstance(v, UploadFile) or hasattr(v, "filename")
    }
    unknown = [k for k in files if tool.role(k) is None]
    if unknown:
        raise ValidationFailedError(
            f"Tool '{tool.tool_id}' has no file role '{unknown[0]}'",
            code="UNKNOWN_ROLE",
            details={"roles": [r.name for r in tool.file_roles]},
        )
    idem_body = {"spec": raw, "files": sorted(files), "process": do_process}

    async def run() -> tuple[int, dict[str, Any]]:
        with session_scope() as session:
            created = _create(session, principal, body, storage)
            plan = _plan(session, principal)
        for role_name, upload in files.items():
            await _receive(
                principal,
                created.task_id,
                role_name,
                upload.filename,
                _iter_upload(upload),
                storage,
                plan,
            )
        out = created.model_dump(mode="json")
        if do_process:
            accepted = await run_in_threadpool(_process_sync, principal, created.task_id, storage)
            out["status"] = accepted.status
            out["credits_held"] = accepted.credits_held
        return 201, out

    status, out, replayed = await idempotent(
        principal.tenant_id, idem, "POST /v1/tasks (multipart)", idem_body, run
    )
    return JSONResponse(
        out, status_code=status, headers={"Idempotent-Replayed": "true"} if replayed else None
    )


async def _iter_upload(upload: Any) -> AsyncIterator[bytes]:
    while chunk := await upload.read(1024 * 1024):
        yield chunk


def _plan(session: Session, principal: Principal) -> Plan:
    tenant = session.get(Tenant, principal.tenant_id)
    assert tenant is not None
    plan: Plan = tenant.plan
    session.expunge(plan)
    return plan


async def _receive(
    principal: Principal,
    task_id: str,
    role: str,
    filename: str | None,
    chunks: AsyncIterator[bytes],
    storage: Storage,
    plan: Plan,
) -> FileUploaded:
    assert principal.tenant_id is not None
    name = uploads.clean_filename(filename, role)
    with session_scope() as session:
        task = service.get_task(session, principal.tenant_id, task_id)
        _, key = service.file_slot(task, role, name)
        role_spec = get_tool(task.tool_id).role(role)
        assert role_spec is not None
    received = await uploads.spool(chunks, plan.max_file_bytes)
    try:
        fmt = uploads.check_content(received.size, received.head, name, role_spec)
    except BaseException:
        received.path.unlink(missing_ok=True)
        raise
    await uploads.store(storage, received, key)
    with session_scope() as session:
        task = service.get_task(session, principal.tenant_id, task_id)
        service.file_slot(task, role, name)  # still CREATED?
        service.record_file(
            session, task, role, name, key, size=received.size, sha256=received.sha256, fmt=fmt
        )
    return FileUploaded(
        role=role, filename=name, size=received.size, sha256=received.sha256, format=fmt
    )


@router.put(
    "/{task_id}/files/{role}",
    response_model=FileUploaded,
    responses=responses(401, 404, 409, 413, 415, 422),
    summary="Upload a file through the gateway",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
            }
        }
    },
)
async def upload_file(
    task_id: str,
    role: str,
    request: Request,
    principal: TenantDep,
    plan: PlanDep,
    storage: StorageDep,
    filename: Annotated[
        str | None, Query(description="The file's name (raw-body uploads).")
    ] = None,
) -> FileUploaded:
    """Stream a file for one role to storage: the raw bytes as the body with ``?filename=``,
    or ``multipart/form-data`` with a ``file`` field. Size-limited by the plan; the format is
    detected from the content. Answers the stored size and SHA-256."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > plan.max_file_bytes + 64 * 1024:
        raise uploads.FileTooLarge(
            f"The file exceeds your plan's limit of {plan.max_file_bytes} bytes",
            details={"limit_bytes": plan.max_file_bytes},
        )
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or not hasattr(upload, "filename"):
            raise ValidationFailedError(
                "Send the file in a 'file' form field", code="MISSING_FILE_FIELD"
            )
        return await _receive(
            principal,
            task_id,
            role,
            filename or upload.filename,
            _iter_upload(upload),
            storage,
            plan,
        )
    return await _receive(principal, task_id, role, filename, request.stream(), storage, plan)


def _process_sync(principal: Principal, task_id: str, storage: Storage) -> ProcessAccepted:
    assert principal.tenant_id is not None
    with session_scope() as session:
        task = service.get_task(session, principal.tenant_id, task_id)
        _adopt_presigned_uploads(session, task, storage)
        plan = session.get(Tenant, principal.tenant_id).plan  # type: ignore[union-attr]
        # The plan's size limits travel with the task: the worker's reader enforces them.
        task.options = {
            **(task.options or {}),
            "max_rows": plan.max_rows,
            "max_columns": plan.max_columns,
            "max_cell_length": plan.max_cell_length,
        }
        task = service.process_task(session, task, plan, storage)
        return ProcessAccepted(task_id=task.id, status=task.status, credits_held=task.credits_held)


def _adopt_presigned_uploads(session: Session, task: Task, storage: Storage) -> None:
    """Files PUT to presigned URLs: record them and check size and format like gateway uploads."""
    if task.status != TaskStatus.CREATED:
        return
    tool = get_tool(task.tool_id)
    plan = session.get(Tenant, task.tenant_id).plan  # type: ignore[union-attr]
    filenames = (task.options or {}).get("filenames") or {}
    for role in tool.file_roles:
        if task.file(role.name) is not None:
            continue
        name = uploads.clean_filename(filenames.get(role.name), role.name)
        key = input_key(task.tenant_id, task.id, role.name, name)
        info = storage.head(key)
        if info is None:
            continue
        if info.size > plan.max_file_bytes:
            storage.delete(key)
            raise uploads.FileTooLarge(
                f"The {role.name} file exceeds your plan's limit of {plan.max_file_bytes} bytes",
                details={"role": role.name, "limit_bytes": plan.max_file_bytes},
            )
        head = storage.read_head(key, uploads.SNIFF_BYTES) if info.size else b""
        fmt = uploads.check_content(info.size, head, name, role)
        service.record_file(
            session, task, role.name, name, key, size=info.size, sha256=None, fmt=fmt
        )


@router.post(
    "/{task_id}/process",
    status_code=202,
    response_model=ProcessAccepted,
    responses=responses(401, 402, 404, 409, 413, 415, 422, 429),
    summary="Validate, hold credits and queue a task",
)
async def process_task(
    task_id: str, principal: TenantDep, storage: StorageDep, idempotency_key: IdempotencyKey = None
) -> Response:
    """Checks the files, estimates the credits, holds them and puts the task on its tool's
    queue (after the commit). 402 with required/available/shortfall when credits are short;
    409 when the task is not CREATED; 429 ``QUOTA_EXCEEDED`` over the plan's concurrency."""
    assert principal.tenant_id is not None

    async def run() -> tuple[int, dict[str, Any]]:
        accepted = await run_in_threadpool(_process_sync, principal, task_id, storage)
        return 202, accepted.model_dump(mode="json")

    status, out, replayed = await idempotent(
        principal.tenant_id, idempotency_key, f"POST /v1/tasks/{task_id}/process", {}, run
    )
    return JSONResponse(
        out, status_code=status, headers={"Idempotent-Replayed": "true"} if replayed else None
    )


@router.get(
    "/{task_id}", response_model=TaskOut, responses=responses(401, 404), summary="Task status"
)
def get_task(task_id: str, principal: TenantDep, session: SessionDep) -> TaskOut:
    """Status, progress 0-100, the current agent, per-agent status, credits and errors."""
    assert principal.tenant_id is not None
    return task_out(service.get_task(session, principal.tenant_id, task_id))


@router.get(
    "/{task_id}/events",
    responses={
        **responses(401, 404),
        200: {"content": {"text/event-stream": {}}, "description": "SSE stream"},
    },
    summary="Progress as Server-Sent Events",
)
async def task_events(task_id: str, principal: TenantDep, request: Request) -> Response:
    """Pushes a ``progress`` event on every change of status, progress or agent, and ends with
    a ``status`` event when the task ends. Polls the task row, the source of truth."""
    from sse_starlette.sse import EventSourceResponse

    assert principal.tenant_id is not None
    tenant_id = principal.tenant_id

    def snapshot() -> dict[str, Any]:
        with session_scope() as session:
            task = service.get_task(session, tenant_id, task_id)
            return task_out(task).model_dump(mode="json")

    first = await run_in_threadpool(snapshot)

    async def stream() -> AsyncIterator[dict[str, str]]:
        last: Any = None
        current = first
        while True:
            key = (
                current["status"],
                current["progress"],
                current["current_agent"],
                [a["status"] for a in current["agents"]],
            )
            if key != last:
                last = key
                yield {"event": "progress", "data": json.dumps(current)}
            if current["status"] in {s.value for s in TaskStatus} - {
                "CREATED",
                "QUEUED",
                "PROCESSING",
            }:
                yield {"event": "status", "data": json.dumps({"status": current["status"]})}
                return
            if await request.is_disconnected():
                return
            await asyncio.sleep(0.5)
            current = await run_in_threadpool(snapshot)

    return EventSourceResponse(stream(), ping=15)


@router.get("/{task_id}/report", responses=responses(401, 404, 409), summary="The JSON report")
def get_report(
    task_id: str, principal: TenantDep, session: SessionDep, storage: StorageDep
) -> Response:
    """The task's report once it has ended with one (409 before that)."""
    assert principal.tenant_id is not None
    task = service.get_task(session, principal.tenant_id, task_id)
    if not task.report_key:
        raise ConflictError(
            f"The task is {task.status}; its report is not available",
            code="REPORT_NOT_READY",
            details={"status": task.status},
        )
    return Response(storage.get_bytes(task.report_key), media_type="application/json")


@router.get(
    "/{task_id}/outputs",
    response_model=list[OutputOut],
    responses=responses(401, 404),
    summary="Output files",
)
def get_outputs(
    task_id: str, principal: TenantDep, session: SessionDep, storage: StorageDep
) -> list[OutputOut]:
    """Output files with presigned GET URLs that expire (each scoped to that one object)."""
    assert principal.tenant_id is not None
    task = service.get_task(session, principal.tenant_id, task_id)
    expires = get_settings().s3_presign_expiry_seconds
    at = utcnow() + dt.timedelta(seconds=expires)
    return [
        OutputOut(
            name=o.name,
            kind=o.kind,
            size=o.size,
            url=storage.presign_get(o.key, expires, o.name),
            expires_at=at,
        )
        for o in sorted(task.outputs, key=lambda o: o.name)
    ]


@router.post(
    "/{task_id}/cancel",
    response_model=TaskOut,
    responses=responses(401, 404, 409),
    summary="Cancel a task",
)
def cancel_task(task_id: str, principal: TenantDep, session: SessionDep) -> TaskOut:
    """CREATED and QUEUED tasks end at once with their hold released; a PROCESSING task stops
    after its current agent. Agents that finished stay charged."""
    assert principal.tenant_id is not None
    task = service.get_task(session, principal.tenant_id, task_id, lock=True)
    service.cancel_task(session, task)
    return task_out(task)


@router.delete(
    "/{task_id}", status_code=204, responses=responses(401, 404, 409), summary="Delete a task"
)
def delete_task(
    task_id: str, principal: TenantDep, session: SessionDep, storage: StorageDep
) -> Response:
    """Delete a task that is not queued or running, with all its files."""
    assert principal.tenant_id is not None
    task = service.get_task(session, principal.tenant_id, task_id, lock=True)
    service.delete_task(session, task, storage)
    return Response(status_code=204)


def _decode_cursor(cursor: str | None) -> tuple[dt.datetime, str] | None:
    if not cursor:
        return None
    try:
        created, task_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return dt.datetime.fromisoformat(created), task_id
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailedError("Invalid cursor", code="INVALID_CURSOR") from None


def _encode_cursor(task: Task) -> str:
    return base64.urlsafe_b64encode(f"{task.created_at.isoformat()}|{task.id}".encode()).decode()


@router.get("", response_model=TaskPage, responses=responses(401, 422), summary="List tasks")
def list_tasks(
    principal: TenantDep,
    session: SessionDep,
    status: Annotated[TaskStatus | None, Query(description="Only tasks in this status.")] = None,
    tool_id: Annotated[str | None, Query(description="Only tasks of this tool.")] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TaskPage:
    """Your tasks, newest first, with cursor pagination."""
    assert principal.tenant_id is not None
    rows = service.list_tasks(
        session,
        principal.tenant_id,
        status=status.value if status else None,
        tool_id=tool_id,
        cursor=_decode_cursor(cursor),
        limit=limit + 1,
    )
    page = rows[:limit]
    return TaskPage(
        items=[task_out(t) for t in page],
        next_cursor=_encode_cursor(page[-1]) if len(rows) > limit else None,
    )
