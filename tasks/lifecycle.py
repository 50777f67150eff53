"""Task statuses and their allowed transitions, enforced in one place."""

from __future__ import annotations

from core.errors import ConflictError
from tasks.models import Task, TaskStatus

S = TaskStatus

TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    S.CREATED: frozenset({S.QUEUED, S.CANCELLED, S.EXPIRED, S.FAILED}),
    S.QUEUED: frozenset({S.PROCESSING, S.CANCELLED, S.FAILED, S.EXPIRED}),
    # PROCESSING -> QUEUED: a transient failure put back for a retry.
    S.PROCESSING: frozenset(
        {S.COMPLETED, S.COMPLETED_WITH_ERRORS, S.FAILED, S.CANCELLED, S.QUEUED}
    ),
    S.COMPLETED: frozenset(),
    S.COMPLETED_WITH_ERRORS: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
}

#: What each tenant action needs; a call in any other status is 409 INVALID_STATE naming it.
UPLOADABLE = frozenset({S.CREATED})
PROCESSABLE = frozenset({S.CREATED})
CANCELLABLE = frozenset({S.CREATED, S.QUEUED, S.PROCESSING})
DELETABLE = frozenset(
    {S.CREATED, S.COMPLETED, S.COMPLETED_WITH_ERRORS, S.FAILED, S.CANCELLED, S.EXPIRED}
)


class InvalidTransition(ConflictError):
    code = "INVALID_STATE"


def can_transition(current: str, to: TaskStatus) -> bool:
    return to in TRANSITIONS[TaskStatus(current)]


def ensure(task: Task, allowed: frozenset[TaskStatus], action: str) -> None:
    if TaskStatus(task.status) not in allowed:
        raise InvalidTransition(
            f"Cannot {action} a task that is {task.status}",
            details={"task_id": task.id, "status": task.status, "action": action},
        )


def transition(task: Task, to: TaskStatus) -> None:
    if not can_transition(task.status, to):
        raise InvalidTransition(
            f"A {task.status} task cannot become {to}",
            details={"task_id": task.id, "status": task.status, "to": str(to)},
        )
    task.status = to
