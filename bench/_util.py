"""Shared benchmark helpers: measured child processes, percentiles, goals, the load generator.

- Peak memory is the measured process's own ``VmHWM`` (``/proc/self/status``), read inside
  that process at exit: ``ru_maxrss`` of a child is not the child's alone (a parent's peak can
  carry over), so it is never used.
- Every ratio is printed with its goal and ``PASS`` or ``BELOW``; every percentile with the
  number of samples it comes from (p99 needs at least 1,000).
- HTTP load comes from ``wrk`` (compiled, installed by ``make bench``) pinned to one core with
  ``taskset``, so the client's own cost does not decide the ratios.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "var" / "bench"

#: Prepended to every measured snippet: at exit, write this process's VmHWM (kB) to a file.
HWM_PRELUDE = r"""
import atexit as _atexit, os as _os
def _agensium_hwm():
    path = _os.environ.get("BENCH_HWM_FILE")
    if path:
        with open("/proc/self/status") as f:
            kb = next(l.split()[1] for l in f if l.startswith("VmHWM:"))
        with open(path, "w") as out:
            out.write(kb)
_atexit.register(_agensium_hwm)
"""


@dataclass
class Measured:
    label: str
    wall_s: float
    peak_rss_mb: float
    stdout: str


def run_measured(
    label: str,
    code: str,
    *args: str,
    env: dict[str, str] | None = None,
    python: str | Path | None = None,
) -> Measured:
    """Run ``python -c code args...`` in a fresh interpreter; wall time, its own VmHWM (MiB)
    and its stdout."""
    fd, hwm_path = tempfile.mkstemp(prefix="bench-hwm-")
    os.close(fd)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(python or sys.executable), "-c", HWM_PRELUDE + code, *args],
        stdout=subprocess.PIPE,
        stderr=None,
        cwd=ROOT,
        env={**os.environ, **(env or {}), "BENCH_HWM_FILE": hwm_path},
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    try:
        hwm_kb = float(Path(hwm_path).read_text() or 0)
    finally:
        os.unlink(hwm_path)
    if proc.returncode != 0:
        raise RuntimeError(f"{label} failed with exit code {proc.returncode}")
    return Measured(label, wall, hwm_kb / 1024, proc.stdout)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def verdict(value: float, goal: float, *, at_most: bool = False) -> str:
    """``PASS`` when ``value`` meets the goal (``>= goal``, or ``<= goal`` with at_most)."""
    ok = value <= goal if at_most else value >= goal
    return "PASS" if ok else "BELOW"


def goal_line(
    label: str, value: float, goal: float, *, at_most: bool = False, unit: str = "x"
) -> str:
    sign = "<=" if at_most else ">="
    v = verdict(value, goal, at_most=at_most)
    return f"  {label:<52} {value:8.2f}{unit}   goal {sign} {goal:g}{unit}   {v}"


def pct(values: list[float], q: float) -> float:
    """The q-quantile by nearest rank over the sorted samples."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def print_table(title: str, rows: list[Measured]) -> None:
    print(f"\n== {title}")
    for m in rows:
        print(f"  {m.label:<44} wall {m.wall_s:8.2f} s   peak RSS (VmHWM) {m.peak_rss_mb:8.0f} MiB")


def machine() -> str:
    """One line naming the machine the figures come from."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs ({model}), load average {load}"


# --------------------------------------------------------------------------- wrk


@dataclass
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed: run `make bench` (it apt-get installs wrk)")
    return found


_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * _UNIT[m.group(2)]


def wrk(
    url: str,
    seconds: float,
    *,
    headers: dict[str, str] | None = None,
    connections: int = 4,
    core: int = 0,
) -> WrkResult:
    """``wrk`` with one thread pinned to ``core``; non-2xx answers count as errors."""
    argv = ["taskset", "-c", str(core), wrk_path(), "-t1", f"-c{connections}"]
    argv += [f"-d{max(1, round(seconds))}s", "--latency"]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    out = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    if not m:
        raise RuntimeError(f"unexpected wrk output: {out}")
    requests, secs = int(m.group(1)), _ms(m.group(2) + m.group(3)) / 1000
    lat = dict(re.findall(r"^\s*(50|99)%\s+([\d.]+(?:us|ms|s|m))\s*$", out, re.MULTILINE))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    if sock:
        errors += sum(int(x) for x in sock.groups())
    return WrkResult(
        requests=requests,
        seconds=secs,
        rps=requests / secs if secs else 0.0,
        p50_ms=_ms(lat["50"]) if "50" in lat else float("nan"),
        p99_ms=_ms(lat["99"]) if "99" in lat else float("nan"),
        errors=errors,
    )


def server_core() -> int:
    """The core the measured server is pinned to (the load generator gets the other)."""
    return 1 if (os.cpu_count() or 1) > 1 else 0


def client_core() -> int:
    return 0
