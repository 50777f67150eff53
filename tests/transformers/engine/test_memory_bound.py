"""The out-of-core path keeps a task inside its memory budget on a file that does not fit.

A generated CSV whose in-memory analysis needs at least four times ``WORKER_MEMORY_LIMIT_MB``
(measured here, not assumed: the same file through the in-memory reader and profiler in a
child process) runs through the real pipeline, all six profile agents with a baseline, in a
fresh child process with that budget. The child's own ``VmHWM`` stays within the budget, the
input went out of core, and the statistics equal polars' over the whole file.

Only profile-my-data analyses out of core so far (see docs/out-of-core.md); clean-my-data and
master-my-data load their inputs into memory.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[3]
BUDGET_MB = 768
ROWS = 600_000
NARROW = 90

PIPELINE = r"""
import json, sys
from pathlib import Path
from tests.transformers.report.local_run import LocalStorage, NoHooks
from transformers.engine.budget import Budget
from transformers.engine.peak import peak_rss_mb
from transformers.pipeline import InputRef, PipelineJob, run_pipeline
from transformers.registry import get_tool
root, budget_mb = Path(sys.argv[1]), int(sys.argv[2])
tool = get_tool("profile-my-data")
job = PipelineJob(
    "bound", "tenant", tool.tool_id, list(tool.agent_ids), {},
    [InputRef("primary", "in/primary.csv", "primary.csv"),
     InputRef("baseline", "in/baseline.csv", "baseline.csv")],
    budget=Budget(budget_mb, root / "spill"),
)
outcome = run_pipeline(job, LocalStorage(root), NoHooks())
profiler = next(a for a in outcome.report["agents"] if a["agent_id"] == "unified-profiler")
print(json.dumps({
    "status": outcome.status,
    "peak_mb": peak_rss_mb(),
    "rows": outcome.rows_processed,
    "columns": profiler["data"]["columns"],
    "agents": {a["agent_id"]: a["status"] for a in outcome.report["agents"]},
    "inputs": outcome.report.get("inputs"),
}, default=str))
"""


def _write(path: Path, seed: int) -> pl.DataFrame:
    """Many narrow columns: small in the file, large as an in-memory frame (each one-digit cell
    becomes an 8-byte value, and a 16-byte string view while it is parsed)."""
    rng = np.random.default_rng(seed)
    n = ROWS
    ids = np.arange(n)
    columns: dict[str, object] = {
        "price": np.round(rng.lognormal(3, 1, n), 2),
        "score": np.where(rng.random(n) < 0.02, np.nan, np.round(rng.normal(70, 12, n), 3)),
        "customer_id": ids + 100_000,
        "country": rng.choice(["DE", "FR", "US", "GB", "IN", "BR"], n),
        "email": np.char.add(np.char.add("user", ids.astype(str)), "@example.com"),
        "signup_date": (np.datetime64("2015-01-01") + rng.integers(0, 3650, n)).astype(str),
    }
    for i in range(NARROW):
        columns[f"q{i}"] = rng.integers(0, 10, n)
    frame = pl.DataFrame(columns).with_columns(pl.col("score").fill_nan(None))
    frame.write_csv(path)
    return frame


def _same(a: object, b: object) -> bool:
    """Equal, floats to 1e-9 (the two paths sum in different orders), recursively."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _child(code: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1]


@pytest.mark.timeout(1200)
def test_profile_of_a_file_four_times_the_budget_stays_within_it(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    primary = _write(tmp_path / "in" / "primary.csv", 1)
    _write(tmp_path / "in" / "baseline.csv", 2)

    # The same task with a budget it fits in: everything in memory, as before this path existed.
    in_memory = json.loads(_child(PIPELINE, str(tmp_path), str(1_000_000)))
    assert in_memory["status"] == "COMPLETED"
    assert not any(i.get("out_of_core") for i in in_memory["inputs"].values())
    need_mb = in_memory["peak_mb"]
    assert need_mb >= 4 * BUDGET_MB, f"the file is too small for this test: {need_mb} MiB"

    got = json.loads(_child(PIPELINE, str(tmp_path), str(BUDGET_MB)))
    assert all(i.get("out_of_core") for i in got["inputs"].values()), got["inputs"]
    assert got["status"] == "COMPLETED"
    assert set(got["agents"].values()) == {"success"}, got["agents"]
    assert got["peak_mb"] <= BUDGET_MB, f"peak {got['peak_mb']} MiB over {BUDGET_MB} MiB"
    assert got["rows"] == ROWS

    cols = got["columns"]
    price = primary.get_column("price")
    assert cols["price"]["count"] == ROWS
    assert cols["price"]["mean"] == pytest.approx(price.mean(), rel=1e-9)
    assert cols["price"]["std"] == pytest.approx(price.std(), rel=1e-9)
    assert cols["price"]["median"] == pytest.approx(price.median(), rel=1e-9)
    assert cols["score"]["missing_count"] == primary.get_column("score").null_count()
    assert cols["email"]["distinct_count"] == ROWS
    assert cols["country"]["distinct_count"] == 6
    top = primary.get_column("country").value_counts(sort=True).row(0)
    assert (
        cols["country"]["top_values"][0]["value"],
        cols["country"]["top_values"][0]["count"],
    ) == top
    assert cols["signup_date"]["kind"] == "temporal"
    # Both paths report the same statistics (the out-of-core one without loading the file).
    for name, prof in in_memory["columns"].items():
        diff = {
            k: (v, cols[name].get(k)) for k, v in prof.items() if not _same(cols[name].get(k), v)
        }
        assert not diff, (name, diff)
