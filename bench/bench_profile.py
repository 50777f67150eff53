"""profile-my-data at scale: the six agents on 1,000,000 rows x 20 columns.

Measured, each in its own process (wall time and peak RSS):

(a) lower bound: ``polars.read_csv`` + ``describe()`` + ``null_count()``;
(b) ours: ``transformers.io.read_table`` (the real reader: parse once, infer over the whole
    column) and then the six agents in order with one shared ``AgentContext``; the drift
    detector gets the primary frame as its baseline (so it runs every test over every column
    instead of being skipped; nothing drifts);
(c) ydata-profiling (default mode) on the full data set (``BENCH_YDATA_ROWS`` rows, all of them
    by default: its cost has a large fixed part, so a sample scaled linearly overstates it),
    with its own time and memory. It needs numpy/scipy versions other than the project's, so it
    runs from its own virtualenv under ``var/bench/ydata-venv`` (``make bench`` makes it); when
    that is missing it is skipped and said so.

Peak memory is each process's own ``VmHWM``, read inside it (``bench._util.run_measured``).
Goals: (b) within 3x of (a), (c) at least 10x slower than (b), (b) peak RSS under 2 GB.
"""

from __future__ import annotations

import os
import sys

from bench._util import BENCH_DIR, Measured, goal_line, machine, print_table, ratio, run_measured

ROWS = 1_000_000
YDATA_ROWS = int(os.environ.get("BENCH_YDATA_ROWS", str(ROWS)))
DATA = BENCH_DIR / "profile_1m_x20.csv"
YDATA_PY = BENCH_DIR / "ydata-venv" / "bin" / "python"

GENERATE = r"""
import sys
import numpy as np
import polars as pl
n, path = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(20240601)
def with_nulls(arr, share):
    s = pl.Series(arr)
    return s.scatter(rng.choice(n, int(n * share), replace=False), None)
first = np.array(["Anna", "Ben", "Chloé", "Dmitri", "Eva", "Farid", "Grace", "Hiro"])
df = pl.DataFrame({
    "price": with_nulls(rng.lognormal(3, 1, n), 0.02),
    "score": with_nulls(rng.normal(70, 12, n), 0.05),
    "weight": rng.gamma(2.0, 3.0, n),
    "lat": rng.uniform(-90, 90, n),
    "lon": rng.uniform(-180, 180, n),
    "ratio": with_nulls(rng.beta(2, 5, n), 0.10),
    "qty": rng.poisson(4, n),
    "customer_id": np.arange(n) + 100000,
    "year": rng.integers(1990, 2025, n),
    "visits": with_nulls(rng.negative_binomial(3, 0.3, n), 0.01),
    "country": rng.choice(["DE", "FR", "US", "GB", "IN", "BR"], n),
    "segment": rng.choice(["retail", "smb", "enterprise"], n, p=[0.7, 0.2, 0.1]),
    "status": with_nulls(rng.choice(["active", "churned", "trial"], n), 0.03),
    "email": pl.Series(np.char.add(np.char.add("user", np.arange(n).astype(str)), "@example.com")),
    "first_name": rng.choice(first, n),
    "phone": pl.Series(np.char.add("+1 555 ", rng.integers(1000000, 9999999, n).astype(str))),
    "signup_date": pl.Series(np.datetime64("2015-01-01") + rng.integers(0, 3650, n)).cast(pl.Date),
    "active": rng.integers(0, 2, n).astype(bool),
    "notes": pl.Series(np.char.add("note ", rng.integers(0, 50000, n).astype(str))),
    "mixed": pl.Series(np.where(rng.random(n) < 0.02, "n/a", rng.integers(0, 1000, n).astype(str))),
})
df.write_csv(path)
print(df.shape)
"""

LOWER_BOUND = r"""
import sys, polars as pl
df = pl.read_csv(sys.argv[1], infer_schema_length=None)
df.describe()
df.null_count()
print(df.shape)
"""

OURS = r"""
import sys, time
from pathlib import Path
from transformers.agents.profile import AGENTS
from transformers.contract import AgentContext
from transformers.io import ReadOptions, read_table
from transformers.registry import get_tool
path = Path(sys.argv[1])
t0 = time.perf_counter()
loaded = read_table(path, filename=path.name, role="primary", options=ReadOptions())
frame = loaded.frame
timings = {"read": time.perf_counter() - t0}
tool = get_tool("profile-my-data")
ctx = AgentContext("bench", "bench", tool.tool_id, "", {"primary": frame, "baseline": frame},
                   {"primary": loaded.info}, Path("/tmp"))
for agent_id in tool.agent_ids:
    ctx.agent_id = agent_id
    t = time.perf_counter()
    result = AGENTS[agent_id](frame, tool.agent(agent_id).params(), ctx)
    timings[agent_id] = time.perf_counter() - t
    assert str(result.status) == "success", (agent_id, result.error)
    ctx.results[agent_id] = result
print(" ".join(f"{k}={v:.2f}s" for k, v in timings.items()))
print("grade", ctx.results["unified-profiler"].data["quality"]["grade"],
      "row issues", len(ctx.results["unified-profiler"].row_level_issues))
"""

YDATA = r"""
import sys, warnings
warnings.filterwarnings("ignore")
import pandas as pd
from ydata_profiling import ProfileReport
pdf = pd.read_csv(sys.argv[1], nrows=int(sys.argv[2]))
ProfileReport(pdf, progress_bar=False).to_json()
print(pdf.shape)
"""


def main() -> None:
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    if not DATA.exists():
        gen = run_measured("generate", GENERATE, str(ROWS), str(DATA))
        print(f"generated {DATA} in {gen.wall_s:.1f} s {gen.stdout.strip()}")
    lower = run_measured("(a) polars read_csv+describe+null_count", LOWER_BOUND, str(DATA))
    ours = run_measured("(b) read_table + six profile agents", OURS, str(DATA))
    print(ours.stdout.strip())
    rows = [lower, ours]
    ydata: Measured | None = None
    if YDATA_PY.exists():
        try:
            ydata = run_measured(
                f"(c) ydata-profiling {YDATA_ROWS:,} rows", YDATA, str(DATA), str(YDATA_ROWS),
                python=YDATA_PY,
                env={"YDATA_PROFILING_NO_ANALYTICS": "1", "MPLBACKEND": "Agg"},
            )  # fmt: skip
            rows.append(ydata)
        except RuntimeError as exc:
            print(f"ydata-profiling skipped: {exc}")
    else:
        print(f"ydata-profiling skipped: no {YDATA_PY} (see the module docstring)")
    print_table(f"profile-my-data, {ROWS:,} rows x 20 columns ({machine()})", rows)
    print(goal_line("ours / (a) wall time", ours.wall_s / lower.wall_s, 3.0, at_most=True))
    print(goal_line("ours peak RSS", ours.peak_rss_mb, 2048, at_most=True, unit=" MiB"))
    if ydata is not None:
        if YDATA_ROWS != ROWS:
            print(f"  (c) ran on {YDATA_ROWS:,} of {ROWS:,} rows: its ratio is not comparable")
        print(goal_line("(c) ydata-profiling / ours wall time", ydata.wall_s / ours.wall_s, 10.0))
        print(f"  (c) / ours peak RSS = {ratio(ydata.peak_rss_mb, ours.peak_rss_mb)}")


if __name__ == "__main__":
    sys.exit(main())
