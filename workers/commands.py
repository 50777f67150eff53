"""The command line of a worker pool, in one place for the manifests, the local stack and tests."""

from __future__ import annotations

import sys
from collections.abc import Sequence

#: ``celery`` as a console script (containers) or through this interpreter (local processes).
CELERY = ("celery",)
PYTHON_CELERY = (sys.executable, "-m", "celery")


def worker_argv(
    queues: Sequence[str],
    *,
    node: str,
    concurrency: int,
    launcher: Sequence[str] = CELERY,
    beat_schedule: str | None = None,
    soft_shutdown_timeout: int | None = None,
) -> list[str]:
    """A pool consuming ``queues`` (one tool queue, or ``maintenance`` with beat).

    Gossip and mingle are off: pools don't coordinate, and at scale they only add broker
    chatter. ``soft_shutdown_timeout`` (Celery >= 5.5, as command-line configuration) makes a
    cold shutdown wait for running tasks that long before it cancels and requeues them.
    """
    argv = [
        *launcher,
        "-A",
        "workers.app",
        "worker",
        "-Q",
        ",".join(queues),
        "-n",
        f"{node}@%h",
        "-c",
        str(concurrency),
        "-l",
        "INFO",
        "--without-gossip",
        "--without-mingle",
    ]
    if beat_schedule:
        argv += ["-B", "-s", beat_schedule]
    if soft_shutdown_timeout is not None:
        argv.append(f"worker_soft_shutdown_timeout={soft_shutdown_timeout}")
    return argv
