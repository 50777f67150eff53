"""This process's peak memory, from the kernel: ``VmHWM`` of ``/proc/self/status``.

A worker's pool process runs many tasks: ``reset_peak`` (writing ``5`` to
``/proc/self/clear_refs``, Linux 4.0+) starts the high-water mark again at a task's start, so
the figure a task reports is its own peak, not its predecessor's. Elsewhere (no ``/proc``) both
answer ``None``/``False`` and nothing is reported.
"""

from __future__ import annotations

from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def reset_peak() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def peak_rss_mb() -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    except OSError:
        return None
    return None
