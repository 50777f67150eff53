"""Row -> response conversions shared by the task endpoints."""

from __future__ import annotations

from tasks.models import Task
from tasks.schemas import AgentRunOut, TaskError, TaskFileOut, TaskOut


def task_out(task: Task) -> TaskOut:
    return TaskOut(
        task_id=task.id,
        tool_id=task.tool_id,
        status=task.status,
        progress=task.progress,
        current_agent=task.current_agent,
        agents=[
            AgentRunOut(
                agent_id=r.agent_id,
                status=r.status,
                duration_ms=r.duration_ms,
                credits=r.credits_charged,
                error={"code": r.error_code, "message": r.error_message} if r.error_code else None,
            )
            for r in task.runs
        ],
        attempt=task.attempt,
        credits_held=task.credits_held,
        credits_charged=task.credits_charged,
        rows_processed=task.rows_processed,
        files=[
            TaskFileOut(
                role=f.role, filename=f.filename, size=f.size, format=f.format, sha256=f.sha256
            )
            for f in sorted(task.files, key=lambda f: f.role)
        ],
        error=TaskError(code=task.error_code, message=task.error_message)
        if task.error_code
        else None,
        created_at=task.created_at,
        queued_at=task.queued_at,
        started_at=task.started_at,
        finished_at=task.finished_at,
    )
