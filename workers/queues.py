"""Queue names: one per tool, from the registry, plus ``maintenance`` for housekeeping."""

from __future__ import annotations

from enum import StrEnum

from transformers.registry import TOOLS

MAINTENANCE_QUEUE = "maintenance"

#: Task names: the gateway sends by name so it never imports worker or agent code.
PROCESS_TASK = "agensium.process_analysis"
SWEEP_TASK = "agensium.sweep"
RETENTION_TASK = "agensium.retention"
CALLBACK_TASK = "agensium.deliver_callback"
PING_TASK = "agensium.ping"
DELETE_OBJECTS_TASK = "agensium.delete_objects"


class Queue(StrEnum):
    MAINTENANCE = MAINTENANCE_QUEUE


def tool_queue(tool_id: str) -> str:
    return TOOLS[tool_id].queue_name


def all_queues() -> list[str]:
    return [t.queue_name for t in TOOLS.values()] + [MAINTENANCE_QUEUE]
