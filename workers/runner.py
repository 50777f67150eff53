"""Runs one task with an exactly-once effect on at-least-once delivery.

1. claim: one conditional UPDATE (QUEUED, or PROCESSING with an expired lease -> PROCESSING,
   attempt + 1, lease owner and expiry). A message for a finished, cancelled or live-leased task
   is acknowledged and ignored; one past its attempt budget fails the task.
2. run the pipeline with hooks that checkpoint each agent and capture its credits in the same
   transaction, renew the lease, and stop between agents when the task was cancelled.
3. finish: final status, outputs, release of what is still held.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opentelemetry import trace
from sqlalchemy import and_, func, or_, select, update

from billing import service as billing
from core.db import session_scope, utcnow
from core.logging import log_context
from core.metrics import record_agent, record_task
from core.settings import get_settings
from core.storage import get_storage, task_prefix
from core.telemetry import stage
from tasks.models import AgentRun, AgentRunStatus, Task, TaskOutput, TaskStatus
from tasks.service import finish
from tenants.repository import get_owned, owned_by
from transformers.contract import AgentResult, AgentStatus
from transformers.io import ReadOptions
from transformers.pipeline import (
    AgentCheckpoint,
    Cancelled,
    InputRef,
    PipelineJob,
    ResumeState,
    Storage,
    load_checkpoint,
    run_pipeline,
)
from transformers.registry import report_formats
from workers import faults, progress
from workers.errors import classify

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("agensium.stages")


class RetryLater(Exception):
    """Raised to the Celery task: the error is transient and attempts remain; retry after
    ``countdown`` seconds (exponential backoff with jitter, see ``retry_delay``)."""

    def __init__(self, attempt: int, cause: BaseException, countdown: float = 0.0) -> None:
        super().__init__(str(cause))
        self.attempt = attempt
        self.cause = cause
        self.countdown = countdown


def retry_delay(attempt: int, rand: float | None = None) -> float:
    """Seconds before retry number ``attempt`` (1 = after the first failed attempt):
    ``TASK_RETRY_BACKOFF_SECONDS`` doubled per attempt, capped at
    ``TASK_RETRY_BACKOFF_MAX_SECONDS``, plus up to 25 % jitter so that the tasks an outage
    failed together do not all come back at the same instant."""
    s = get_settings()
    base = min(s.task_retry_backoff_max_seconds, s.task_retry_backoff_seconds * 2 ** (attempt - 1))
    jitter = random.random() if rand is None else rand
    return float(base * (1 + 0.25 * jitter))


@dataclass
class Claim:
    task_id: str
    tenant_id: str
    attempt: int
    #: What the pipeline needs, read in the claim's own transaction (``claim(with_job=True)``).
    job: PipelineJob | None = None
    bytes_in: int = 0


def claim(task_id: str, tenant_id: str, owner: str, *, with_job: bool = False) -> Claim | None:
    """One conditional UPDATE ... RETURNING takes the task. With ``with_job``, the row and its
    files are read in the same transaction (the ``worker.job`` stage): one commit, not two."""
    s = get_settings()
    now = utcnow()
    with session_scope() as session:
        result = session.execute(
            update(Task)
            .where(
                Task.id == task_id,
                owned_by(Task, tenant_id),
                Task.attempt < Task.max_attempts,
                Task.cancel_requested.is_(False),
                or_(
                    Task.status == TaskStatus.QUEUED,
                    and_(Task.status == TaskStatus.PROCESSING, Task.lease_expires_at < now),
                ),
            )
            .values(
                status=TaskStatus.PROCESSING,
                attempt=Task.attempt + 1,
                lease_owner=owner,
                lease_expires_at=now + dt.timedelta(seconds=s.task_lease_seconds),
                started_at=now,
                error_code=None,
                error_message=None,
            )
            .returning(Task.attempt, Task.enqueued_at)  # the claim is one statement
            .execution_options(synchronize_session=False)
        )
        row = result.first()
        if row is not None:
            attempt = row.attempt
            log.info("task.claimed task_id=%s tenant_id=%s attempt=%s", task_id, tenant_id, attempt)
            _record_receive(row.enqueued_at)
            claimed = Claim(task_id, tenant_id, int(attempt or 1))
            if with_job:
                with stage("worker.job"):
                    task = session.get(Task, task_id)
                    assert task is not None
                    claimed.job = build_job(task)
                    claimed.bytes_in = sum(f.size or 0 for f in task.files)
            return claimed
        task = get_owned(session, Task, tenant_id, task_id)
        if task is None:
            log.info("task.gone task_id=%s", task_id)
            return None
        if task.is_final:
            log.info("task.duplicate_delivery task_id=%s status=%s", task_id, task.status)
            return None
        if task.cancel_requested or task.status == TaskStatus.CANCELLED:
            if not task.is_final:
                finish(session, task, TaskStatus.CANCELLED, "CANCELLED", "Cancelled by the tenant")
            return None
        if task.attempt >= task.max_attempts and (
            task.status == TaskStatus.QUEUED
            or (task.lease_expires_at is not None and task.lease_expires_at < now)
        ):
            finish(
                session,
                task,
                TaskStatus.FAILED,
                "ATTEMPTS_EXHAUSTED",
                f"The task failed {task.attempt} times; giving up",
            )
            log.warning("task.attempts_exhausted task_id=%s", task_id)
            return None
        log.info("task.leased_elsewhere task_id=%s owner=%s", task_id, task.lease_owner)
        return None


def _record_receive(enqueued_at: dt.datetime | None) -> None:
    """A ``worker.receive`` span from the gateway's enqueue (the row's ``enqueued_at``) to
    this claim: the time the message spent in the broker and the worker's prefetch."""
    if enqueued_at is None:
        return
    if enqueued_at.tzinfo is None:
        enqueued_at = enqueued_at.replace(tzinfo=dt.UTC)
    start_ns = int(enqueued_at.timestamp() * 1e9)
    span = _tracer.start_span("worker.receive", start_time=start_ns)
    span.end()


class _LeaseKeeper:
    """Renews the lease while agents run, so a long agent is not taken for a crash."""

    def __init__(self, task_id: str, owner: str) -> None:
        self.task_id = task_id
        self.owner = owner
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name=f"lease-{task_id[:8]}")

    def __enter__(self) -> _LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        lease = get_settings().task_lease_seconds
        while not self._stop.wait(max(1.0, lease / 3)):
            try:
                with session_scope() as session:
                    session.execute(
                        update(Task)
                        .where(Task.id == self.task_id, Task.lease_owner == self.owner)
                        .values(lease_expires_at=utcnow() + dt.timedelta(seconds=lease))
                        .execution_options(synchronize_session=False)
                    )
            except Exception:
                log.warning("task.lease_renew_failed task_id=%s", self.task_id, exc_info=True)


class DbHooks:
    """The pipeline's window on the database: progress, checkpoints, credits, cancellation."""

    def __init__(self, claim_: Claim, celery_task: Any = None) -> None:
        from celery.exceptions import SoftTimeLimitExceeded

        self.claim = claim_
        self.celery_task = celery_task
        self.fatal_errors: tuple[type[BaseException], ...] = (SoftTimeLimitExceeded,)

    def _update_task(self, **values: Any) -> None:
        with session_scope() as session:
            session.execute(
                update(Task)
                .where(Task.id == self.claim.task_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )

    def step(self, name: str, progress_value: int) -> None:
        self._update_task(progress=progress_value)
        progress.publish(
            self.claim.task_id, {"type": "progress", "step": name, "progress": progress_value}
        )
        progress.report_to_celery(self.celery_task, progress_value, None, self.claim.task_id)

    def agent_started(self, agent_id: str, index: int, total: int, progress_value: int) -> None:
        with session_scope() as session:
            session.execute(
                update(Task)
                .where(Task.id == self.claim.task_id)
                .values(progress=progress_value, current_agent=agent_id)
                .execution_options(synchronize_session=False)
            )
            session.execute(
                update(AgentRun)
                .where(AgentRun.task_id == self.claim.task_id, AgentRun.agent_id == agent_id)
                .values(status=AgentRunStatus.RUNNING, started_at=utcnow())
                .execution_options(synchronize_session=False)
            )
        progress.publish(
            self.claim.task_id,
            {
                "type": "agent_started",
                "agent_id": agent_id,
                "index": index,
                "total": total,
                "progress": progress_value,
            },
        )
        progress.report_to_celery(self.celery_task, progress_value, agent_id, self.claim.task_id)
        faults.before_agent(self.claim.task_id, agent_id)

    def agent_finished(self, result: AgentResult, checkpoint: AgentCheckpoint) -> None:
        """Checkpoint and capture in one transaction: a crash after it never re-charges."""
        task_id, tenant_id = self.claim.task_id, self.claim.tenant_id
        with stage("worker.capture", agent_id=result.agent_id), session_scope() as session:
            # The task's runs and tool only: its files and outputs are not needed here.
            runs = list(session.scalars(select(AgentRun).where(AgentRun.task_id == task_id)))
            tool_id = session.scalar(select(Task.tool_id).where(Task.id == task_id))
            assert tool_id is not None
            run = next(r for r in runs if r.agent_id == result.agent_id)
            run.status = str(result.status)
            run.duration_ms = result.duration_ms
            run.result_key = checkpoint.result_key
            run.frame_key = checkpoint.frame_key
            run.column_aliases = checkpoint.column_aliases
            run.error_code = result.error_code
            run.error_message = result.error
            run.finished_at = utcnow()
            if result.status == AgentStatus.SUCCESS:
                billing.capture_agent(
                    session, tenant_id, task_id, tool_id, result.agent_id, run.price
                )
                run.credits_charged = run.price
            done = sum(1 for r in runs if r.status in ("success", "failed", "skipped"))
            pct = 10 + int(80 * done / max(1, len(runs)))
            session.execute(
                update(Task)
                .where(Task.id == task_id)
                .values(credits_charged=billing.charged_for_task(session, task_id), progress=pct)
                .execution_options(synchronize_session=False)
            )
            captured = run.price if result.status == AgentStatus.SUCCESS else 0
        record_agent(tool_id, result.agent_id, str(result.status), result.duration_ms, captured)
        progress.publish(
            self.claim.task_id,
            {
                "type": "agent_finished",
                "agent_id": result.agent_id,
                "status": str(result.status),
                "duration_ms": result.duration_ms,
                "progress": pct,
            },
        )

    def resume_state(self, storage: Storage, work_dir: Path) -> ResumeState:
        state = ResumeState()
        if self.claim.attempt <= 1:
            return state  # the first claim: no earlier attempt can have left a checkpoint
        with session_scope(read_only=True) as session:
            runs = list(
                session.scalars(
                    select(AgentRun)
                    .where(AgentRun.task_id == self.claim.task_id)
                    .order_by(AgentRun.position)
                )
            )
        resume_dir = work_dir / "resume"
        resume_dir.mkdir(exist_ok=True)
        for run in runs:
            if run.status in ("success", "failed", "skipped") and run.result_key:
                result, frame_path, aliases = load_checkpoint(
                    storage, run.result_key, run.frame_key, resume_dir
                )
                state.results[run.agent_id] = result
                if frame_path is not None:
                    state.frame_path = frame_path
                state.column_aliases = aliases
        if state.results:
            log.info("task.resumed task_id=%s after=%s", self.claim.task_id, list(state.results))
        return state

    def cancelled(self) -> bool:
        with session_scope(read_only=True) as session:
            return bool(
                session.scalar(select(Task.cancel_requested).where(Task.id == self.claim.task_id))
            )

    def check_billing(self, agents: list[str]) -> None:
        """The hold taken at ``process`` must still cover the agents' prices."""
        with session_scope(read_only=True) as session:
            due = int(
                session.scalar(
                    select(func.coalesce(func.sum(AgentRun.price), 0)).where(
                        AgentRun.task_id == self.claim.task_id,
                        AgentRun.status.in_((AgentRunStatus.PENDING, AgentRunStatus.RUNNING)),
                    )
                )
                or 0
            )
            held = billing.task_hold_remaining(session, self.claim.task_id)
            if held < due:
                from billing.exceptions import InsufficientCredits

                raise InsufficientCredits(
                    "The credit hold for this task no longer covers its agents",
                    details={"required": due, "held": held},
                )


def build_job(task: Task) -> PipelineJob:
    opts = task.options or {}
    return PipelineJob(
        task_id=task.id,
        tenant_id=task.tenant_id,
        tool_id=task.tool_id,
        agents=list(task.agents),
        parameters=dict(task.parameters or {}),
        inputs=[InputRef(f.role, f.key, f.filename) for f in task.files if f.uploaded_at or f.size],
        read_options=ReadOptions(
            on_bad_lines=opts.get("on_bad_lines", "error"),
            sheet=opts.get("sheet"),
            max_rows=opts.get("max_rows"),
            max_columns=opts.get("max_columns"),
            max_cell_length=opts.get("max_cell_length"),
        ),
        key_prefix=task_prefix(task.tenant_id, task.id),
        report_formats=report_formats(opts.get("report_formats")),
    )


def run_task(task_id: str, tenant_id: str, owner: str, celery_task: Any = None) -> str:
    """Claim and run one task; returns the final (or current) status.

    Every log line meanwhile carries the task's ids; the current span (Celery's run span) gets
    tenant_id, task_id, tool_id, status and credits; the outcome feeds the task metrics.
    """
    token = log_context.set({"tenant_id": tenant_id, "task_id": task_id})
    span = trace.get_current_span()
    span.set_attributes({"tenant_id": tenant_id, "task_id": task_id})
    started = time.perf_counter()
    status = "RETRY"  # RetryLater (or a crash) leaves the task to a later attempt
    finished: dict[str, Any] = {}
    try:
        status = _run_task(task_id, tenant_id, owner, celery_task, finished)
        return status
    finally:
        _observe_task(task_id, status, time.perf_counter() - started, span, finished)
        log_context.reset(token)


def _observe_task(
    task_id: str, status: str, seconds: float, span: Any, finished: dict[str, Any]
) -> None:
    """Span attributes and task metrics; tool and credits from the final commit when it ran
    (``finished``), else read back."""
    try:
        if "tool_id" in finished:
            tool, credits = str(finished["tool_id"]), int(finished["credits"])
        else:
            with session_scope(read_only=True) as session:
                row = session.execute(
                    select(Task.tool_id, Task.credits_charged).where(Task.id == task_id)
                ).first()
            tool = str(row.tool_id) if row else "unknown"
            credits = int(row.credits_charged or 0) if row else 0
        span.set_attributes({"tool_id": tool, "credits": credits, "task.status": status})
        record_task(tool, status, seconds)
    except Exception:  # observability never fails a task
        log.warning("task.observe_failed task_id=%s", task_id, exc_info=True)


def _run_task(
    task_id: str, tenant_id: str, owner: str, celery_task: Any, finished: dict[str, Any]
) -> str:
    with stage("worker.claim"):
        claimed = claim(task_id, tenant_id, owner, with_job=True)
    if claimed is None:
        return "IGNORED"
    job, bytes_in = claimed.job, claimed.bytes_in
    assert job is not None
    storage = get_storage()
    hooks = DbHooks(claimed, celery_task)
    try:
        with _LeaseKeeper(task_id, owner):
            outcome = run_pipeline(job, storage, hooks)
    except Cancelled:
        return _end(task_id, TaskStatus.CANCELLED, "CANCELLED", "Cancelled by the tenant")
    except BaseException as exc:
        c = classify(exc)
        if c.interrupted:
            # The worker is stopping (broker connection lost, warm/cold shutdown): put the task
            # back with its checkpoints and let the process exit. The message is redelivered
            # (acks_late) or, if the broker lost it, re-sent by the sweeper; the next attempt
            # resumes after the last finished agent. The claim enforces the attempt budget.
            _requeue_quietly(task_id, c.code, c.message)
            raise
        if c.retryable and claimed.attempt < _max_attempts(task_id):
            delay = retry_delay(claimed.attempt)
            if _within_budget(task_id, delay):
                _requeue(task_id, c.code, c.message, delay)
                raise RetryLater(claimed.attempt, exc, delay) from exc
        log.warning("task.failed task_id=%s code=%s message=%s", task_id, c.code, c.message)
        status = _end(task_id, TaskStatus.FAILED, c.code, c.message)
        if not isinstance(exc, Exception):
            raise
        return status
    with stage("worker.final_commit"), session_scope() as session:
        task = session.get(Task, task_id)
        assert task is not None
        for out in outcome.outputs:
            existing = next((o for o in task.outputs if o.name == out["name"]), None)
            if existing is None:
                task.outputs.append(
                    TaskOutput(
                        task_id=task.id,
                        tenant_id=task.tenant_id,
                        name=out["name"],
                        kind=out["kind"],
                        key=out["key"],
                        size=out["size"],
                    )
                )
            else:
                existing.key, existing.size = out["key"], out["size"]
        task.report_key = next(
            (o["key"] for o in outcome.outputs if o["name"] == "report.json"), None
        )
        task.rows_processed = outcome.rows_processed
        task.bytes_processed = bytes_in
        finish(session, task, TaskStatus(outcome.status))
        tool_id, credits = task.tool_id, task.credits_charged
    finished.update(tool_id=tool_id, credits=credits)  # committed
    progress.publish(task_id, {"type": "status", "status": outcome.status, "progress": 100})
    log.info("task.completed task_id=%s status=%s", task_id, outcome.status)
    return outcome.status


def _max_attempts(task_id: str) -> int:
    with session_scope(read_only=True) as session:
        return int(session.scalar(select(Task.max_attempts).where(Task.id == task_id)) or 1)


def _within_budget(task_id: str, delay: float) -> bool:
    """A retry must start within ``TASK_RETRY_BUDGET_SECONDS`` of the task being queued."""
    with session_scope(read_only=True) as session:
        queued_at = session.scalar(select(Task.queued_at).where(Task.id == task_id))
    if queued_at is None:
        return True
    elapsed = (utcnow() - queued_at).total_seconds()
    return elapsed + delay <= get_settings().task_retry_budget_seconds


def _requeue(task_id: str, code: str, message: str, delay: float = 0.0) -> None:
    """PROCESSING -> QUEUED. ``enqueued_at`` is when the retry is due, so the sweeper counts a
    retry's message as lost only ``SWEEPER_LOST_MESSAGE_AFTER_SECONDS`` after that."""
    with session_scope() as session:
        session.execute(
            update(Task)
            .where(Task.id == task_id, Task.status == TaskStatus.PROCESSING)
            .values(
                status=TaskStatus.QUEUED,
                lease_owner=None,
                lease_expires_at=None,
                current_agent=None,
                error_code=code,
                error_message=message,
                enqueued_at=utcnow() + dt.timedelta(seconds=delay),
            )
            .execution_options(synchronize_session=False)
        )
    log.warning("task.retry task_id=%s code=%s delay=%.1f", task_id, code, delay)


def _requeue_quietly(task_id: str, code: str, message: str) -> None:
    """Requeue an interrupted task; if even that fails (the database is gone too), the lease
    expires and the sweeper re-sends the task."""
    try:
        _requeue(task_id, code, message)
        log.warning("task.interrupted task_id=%s requeued", task_id)
    except Exception:
        log.warning("task.interrupted task_id=%s requeue_failed", task_id, exc_info=True)


def _end(task_id: str, status: TaskStatus, code: str | None, message: str | None) -> str:
    with session_scope() as session:
        task = session.get(Task, task_id)
        if task is None or task.is_final:
            return task.status if task else "IGNORED"
        finish(session, task, status, code, message)
    progress.publish(task_id, {"type": "status", "status": str(status), "error_code": code})
    return str(status)
