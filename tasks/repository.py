"""Task reads through the tenant door (``tenants.repository``): one task of a tenant, a page
of them, and the counts the concurrency quota needs. Another tenant's task reads exactly like
one that does not exist."""

from __future__ import annotations

import uuid
from typing import NoReturn

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, lazyload

from core.pagination import Page, keyset_page
from tasks.exceptions import TaskNotFound
from tasks.models import ACTIVE_STATUSES, Task
from tenants.repository import owned_by, scoped


def get_task(
    session: Session, tenant_id: str, task_id: str, *, lock: bool = False, outputs: bool = True
) -> Task:
    """Another tenant's task answers 404, exactly like a task that does not exist. ``lock``
    takes the row lock on PostgreSQL (SQLite serialises writers on its own). ``outputs=False``
    leaves the outputs to be loaded if touched (a task being queued has none to read)."""
    if not is_task_id(task_id):
        raise_not_found(task_id)
    stmt = scoped(Task, tenant_id).where(Task.id == task_id)
    if not outputs:
        stmt = stmt.options(lazyload(Task.outputs))
    if lock and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    task = session.scalars(stmt).first()
    if task is None:
        raise_not_found(task_id)
    return task


def raise_not_found(task_id: str) -> NoReturn:
    raise TaskNotFound("Task not found", details={"task_id": task_id[:64]})


def is_task_id(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def list_tasks(
    session: Session,
    tenant_id: str,
    *,
    status: str | None,
    tool_id: str | None,
    cursor: str | None,
    limit: int,
) -> Page[Task]:
    stmt = scoped(Task, tenant_id)
    if status:
        stmt = stmt.where(Task.status == status)
    if tool_id:
        stmt = stmt.where(Task.tool_id == tool_id)
    return keyset_page(session, stmt, Task, cursor, limit)


def count_active(session: Session, tenant_id: str, tool_id: str) -> tuple[int, int]:
    """(the tenant's queued or processing tasks, those of ``tool_id``) in one statement."""
    active = [s.value for s in ACTIVE_STATUSES]
    row = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((Task.tool_id == tool_id, 1), else_=0)), 0),
        )
        .select_from(Task)
        .where(owned_by(Task, tenant_id), Task.status.in_(active))
    ).one()
    return int(row[0] or 0), int(row[1] or 0)
