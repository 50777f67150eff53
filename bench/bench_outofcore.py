"""profile-my-data out of core: one task's peak memory stays flat however large its input.

Through the real worker (gateway, Redis, SeaweedFS, one Celery profile worker started with the
manifests' argv, ``WORKER_MEMORY_LIMIT_MB`` = ``BENCH_OOC_BUDGET_MB``, 1536 by default), each
size runs profile-my-data with all six agents on a generated CSV and a baseline CSV of the same
size (another seed, so drift-detector runs every test). Files are uploaded to their presigned
S3 URLs. Printed per width (10 and 20 columns) and size (``BENCH_OOC_ROWS``, default
1M, 5M and 20M rows):

- the task's worker time (``started_at`` to ``finished_at``) and its peak memory: the worker
  child's own ``VmHWM`` (reset at the task's start, read after the agents and again after the
  report is written; the report's ``timings.peak_rss_agents_mb`` / ``peak_rss_mb``);
- DuckDB's ``SUMMARIZE`` of the same file in the same run (its own process, its own ``VmHWM``);
- goals: peak <= the budget at every size, time per doubling <= 2.1x, and at the largest size
  <= 2x DuckDB ``SUMMARIZE`` (stretch 1.5x), each with PASS or BELOW.
"""

from __future__ import annotations

import itertools
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench._util import BENCH_DIR, goal_line, machine, run_measured
from bench.bench_scaling import FINAL, Stack, _tenant

BUDGET_MB = int(os.environ.get("BENCH_OOC_BUDGET_MB", "1536"))
ROWS = [int(r) for r in os.environ.get("BENCH_OOC_ROWS", "1000000,5000000,20000000").split(",")]
WIDTHS = [int(w) for w in os.environ.get("BENCH_OOC_WIDTHS", "10,20").split(",")]
AGENTS = [
    "unified-profiler",
    "drift-detector",
    "score-risk",
    "test-coverage-agent",
    "readiness-rater",
    "governance-checker",
]

GENERATE = r"""
import sys
import numpy as np
import polars as pl
rows, width, seed, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = np.random.default_rng(seed)
chunk = 500_000
with open(path, "wb") as f:
    for start in range(0, rows, chunk):
        m = min(chunk, rows - start)
        ids = np.arange(start, start + m)
        cols = {
            "price": np.round(rng.lognormal(3, 1, m), 2),
            "score": np.where(rng.random(m) < 0.02, np.nan, np.round(rng.normal(70, 12, m), 3)),
            "qty": rng.poisson(4, m),
            "customer_id": ids + 100000,
            "year": rng.integers(1990, 2025, m),
            "country": rng.choice(["DE", "FR", "US", "GB", "IN", "BR"], m),
            "status": rng.choice(["active", "churned", "trial"], m),
            "email": np.char.add(np.char.add("user", ids.astype(str)), "@example.com"),
            "signup_date": (np.datetime64("2015-01-01") + rng.integers(0, 3650, m)).astype(str),
            "notes": np.char.add("note ", rng.integers(0, 50000, m).astype(str)),
        }
        extra = {
            "weight": np.round(rng.gamma(2.0, 3.0, m), 3),
            "lat": np.round(rng.uniform(-90, 90, m), 5),
            "lon": np.round(rng.uniform(-180, 180, m), 5),
            "ratio": np.round(rng.beta(2, 5, m), 4),
            "visits": rng.negative_binomial(3, 0.3, m),
            "segment": rng.choice(["retail", "smb", "enterprise"], m, p=[0.7, 0.2, 0.1]),
            "first_name": rng.choice(["Anna", "Ben", "Chloe", "Dmitri", "Eva", "Hiro"], m),
            "phone": np.char.add("+1 555 ", rng.integers(1000000, 9999999, m).astype(str)),
            "active": np.where(rng.random(m) < 0.5, "true", "false"),
            "code": np.char.add("C-", rng.integers(0, 1000, m).astype(str)),
        }
        cols.update(dict(list(extra.items())[: max(0, width - len(cols))]))
        frame = pl.DataFrame(cols).with_columns(pl.col("score").fill_nan(None))
        frame.write_csv(f, include_header=start == 0)
"""

SUMMARIZE = r"""
import sys, duckdb
con = duckdb.connect(config={"memory_limit": f"{int(sys.argv[2])}MB", "threads": 2})
con.execute("SET enable_progress_bar = false")
rows = con.execute(f"SUMMARIZE SELECT * FROM read_csv_auto('{sys.argv[1]}')").fetchall()
print(len(rows), "columns summarised")
"""


def _data(rows: int, width: int, seed: int) -> Path:
    path = BENCH_DIR / f"ooc_{rows}_x{width}_s{seed}.csv"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        run_measured("generate", GENERATE, str(rows), str(width), str(seed), str(tmp))
        tmp.rename(path)
    return path


def _put(url: str, path: Path) -> None:
    size = path.stat().st_size
    with path.open("rb") as f:
        r = httpx.put(url, content=f, headers={"Content-Length": str(size)}, timeout=3600)
    r.raise_for_status()


def _task(client: httpx.Client, primary: Path, baseline: Path) -> dict[str, float]:
    r = client.post(
        "/v1/tasks",
        json={
            "tool_id": "profile-my-data",
            "agents": AGENTS,
            "filenames": {"primary": primary.name, "baseline": baseline.name},
        },
    )
    r.raise_for_status()
    body = r.json()
    for role, path in (("primary", primary), ("baseline", baseline)):
        _put(body["uploads"][role]["url"], path)
    task_id = body["task_id"]
    for _ in range(20):  # as a client would: a 503 (a dependency busy) says when to retry
        r = client.post(f"/v1/tasks/{task_id}/process", timeout=600)
        if r.status_code != 503:
            break
        time.sleep(float(r.headers.get("Retry-After", "5")))
    r.raise_for_status()
    deadline = time.monotonic() + 3 * 3600
    while time.monotonic() < deadline:
        task = client.get(f"/v1/tasks/{task_id}").json()
        if task["status"] in FINAL:
            break
        time.sleep(1.0)
    assert task["status"] == "COMPLETED", task
    report = client.get(f"/v1/tasks/{task_id}/report", timeout=600).json()
    timings = report.get("timings", {})
    import datetime as dt

    worker_s = (
        dt.datetime.fromisoformat(task["finished_at"])
        - dt.datetime.fromisoformat(task["started_at"])
    ).total_seconds()
    return {
        "worker_s": worker_s,
        "peak_mb": float(timings.get("peak_rss_mb", math.nan)),
        "agents_peak_mb": float(timings.get("peak_rss_agents_mb", math.nan)),
        "load_s": timings.get("load_ms", 0) / 1000,
        "agents_s": timings.get("agents_ms", 0) / 1000,
    }


def main() -> None:
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}; worker budget WORKER_MEMORY_LIMIT_MB={BUDGET_MB}")
    with tempfile.TemporaryDirectory(prefix="bench-ooc-") as tmp:
        stack = Stack(Path(tmp), {"WORKER_MEMORY_LIMIT_MB": str(BUDGET_MB)})
        try:
            stack.start()
            stack.worker("profile-my-data", "ooc")
            client = _tenant(stack)
            client.timeout = httpx.Timeout(600)
            for width in WIDTHS:
                _run_width(client, width)
        finally:
            stack.stop()


def _run_width(client: httpx.Client, width: int) -> None:
    results = []
    for rows in ROWS:
        primary, baseline = _data(rows, width, 1), _data(rows, width, 2)
        ours = _task(client, primary, baseline)
        duck = run_measured(f"duckdb SUMMARIZE {rows}", SUMMARIZE, str(primary), str(BUDGET_MB))
        size_mb = primary.stat().st_size / 2**20
        results.append((rows, size_mb, ours, duck))
        print(
            f"  {rows:>11,} rows x {width}: file {size_mb:,.0f} MiB; ours {ours['worker_s']:.1f} s "
            f"(load {ours['load_s']:.1f} s, agents {ours['agents_s']:.1f} s), peak "
            f"{ours['peak_mb']:,.0f} MiB (agents {ours['agents_peak_mb']:,.0f}); DuckDB SUMMARIZE "
            f"{duck.wall_s:.1f} s, {duck.peak_rss_mb:,.0f} MiB; ours/SUMMARIZE "
            f"{ours['worker_s'] / duck.wall_s:.2f}x",
            flush=True,
        )
    print(f"profile-my-data out of core, {width} columns ({machine()})")
    for rows, _, ours, _ in results:
        print(
            goal_line(
                f"peak at {rows:,} rows", ours["peak_mb"], BUDGET_MB, at_most=True, unit=" MiB"
            )
        )
    for (r0, _, a, _), (r1, _, b, _) in itertools.pairwise(results):
        doublings = math.log2(r1 / r0)
        per = (b["worker_s"] / a["worker_s"]) ** (1 / doublings)
        print(goal_line(f"time per doubling {r0:,} -> {r1:,}", per, 2.1, at_most=True))
    rows, _, ours, duck = results[-1]
    ratio = ours["worker_s"] / duck.wall_s
    print(goal_line(f"ours / DuckDB SUMMARIZE at {rows:,} rows", ratio, 2.0, at_most=True))
    print(goal_line("  stretch", ratio, 1.5, at_most=True))


if __name__ == "__main__":
    sys.exit(main())
