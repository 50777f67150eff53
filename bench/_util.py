"""Shared benchmark helpers: run a measured step in its own process and read its peak RSS.

Each measured step runs in a fresh interpreter so that peak RSS belongs to that step alone
(``os.wait4`` returns the child's ``ru_maxrss``). Benchmarks print ratios against a baseline
measured in the same run, never absolute pass/fail thresholds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "var" / "bench"


@dataclass
class Measured:
    label: str
    wall_s: float
    peak_rss_mb: float
    stdout: str


def run_measured(label: str, code: str, *args: str, env: dict[str, str] | None = None) -> Measured:
    """Run ``python -c code args...`` and return wall time, peak RSS (MiB) and its stdout."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=None,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        text=True,
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{label} failed with exit code {proc.returncode}")
    return Measured(label, wall, usage.ru_maxrss / 1024, out)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def print_table(title: str, rows: list[Measured]) -> None:
    print(f"\n== {title}")
    for m in rows:
        print(f"  {m.label:<40} wall {m.wall_s:8.2f} s   peak RSS {m.peak_rss_mb:8.0f} MiB")
