"""The task domain: create, attach files, process (lock, adopt presigned uploads, verify,
estimate, hold, enqueue), cancel, finish, delete, and the reads that need storage (report,
outputs). Used by the gateway and the workers; services flush, the request boundary commits
(:func:`snapshot`, polled by the event stream, reads in a transaction of its own). The flows
that span an upload, and so own their transactions, are ``tasks.intake``'s."""

from __future__ import annotations

import datetime as dt
import hashlib
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from billing import service as billing
from core.db import session_scope, utcnow
from core.errors import AppError, ConflictError, DependencyUnavailableError
from core.settings import get_settings
from core.storage import Storage, input_key, task_prefix
from core.telemetry import stage
from tasks import files, lifecycle, repository
from tasks.exceptions import MissingFile, QuotaExceeded, UnknownRole
from tasks.models import AgentRun, Task, TaskFile, TaskStatus
from tasks.presenters import task_out
from tasks.schemas import OutputOut, TaskOut
from tenants.models import Plan
from transformers.registry import get_tool, resolve_request
from workers.enqueue import enqueue_processing


def create_task(
    session: Session,
    tenant_id: str,
    tool_id: str,
    agents: list[str] | None,
    parameters: dict[str, Any] | None,
    options: dict[str, Any] | None = None,
    callback_url: str | None = None,
    max_attempts: int = 3,
) -> Task:
    resolved = resolve_request(tool_id, agents, parameters)
    task = Task(
        tenant_id=tenant_id,
        tool_id=resolved.tool.tool_id,
        agents=resolved.agents,
        parameters=resolved.parameters,
        options=options or {},
        callback_url=callback_url,
        max_attempts=max_attempts,
    )
    session.add(task)
    session.flush()
    for position, agent_id in enumerate(resolved.agents):
        session.add(
            AgentRun(task_id=task.id, tenant_id=tenant_id, agent_id=agent_id, position=position)
        )
    session.flush()
    return task


def file_slot(task: Task, role: str, filename: str) -> tuple[str, str]:
    """Validate the role for the task's tool and return (role, S3 key)."""
    tool = get_tool(task.tool_id)
    if tool.role(role) is None:
        raise UnknownRole(
            f"Tool '{task.tool_id}' has no file role '{role}'",
            details={"role": role, "roles": [r.name for r in tool.file_roles]},
        )
    lifecycle.ensure(task, lifecycle.UPLOADABLE, "upload files to")
    return role, input_key(task.tenant_id, task.id, role, filename)


def record_file(
    session: Session,
    task: Task,
    role: str,
    filename: str,
    key: str,
    *,
    size: int | None,
    sha256: str | None,
    fmt: str | None,
) -> TaskFile:
    existing = task.file(role)
    if existing is None:
        existing = TaskFile(
            task_id=task.id, tenant_id=task.tenant_id, role=role, key=key, filename=filename
        )
        task.files.append(existing)
    existing.filename = filename
    existing.key = key
    existing.size = size
    existing.sha256 = sha256
    existing.format = fmt
    existing.uploaded_at = utcnow() if size is not None else None
    session.flush()
    return existing


def verify_files(task: Task, storage: Storage, *, listing: dict[str, int] | None = None) -> None:
    """Every required role uploaded, and each object really in S3 with its recorded size.
    ``listing`` (key -> size, from one LIST of the task's inputs) answers for every file;
    without it each file is HEADed once."""
    tool = get_tool(task.tool_id)
    missing = [r.name for r in tool.file_roles if r.required and task.file(r.name) is None]
    for f in task.files:
        if listing is not None:
            size: int | None = listing.get(f.key)
        else:
            info = storage.head(f.key)
            size = None if info is None else info.size
        if size is None:
            missing.append(f.role)
        elif f.size is not None and size != f.size:
            raise MissingFile(
                f"The {f.role} file in storage has {size} bytes, expected {f.size}",
                details={"role": f.role, "expected": f.size, "actual": size},
            )
        else:
            f.size = size
    if missing:
        raise MissingFile(
            f"Upload the {', '.join(sorted(set(missing)))} file before processing",
            details={"missing_roles": sorted(set(missing))},
        )


def _check_concurrency(session: Session, task: Task, plan: Plan) -> None:
    """Runs while the tenant's wallet row is locked, so concurrent calls count one by one."""
    total, per_tool = repository.count_active(session, task.tenant_id, task.tool_id)
    if total >= plan.max_concurrent_tasks:
        raise QuotaExceeded(
            f"At most {plan.max_concurrent_tasks} tasks may be queued or processing at once",
            details={
                "quota": "max_concurrent_tasks",
                "limit": plan.max_concurrent_tasks,
                "current": total,
            },
            headers={"Retry-After": "30"},
        )
    if per_tool >= plan.max_concurrent_tasks_per_tool:
        raise QuotaExceeded(
            f"At most {plan.max_concurrent_tasks_per_tool} {task.tool_id} tasks may be"
            " queued or processing at once",
            details={
                "quota": "max_concurrent_tasks_per_tool",
                "tool_id": task.tool_id,
                "limit": plan.max_concurrent_tasks_per_tool,
                "current": per_tool,
            },
            headers={"Retry-After": "30"},
        )


def start_processing(
    session: Session, tenant_id: str, task_id: str, plan: Plan, storage: Storage
) -> Task:
    """The rules of ``POST /v1/tasks/{id}/process``, in the caller's transaction: lock the
    task, check it is CREATED, adopt files PUT to presigned URLs, verify every file against
    one LIST of the task's inputs, then hold credits and queue (:func:`process_task`). Each
    stage is a span."""
    # One LIST of the task's inputs answers which files are there and their sizes: one round
    # trip for every role, recorded or PUT to a presigned URL. It is sent first, and S3
    # answers while the database takes the lock (the "gateway.storage" span runs beside
    # "gateway.lock"); the verdict waits for it.
    listing = _list_inputs_early(storage, tenant_id, task_id)
    # The row lock serialises concurrent calls on one task: the first queues it, the others
    # then see QUEUED and answer 409 (SQLite serialises every writer anyway).
    with stage("gateway.lock"):
        task = repository.get_task(session, tenant_id, task_id, lock=True, outputs=False)
    with stage("gateway.lifecycle"):
        lifecycle.ensure(task, lifecycle.PROCESSABLE, "process")
    with stage("gateway.verify"):
        stored = listing.result()
        if any(f.key not in stored or (f.size is not None and stored[f.key] != f.size)
               for f in task.files):  # fmt: skip
            # The early listing may predate an upload recorded before we took the lock: the
            # verdict on a recorded file comes from a listing made under the lock.
            with stage("gateway.storage"):
                stored = _stored_inputs(storage, task_prefix(tenant_id, task_id))
        _adopt_presigned_uploads(session, task, storage, plan, stored)
        verify_files(task, storage, listing=stored)
    with stage("gateway.hold"):
        return process_task(session, task, plan)


_listing_pool: ThreadPoolExecutor | None = None


def _list_inputs_early(storage: Storage, tenant_id: str, task_id: str) -> Future[dict[str, int]]:
    """The LIST of the task's inputs, sent now on a small pool (in this request's trace and
    log context); a malformed task id lists nothing (the lock answers 404)."""
    global _listing_pool
    if not repository.is_task_id(task_id):
        done: Future[dict[str, int]] = Future()
        done.set_result({})
        return done
    if _listing_pool is None:
        from core.telemetry import ContextThreadPoolExecutor

        _listing_pool = ContextThreadPoolExecutor(max_workers=4, thread_name_prefix="s3-list")

    def run() -> dict[str, int]:
        with stage("gateway.storage"):
            return _stored_inputs(storage, task_prefix(tenant_id, task_id))

    return _listing_pool.submit(run)


def _stored_inputs(storage: Storage, task_root: str) -> dict[str, int]:
    """key -> size of every object under the task's ``inputs/`` (one LIST request)."""
    from botocore.exceptions import BotoCoreError, ClientError

    prefix = task_root + "inputs/"
    try:
        return {o.key: o.size for o in storage.list_keys(prefix)}
    except (BotoCoreError, ClientError) as exc:
        raise DependencyUnavailableError(
            "Object storage is unavailable", details={"reason": type(exc).__name__}
        ) from exc


def _adopt_presigned_uploads(
    session: Session, task: Task, storage: Storage, plan: Plan, stored: dict[str, int]
) -> None:
    """Files PUT to presigned URLs (found in ``stored``, the listing of the task's inputs):
    record them and check size, content and format like gateway uploads (the SHA-256 is
    computed by reading the object once)."""
    if task.status != TaskStatus.CREATED:
        return
    tool = get_tool(task.tool_id)
    filenames = (task.options or {}).get("filenames") or {}
    for role in tool.file_roles:
        if task.file(role.name) is not None:
            continue
        name = files.clean_filename(filenames.get(role.name), role.name)
        key = input_key(task.tenant_id, task.id, role.name, name)
        if key not in stored:
            continue
        size = stored[key]
        if size > plan.max_file_bytes:
            storage.delete(key)
            raise files.FileTooLarge(
                f"The {role.name} file exceeds your plan's limit of {plan.max_file_bytes} bytes",
                details={"role": role.name, "limit_bytes": plan.max_file_bytes},
            )
        head = storage.read_head(key, files.SNIFF_BYTES) if size else b""
        try:
            fmt = files.check_content(size, head, name, role)
        except AppError:
            storage.delete(key)
            raise
        sha256 = sha256_of_object(storage, key)
        record_file(session, task, role.name, name, key, size=size, sha256=sha256, fmt=fmt)


def process_task(session: Session, task: Task, plan: Plan) -> Task:
    """CREATED -> QUEUED with a credit hold, in one transaction; the message goes after commit.

    The caller holds the task's row lock, checked that it is CREATED and verified its files.
    The conditional update still makes two concurrent calls enqueue the task once (SQLite has
    no row lock): the loser sees the row already QUEUED and gets 409 with the current status.
    """
    tool = get_tool(task.tool_id)
    roles = {f.role for f in task.files}
    est = billing.estimate(session, tool, list(task.agents), roles)
    # Lock the tenant's wallet first: it serialises this tenant's holds and quota counts.
    billing.lock_wallet(session, task.tenant_id)
    _check_concurrency(session, task, plan)
    now = utcnow()
    # The plan's size limits travel with the task: the worker's reader enforces them.
    options = {
        **(task.options or {}),
        "max_rows": plan.max_rows,
        "max_columns": plan.max_columns,
        "max_cell_length": plan.max_cell_length,
    }
    claimed = session.execute(
        update(Task)
        .where(Task.id == task.id, Task.status == TaskStatus.CREATED)
        .values(
            status=TaskStatus.QUEUED,
            queued_at=now,
            enqueued_at=now,
            credits_held=est.credits,
            options=options,
        )
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(task)
        lifecycle.ensure(task, lifecycle.PROCESSABLE, "process")
    billing.hold_for_task(session, task.tenant_id, task.id, task.tool_id, est.credits)
    for run in task.runs:
        run.price = est.per_agent.get(run.agent_id, 0)
    session.flush()
    # The row as updated, without a re-read (and no second UPDATE): the statement above set
    # exactly these.
    for name, value in (
        ("status", TaskStatus.QUEUED.value),
        ("queued_at", now),
        ("enqueued_at", now),
        ("credits_held", est.credits),
        ("options", options),
    ):
        set_committed_value(task, name, value)
    enqueue_processing(session, task.id, task.tenant_id, task.tool_id)
    return task


def cancel_task(session: Session, tenant_id: str, task_id: str) -> Task:
    """CREATED/QUEUED end at once (hold released); PROCESSING stops between agents. 404 for
    another tenant's task, 409 for one that has ended."""
    task = repository.get_task(session, tenant_id, task_id, lock=True)
    lifecycle.ensure(task, lifecycle.CANCELLABLE, "cancel")
    if task.status == TaskStatus.PROCESSING:
        task.cancel_requested = True
        session.flush()
        return task
    finish(session, task, TaskStatus.CANCELLED, "CANCELLED", "Cancelled by the tenant")
    return task


def finish(
    session: Session,
    task: Task,
    status: TaskStatus,
    error_code: str | None = None,
    error_message: str | None = None,
) -> None:
    """Put a task in a final state and release whatever is still held for it."""
    lifecycle.transition(task, status)
    task.error_code = error_code
    task.error_message = error_message
    task.finished_at = utcnow()
    task.lease_owner = None
    task.lease_expires_at = None
    if status in (TaskStatus.COMPLETED, TaskStatus.COMPLETED_WITH_ERRORS):
        task.progress = 100
    task.current_agent = None
    for run in task.runs:
        if run.status in ("pending", "running"):
            run.status = "cancelled" if status == TaskStatus.CANCELLED else "skipped"
    billing.release_task(session, task.tenant_id, task.id, task.tool_id)
    task.credits_charged = billing.charged_for_task(session, task.id)
    task.credits_held = 0
    session.flush()
    if task.callback_url:
        from workers.enqueue import enqueue_callback

        enqueue_callback(session, task.id)


def delete_task(session: Session, tenant_id: str, task_id: str, storage: Storage) -> None:
    """Refuses a QUEUED or PROCESSING task; removes the row first (flushed) so that a failure
    leaves files without a row rather than a row pointing at deleted files."""
    task = repository.get_task(session, tenant_id, task_id, lock=True)
    lifecycle.ensure(task, lifecycle.DELETABLE, "delete")
    prefix = task_prefix(task.tenant_id, task.id)
    session.delete(task)
    session.flush()
    storage.delete_prefix(prefix)


def report(session: Session, tenant_id: str, task_id: str, storage: Storage) -> bytes:
    """The task's JSON report; 409 ``REPORT_NOT_READY`` (``details.status``) before it has
    one, and for a task that failed before producing one."""
    task = repository.get_task(session, tenant_id, task_id)
    if not task.report_key:
        raise ConflictError(
            f"The task is {task.status}; its report is not available",
            code="REPORT_NOT_READY",
            details={"status": task.status},
        )
    return storage.get_bytes(task.report_key)


def outputs(session: Session, tenant_id: str, task_id: str, storage: Storage) -> list[OutputOut]:
    """The task's output files by name, each with a presigned GET URL for that one object."""
    task = repository.get_task(session, tenant_id, task_id)
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


def snapshot(tenant_id: str, task_id: str) -> TaskOut | None:
    """The task as ``GET /v1/tasks/{id}`` shows it, read in a short transaction of its own
    (the event stream polls it); None once the task is gone or was never the tenant's."""
    with session_scope() as session:
        try:
            task = repository.get_task(session, tenant_id, task_id)
        except AppError:
            return None
        return task_out(task)


def sha256_of_object(storage: Storage, key: str) -> str:
    """Hash an object by streaming it (presigned uploads never pass through the gateway)."""
    from core.storage import guarded

    digest = hashlib.sha256()
    with guarded():  # a storage failure mid-stream is 503 too
        for chunk in storage.open_stream(key).iter_chunks(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()
