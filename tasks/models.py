"""The task rows: the source of truth for a task's state (the queue only carries its id),
with its files, outputs and agent runs.

``IdempotencyRecord`` (the ``Idempotency-Key`` of task API calls) lives here too, not in
``gateway/``: the gateway writes it, but the worker-side sweeper releases the keys of requests
that died (``workers/dead_requests.py``), and workers may not import the gateway."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, JSONType, new_id, utcnow


class TaskStatus(StrEnum):
    CREATED = "CREATED"
    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    COMPLETED_WITH_ERRORS = "COMPLETED_WITH_ERRORS"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


FINAL_STATUSES = frozenset(
    {
        TaskStatus.COMPLETED,
        TaskStatus.COMPLETED_WITH_ERRORS,
        TaskStatus.FAILED,
        TaskStatus.CANCELLED,
        TaskStatus.EXPIRED,
    }
)
ACTIVE_STATUSES = frozenset({TaskStatus.QUEUED, TaskStatus.PROCESSING})


class AgentRunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_tenant_created", "tenant_id", "created_at"),
        Index("ix_tasks_tenant_status", "tenant_id", "status"),
        Index("ix_tasks_status_updated", "status", "updated_at"),
        Index("ix_tasks_tenant_finished", "tenant_id", "finished_at"),
        # Operator usage across tenants (tasks/usage.py, migration 0003).
        Index("ix_tasks_finished", "finished_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    tool_id: Mapped[str] = mapped_column(String(64))
    agents: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    options: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(32), default=TaskStatus.CREATED)
    progress: Mapped[int] = mapped_column(default=0)
    current_agent: Mapped[str | None] = mapped_column(String(64), default=None)
    attempt: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=3)
    lease_owner: Mapped[str | None] = mapped_column(String(200), default=None)
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    error_code: Mapped[str | None] = mapped_column(String(64), default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    credits_held: Mapped[int] = mapped_column(default=0)
    credits_charged: Mapped[int] = mapped_column(default=0)
    rows_processed: Mapped[int | None] = mapped_column(BigInteger, default=None)
    bytes_processed: Mapped[int | None] = mapped_column(BigInteger, default=None)
    callback_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    report_key: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    queued_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    enqueued_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    started_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    files: Mapped[list[TaskFile]] = relationship(
        back_populates="task", cascade="all, delete-orphan", lazy="selectin"
    )
    runs: Mapped[list[AgentRun]] = relationship(
        back_populates="task",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="AgentRun.position",
    )
    outputs: Mapped[list[TaskOutput]] = relationship(
        back_populates="task", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    def file(self, role: str) -> TaskFile | None:
        return next((f for f in self.files if f.role == role), None)


class TaskFile(Base):
    __tablename__ = "task_files"
    __table_args__ = (UniqueConstraint("task_id", "role", name="uq_task_files_role"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(255))
    key: Mapped[str] = mapped_column(String(700))
    size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    format: Mapped[str | None] = mapped_column(String(16), default=None)
    uploaded_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    task: Mapped[Task] = relationship(back_populates="files")


class AgentRun(Base):
    """One agent of one task: status, timing, credits, and the checkpoint to resume from."""

    __tablename__ = "agent_runs"
    __table_args__ = (UniqueConstraint("task_id", "agent_id", name="uq_agent_runs_agent"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(16), default=AgentRunStatus.PENDING)
    price: Mapped[int] = mapped_column(default=0)
    credits_charged: Mapped[int] = mapped_column(default=0)
    duration_ms: Mapped[int | None] = mapped_column(default=None)
    result_key: Mapped[str | None] = mapped_column(String(700), default=None)
    frame_key: Mapped[str | None] = mapped_column(String(700), default=None)
    column_aliases: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    error_code: Mapped[str | None] = mapped_column(String(64), default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    started_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    task: Mapped[Task] = relationship(back_populates="runs")


class TaskOutput(Base):
    __tablename__ = "task_outputs"
    __table_args__ = (UniqueConstraint("task_id", "name", name="uq_task_outputs_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(700))
    size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    task: Mapped[Task] = relationship(back_populates="outputs")


class IdempotencyRecord(Base):
    """Stripe-style Idempotency-Key: same key + same body replays the first response."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("tenant_id", "scope", "key", name="uq_idempotency_key"),
        Index("ix_idempotency_created", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int | None] = mapped_column(default=None)
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
