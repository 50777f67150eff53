"""What checkpointing a clean agent's change log costs: time and bytes stored.

Run with ``.venv/bin/python -m tests.transformers.checkpoint_times [rows]`` (default 200,000).
type-fixer converts a column of ``"1,234"``-style numbers (one cell change per row) and
field-standardization trims a text column (another), then each result is checkpointed
(``pipeline._checkpoint``, storage in a local directory) and read back (``load_checkpoint``).
Prints, per agent, the changes, the checkpoint's time and bytes (the result's JSON and any
Parquet beside it) and the time to load it. Not a test: nothing is asserted.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from tests.transformers.clean.clean_chain import run_agent, strings
from tests.transformers.report.local_run import LocalStorage
from transformers.pipeline import PipelineJob, _checkpoint, load_checkpoint
from transformers.registry import get_tool


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    frame = strings(
        {
            "amount": [f"{i * 37 % 9_999_999:,}" for i in range(n)],
            "name": [f"  name {i} " for i in range(n)],
        }
    )
    tool = get_tool("clean-my-data")
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        for agent_id, params in (
            ("type-fixer", {}),
            ("field-standardization", {}),
        ):
            result = run_agent(agent_id, frame, params, root / "agents")
            job = PipelineJob(
                task_id="t", tenant_id="t", tool_id=tool.tool_id, agents=[agent_id],
                parameters={}, inputs=[], key_prefix=f"{agent_id}/",
            )  # fmt: skip
            work = root / "work"
            work.mkdir(exist_ok=True)
            store = LocalStorage(root / "store")
            t = time.perf_counter()
            cp = _checkpoint(job, store, work, result, pl.DataFrame(), tool, {})
            saved = time.perf_counter() - t
            files = list((root / "store" / agent_id).rglob("*"))
            stored = sum(f.stat().st_size for f in files if f.is_file())
            json_bytes = (root / "store" / cp.result_key).stat().st_size
            t = time.perf_counter()
            back, _, _ = load_checkpoint(store, cp.result_key, None, work)
            loaded = time.perf_counter() - t
            assert len(back.changes) == len(result.changes)
            print(
                f"{agent_id}: {len(result.changes):,} changes; checkpoint {saved:.2f} s, "
                f"{stored / 1e6:.1f} MB stored ({json_bytes / 1e6:.2f} MB JSON); "
                f"load {loaded:.2f} s"
            )


if __name__ == "__main__":
    main()
