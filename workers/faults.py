"""Fault injection for resilience tests: real crashes and stalls inside a real worker process.

Inactive unless ``AGENSIUM_FAULTS`` is set (tests set it on the worker processes they start;
production never does). A comma-separated list of ``<kind>:<agent_id>[:<arg>]``:

- ``crash:<agent>``        the worker child exits abruptly (``os._exit``) when the agent starts
- ``crash_once:<agent>``   the same, only the first time (a marker file in ``AGENSIUM_FAULTS_DIR``)
- ``sleep:<agent>:<sec>``  the agent start is delayed by ``sec`` seconds (for time limits)
- ``sleep_once:<agent>:<sec>`` the same, only the first time (a task is seen mid-run once and
  runs at full speed when it is retried)
- ``crash:<point>``        also at a named point of the gateway (``checkpoint``), e.g.
  ``crash:one_shot_created``: the gateway process dies right after the one-shot create made
  its task (the Idempotency-Key claimed)
"""

from __future__ import annotations

import os
import time
from pathlib import Path

ENV = "AGENSIUM_FAULTS"


def _rules() -> list[list[str]]:
    raw = os.environ.get(ENV, "")
    return [r.split(":") for r in raw.split(",") if r.strip()]


def before_agent(task_id: str, agent_id: str) -> None:
    for rule in _rules():
        kind, target = rule[0], rule[1] if len(rule) > 1 else ""
        if target != agent_id:
            continue
        if kind == "crash":
            os._exit(137)
        if kind == "crash_once":
            folder = Path(os.environ.get("AGENSIUM_FAULTS_DIR", "/tmp"))
            marker = folder / f"crashed-{task_id}-{agent_id}"
            if not marker.exists():
                marker.write_text("1")
                os._exit(137)
        if kind == "sleep":
            time.sleep(float(rule[2]))
        if kind == "sleep_once":
            folder = Path(os.environ.get("AGENSIUM_FAULTS_DIR", "/tmp"))
            marker = folder / f"slept-{task_id}-{agent_id}"
            if not marker.exists():
                marker.write_text("1")
                time.sleep(float(rule[2]))


def checkpoint(point: str) -> None:
    """A named point outside the agents where a test may crash the process."""
    for rule in _rules():
        if rule[0] == "crash" and len(rule) > 1 and rule[1] == point:
            os._exit(137)
