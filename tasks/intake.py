"""Getting a task and its files in: create (a presigned upload per file role), upload a file
through the gateway, the one-shot create + upload + process, processing, and removing a
half-made task.

These flows span the network (a body arrives between two steps), so each step runs in a short
transaction of its own (``session_scope``), never one held across an upload: on SQLite every
transaction takes the write lock. The bytes are the edge's business: the gateway hands over an
:class:`IncomingFile` that parses and spools the body; everything decided about the file (its
slot, its size cap, its format, its record, the removal of an object nobody recorded) is
decided here.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar

from anyio import to_thread
from sqlalchemy.orm import Session

from core.db import session_scope, utcnow
from core.errors import AppError, DependencyUnavailableError, ValidationFailedError
from core.settings import get_settings
from core.storage import Storage, get_storage, input_key, task_prefix
from tasks import files, lifecycle, repository, service
from tasks.callback_url import validate_callback_url
from tasks.exceptions import TaskNotFound
from tasks.models import Task, TaskStatus
from tasks.schemas import (
    FileUploaded,
    PresignedPost,
    ProcessAccepted,
    TaskCreate,
    TaskCreated,
    UploadSlot,
)
from tenants import service as tenants
from tenants.models import Plan, Tenant
from transformers.registry import FileRole, get_tool, report_formats
from workers.enqueue import enqueue_deletion

log = logging.getLogger(__name__)

T = TypeVar("T")


class Spooled(Protocol):
    """A file received in full by the edge (on its disk), hashed and size-capped."""

    size: int
    sha256: str
    head: bytes  # the first ``files.SNIFF_BYTES``, to judge the format by

    async def store(self, storage: Storage, key: str) -> None:
        """Upload it to ``key``; the spooled copy is freed either way."""

    def discard(self) -> None:
        """Free the spooled copy without storing it."""


class IncomingFile(Protocol):
    """A file on its way in, read by the edge that received the request."""

    async def open(self) -> str | None:
        """Start reading (parse the envelope); the file's name as the client sent it."""

    async def spool(self, max_bytes: int) -> Spooled:
        """Take the whole file, failing with 413 ``FILE_TOO_LARGE`` past ``max_bytes``."""

    async def close(self) -> None:
        """Release what :meth:`open` took (a parsed form), opened or not."""


async def _in_thread(fn: Callable[..., T], *args: object) -> T:
    # What starlette's run_in_threadpool does: the caller's context (the idempotency claim)
    # travels to the thread.
    return await to_thread.run_sync(functools.partial(fn, *args))


# --- create ----------------------------------------------------------------------------------


def create(tenant_id: str, spec: TaskCreate, storage: Storage) -> TaskCreated:
    """``POST /v1/tasks``: validate the spec against the tool (422 ``INVALID_CALLBACK_URL``,
    ``UNKNOWN_TOOL``, ``UNKNOWN_ROLE``, ``UNKNOWN_AGENT``, ``INVALID_PARAMETERS``,
    ``UNKNOWN_REPORT_FORMAT``), store the task and its agent runs, and answer a presigned
    upload per file role. One transaction."""
    with session_scope() as session:
        return _create(session, tenant_id, spec, storage)


def _create(session: Session, tenant_id: str, spec: TaskCreate, storage: Storage) -> TaskCreated:
    if spec.callback_url:
        validate_callback_url(spec.callback_url)
    tool = get_tool(spec.tool_id)
    unknown = [r for r in (spec.filenames or {}) if tool.role(r) is None]
    if unknown:
        raise ValidationFailedError(
            f"Tool '{tool.tool_id}' has no file role {unknown[0]!r}",
            code="UNKNOWN_ROLE",
            details={"roles": [r.name for r in tool.file_roles]},
        )
    formats = report_formats(spec.report_formats)
    task = service.create_task(
        session,
        tenant_id,
        spec.tool_id,
        spec.agents,
        spec.parameters,
        options={
            "on_bad_lines": spec.on_bad_lines,
            "sheet": spec.sheet,
            "filenames": spec.filenames or {},
            "report_formats": list(formats),
        },
        callback_url=spec.callback_url,
        max_attempts=get_settings().task_max_attempts,
    )
    return TaskCreated(
        task_id=task.id,
        status=task.status,
        tool_id=task.tool_id,
        agents=list(task.agents),
        uploads=_upload_slots(task, storage, spec.filenames, _max_file_bytes(session, task)),
    )


def _max_file_bytes(session: Session, task: Task) -> int:
    """The plan's file cap, read in the create's own transaction (a second one would wait on
    SQLite's write lock that this one already holds)."""
    tenant = session.get(Tenant, task.tenant_id)
    assert tenant is not None
    return int(tenant.plan.max_file_bytes)


def _upload_slots(
    task: Task, storage: Storage, filenames: dict[str, str] | None, max_bytes: int
) -> dict[str, UploadSlot]:
    tool = get_tool(task.tool_id)
    expires = get_settings().s3_presign_expiry_seconds
    at = utcnow() + dt.timedelta(seconds=expires)
    slots = {}
    for role in tool.file_roles:
        name = files.clean_filename((filenames or {}).get(role.name), role.name)
        key = input_key(task.tenant_id, task.id, role.name, name)
        post = storage.presign_post(key, expires, max_bytes)
        slots[role.name] = UploadSlot(
            url=storage.presign_put(key, expires),
            post=PresignedPost(url=post["url"], fields=post["fields"], max_bytes=max_bytes),
            expires_at=at,
        )
    return slots


# --- upload ----------------------------------------------------------------------------------


async def upload_file(
    tenant_id: str,
    task_id: str,
    role: str,
    filename: str | None,
    incoming: IncomingFile,
    storage: Storage,
    plan: Plan,
) -> FileUploaded:
    """``PUT /v1/tasks/{id}/files/{role}``: 404, 422 ``UNKNOWN_ROLE`` and 409 ``INVALID_STATE``
    are decided before the body is read; then the file is received (:func:`_receive`)."""
    await _in_thread(_check_slot, tenant_id, task_id, role, files.clean_filename(filename, role))
    try:
        name = await incoming.open()
        return await _receive(tenant_id, task_id, role, name, incoming, storage, plan)
    finally:
        await incoming.close()


def _check_slot(tenant_id: str, task_id: str, role: str, filename: str) -> tuple[str, FileRole]:
    """404 for a task that is not the tenant's, 422 for a role the tool lacks, 409 unless the
    task is CREATED; answers the S3 key and the role."""
    with session_scope() as session:
        task = repository.get_task(session, tenant_id, task_id)
        _, key = service.file_slot(task, role, filename)
        spec = get_tool(task.tool_id).role(role)
    assert spec is not None
    return key, spec


async def _receive(
    tenant_id: str,
    task_id: str,
    role: str,
    filename: str | None,
    incoming: IncomingFile,
    storage: Storage,
    plan: Plan,
) -> FileUploaded:
    """Spool the file under the plan's cap, judge its format by content (415, 422
    ``EMPTY_FILE``), store it, and record it if the task is still CREATED; an object that
    ends up recorded by nobody is deleted."""
    name = files.clean_filename(filename, role)
    key, role_spec = await _in_thread(_check_slot, tenant_id, task_id, role, name)
    received = await incoming.spool(plan.max_file_bytes)
    try:
        fmt = files.check_content(received.size, received.head, name, role_spec)
    except BaseException:
        received.discard()
        raise
    await received.store(storage, key)
    uploaded = FileUploaded(
        role=role, filename=name, size=received.size, sha256=received.sha256, format=fmt
    )
    try:
        await _in_thread(_record, tenant_id, task_id, key, uploaded, storage)
    except AppError:
        # The task was processed, cancelled or deleted meanwhile: leave no orphan object.
        await _in_thread(_delete_if_unrecorded, tenant_id, task_id, key, storage)
        raise
    return uploaded


def _record(
    tenant_id: str, task_id: str, key: str, uploaded: FileUploaded, storage: Storage
) -> None:
    with session_scope() as session:
        task = repository.get_task(session, tenant_id, task_id, lock=True)
        service.file_slot(task, uploaded.role, uploaded.filename)  # still CREATED?
        previous = task.file(uploaded.role)
        if previous is not None and previous.key != key:
            storage.delete(previous.key)  # a re-upload under another name replaces it
        service.record_file(
            session,
            task,
            uploaded.role,
            uploaded.filename,
            key,
            size=uploaded.size,
            sha256=uploaded.sha256,
            fmt=uploaded.format,
        )


def _delete_if_unrecorded(tenant_id: str, task_id: str, key: str, storage: Storage) -> None:
    with session_scope() as session:
        try:
            task: Task | None = repository.get_task(session, tenant_id, task_id)
        except AppError:
            task = None
        recorded = task is not None and any(f.key == key for f in task.files)
    if not recorded:
        storage.delete(key)


# --- process ---------------------------------------------------------------------------------


def process(tenant_id: str, plan_id: str | None, task_id: str, storage: Storage) -> ProcessAccepted:
    """``POST /v1/tasks/{id}/process``: the plan from its cache, one transaction for the rules
    (:func:`tasks.service.start_processing`); the message is published after the commit
    (``workers.enqueue``)."""
    plan = tenants.plan_of(tenant_id, plan_id)
    with session_scope() as session:
        task = service.start_processing(session, tenant_id, task_id, plan, storage)
        accepted = ProcessAccepted(
            task_id=task.id, status=task.status, credits_held=task.credits_held
        )
        # session_scope commits here ("gateway.commit"); the publish follows the commit.
    return accepted


# --- one shot --------------------------------------------------------------------------------


def check_file_roles(tool_id: str, roles: Iterable[str]) -> None:
    """The one-shot's file parts against the tool: 422 ``UNKNOWN_TOOL``, ``UNKNOWN_ROLE``
    (``details.role``). Checked before anything runs (and before an Idempotency-Key is
    claimed)."""
    tool = get_tool(tool_id)
    unknown = [k for k in roles if tool.role(k) is None]
    if unknown:
        raise ValidationFailedError(
            f"Tool '{tool.tool_id}' has no file role {unknown[0]!r}",
            code="UNKNOWN_ROLE",
            details={"role": unknown[0][:64], "roles": [r.name for r in tool.file_roles]},
        )


async def create_with_files(
    tenant_id: str,
    spec: TaskCreate,
    parts: dict[str, IncomingFile],
    *,
    process_now: bool,
    plan: Plan,
    storage: Storage,
    on_created: Callable[[str], None],
) -> TaskCreated:
    """The one-shot ``POST /v1/tasks`` (multipart): create, receive a file per role, and
    process if asked (``status: QUEUED`` and ``credits_held`` in the answer). All or nothing:
    if any step fails, the task and its files are removed before the error goes on.
    ``on_created(task_id)`` runs (in a thread) as soon as the task exists: the gateway notes it
    on the request's Idempotency-Key, so a successor removes it if this process dies."""
    created = await _in_thread(create, tenant_id, spec, storage)
    try:
        await _in_thread(on_created, created.task_id)
        for role, incoming in parts.items():
            name = await incoming.open()
            await _receive(tenant_id, created.task_id, role, name, incoming, storage, plan)
        if process_now:
            accepted = await _in_thread(process, tenant_id, plan.id, created.task_id, storage)
            created = created.model_copy(
                update={"status": accepted.status, "credits_held": accepted.credits_held}
            )
    except BaseException as exc:
        await _in_thread(_discard_after, tenant_id, created.task_id, exc)
        raise
    return created


def _discard_after(tenant_id: str, task_id: str, cause: BaseException) -> None:
    """Undo a failed one-shot create; never raises, so the client gets the original error.
    The row goes even when S3 is down (its objects are then deleted later)."""
    try:
        discard_task(tenant_id, task_id, storage_down=isinstance(cause, DependencyUnavailableError))
    except Exception:
        log.exception("task.discard_failed task_id=%s", task_id)


def discard_task(tenant_id: str, task_id: str, *, storage_down: bool = False) -> bool:
    """Remove a half-created task so that the removal survives the failure it is undoing (the
    one-shot's all-or-nothing path; the takeover of an idempotency key whose request died).

    The row goes first, in its own committed transaction, if the task is still deletable
    (CREATED or ended): a task is never left behind because its files could not be deleted.
    Its objects are then deleted at once or, when S3 does not answer (``storage_down``: it
    just failed, don't even try), by ``agensium.delete_objects`` on the maintenance queue,
    retried until S3 is back. Never raises for a storage failure. Returns whether a row was
    removed."""
    prefix = task_prefix(tenant_id, task_id)
    with session_scope() as session:
        try:
            task = repository.get_task(session, tenant_id, task_id, lock=True)
        except TaskNotFound:
            return False
        if TaskStatus(task.status) not in lifecycle.DELETABLE:
            return False
        session.delete(task)
        session.flush()
        if storage_down:
            _queue_deletion(session, prefix)
    if not storage_down:
        try:
            get_storage().delete_prefix(prefix)
        except DependencyUnavailableError:
            with session_scope() as session:
                _queue_deletion(session, prefix)
    log.info("task.discarded task_id=%s deferred_objects=%s", task_id, storage_down)
    return True


def _queue_deletion(session: Session, prefix: str) -> None:
    """Delete the objects under ``prefix`` later (sent when ``session`` commits)."""
    enqueue_deletion(session, prefix)
    log.warning("storage.deletion_queued prefix=%s", prefix)
