"""Checkpoints: a chained tool interrupted after any agent resumes from its checkpoints with the
same report, change log and cleaned data as a run that was never interrupted; a columnar change
log is checkpointed as Parquet beside the result's JSON (not in it) and reads back exactly."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.transformers.report.local_run import LocalStorage, NoHooks, messy_csv
from transformers.agents.clean._common import ChangeBuilder, change_frame
from transformers.contract import ROW_ID, AgentResult, ChangeKind, Changes
from transformers.pipeline import (
    AgentCheckpoint,
    InputRef,
    PipelineJob,
    ResumeState,
    _checkpoint,
    load_checkpoint,
    run_pipeline,
)
from transformers.registry import get_tool
from transformers.report import build_report, write_report_outputs

CLEAN = get_tool("clean-my-data")


class Crash(Exception):
    """The worker dying right after an agent's checkpoint was recorded."""


class Hooks(NoHooks):
    """Records each agent's checkpoint (what the worker stores in its database); crashes after
    ``crash_after`` agents; resumes from the checkpoints it is given."""

    def __init__(
        self, crash_after: int | None = None, resume: list[AgentCheckpoint] | None = None
    ) -> None:
        self.crash_after = crash_after
        self.resume = resume or []
        self.checkpoints: list[AgentCheckpoint] = []
        self.ran: list[str] = []

    def agent_finished(self, result: Any, checkpoint: AgentCheckpoint) -> None:
        self.ran.append(result.agent_id)
        self.checkpoints.append(checkpoint)
        if self.crash_after is not None and len(self.checkpoints) == self.crash_after:
            raise Crash(result.agent_id)

    def resume_state(self, storage: Any, work_dir: Path) -> ResumeState:
        # As the worker's runner does: every finished agent's result, the last frame, aliases.
        state = ResumeState()
        for cp in self.resume:
            result, frame_path, aliases = load_checkpoint(
                storage, cp.result_key, cp.frame_key, work_dir
            )
            state.results[result.agent_id] = result
            if frame_path is not None:
                state.frame_path = frame_path
            state.column_aliases = aliases
        return state


def _job(root: Path, source: Path) -> PipelineJob:
    key = "inputs/primary/messy.csv"
    (root / key).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, root / key)
    return PipelineJob(
        task_id="task-resume",
        tenant_id="tenant",
        tool_id=CLEAN.tool_id,
        agents=list(CLEAN.agent_ids),
        parameters={},
        inputs=[InputRef("primary", key, "messy.csv")],
        key_prefix="task/",
    )


def _stable(value: Any) -> Any:
    """The report without what differs between two runs of the same task: times, and the
    note that an agent took the previewer's simulation of itself (a resumed run has none in
    memory and computes; ``_memo``), which is the same result."""
    if isinstance(value, dict):
        return {
            k: _stable(v)
            for k, v in value.items()
            if k not in {"timings", "duration_ms", "generated_at", "reused_from_preview"}
        }
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def _outputs(root: Path, outcome: Any) -> dict[str, bytes]:
    return {o["name"]: (root / o["key"]).read_bytes() for o in outcome.outputs}


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "messy.csv"
    path.write_bytes(messy_csv())
    return path


@pytest.fixture(scope="module")
def uninterrupted(
    tmp_path_factory: pytest.TempPathFactory, messy: Path
) -> tuple[dict[str, Any], dict[str, bytes]]:
    root = tmp_path_factory.mktemp("whole")
    outcome = run_pipeline(_job(root, messy), LocalStorage(root), Hooks())
    return outcome.report, _outputs(root, outcome)


@pytest.mark.parametrize("crash_after", [2, 4, 5, 7])
def test_a_clean_chain_resumed_after_any_agent_gives_the_uninterrupted_results(
    tmp_path: Path, messy: Path, uninterrupted: tuple[dict[str, Any], dict[str, bytes]],
    crash_after: int,
) -> None:  # fmt: skip
    report, files = uninterrupted
    storage = LocalStorage(tmp_path)
    first = Hooks(crash_after=crash_after)
    with pytest.raises(Crash):
        run_pipeline(_job(tmp_path, messy), storage, first)
    done = first.ran
    assert len(done) == crash_after
    # The change logs of the finished agents were checkpointed as Parquet blocks.
    stored = {p.name for p in (tmp_path / "task" / "work").glob("*.changes-*.parquet")}
    assert all(p.split(".")[0] in done for p in stored)
    if "duplicate-resolver" in done:
        assert "duplicate-resolver.changes-0.parquet" in stored

    again = Hooks(resume=first.checkpoints)
    outcome = run_pipeline(_job(tmp_path, messy), storage, again)
    # The finished agents were not run again; the others ran on the checkpointed frame.
    assert again.ran == [a for a in CLEAN.agent_ids if a not in done]
    resumed = _outputs(tmp_path, outcome)
    assert _stable(outcome.report) == _stable(report)
    assert "change_log.csv" in resumed and "report_change_log.csv" in resumed
    for name in ("change_log.csv", "report_change_log.csv", "cleaned.csv"):
        assert resumed[name] == files[name], name
    assert resumed.keys() == files.keys()


def tricky_changes(n: int, agent_id: str = "type-fixer") -> Changes:
    """A large change log through the agents' own builder: text to numbers, dates and
    booleans, removed rows of every kind of value, column changes between the blocks."""
    rid = pl.Series(range(n), dtype=pl.Int64)
    text = pl.Series([f" {i:,}" if i % 3 else "N/A" for i in range(n)])
    b = ChangeBuilder(agent_id)
    b.column(ChangeKind.COLUMN_TYPE, "amount", "String", "Float64", "to_float64", "parse")
    b.cells(rid, "amount", text, text.str.replace_all(r"[ ,]", "").cast(pl.Float64, strict=False),
            pl.Series(["placeholder_null" if i % 3 == 0 else "to_float64" for i in range(n)]),
            "converted")  # fmt: skip
    days = pl.Series([f"{1 + i % 28:02d}/01/2024" for i in range(n)])
    b.cells(rid, "day", days, days.str.to_date("%d/%m/%Y"), "to_date", "converted")
    flags = pl.Series(["yes" if i % 2 else "no" for i in range(n)])
    b.cells(rid, "flag", flags, flags == "yes", "to_boolean")
    b.column(ChangeKind.COLUMN_RENAMED, "amount", "amount", "amount_eur", "unit", "unit")
    m = n // 10
    rows = pl.DataFrame(
        {
            ROW_ID: pl.Series(range(n, n + m), dtype=pl.Int64),
            "name": [None if i % 5 == 0 else f'n "{i}",\n' for i in range(m)],
            "age": pl.Series([i % 90 for i in range(m)], dtype=pl.Int16),
            "score": [i / 7 for i in range(m)],
            "when": [dt.datetime(2020, 1, 1) + dt.timedelta(minutes=i) for i in range(m)],
            "tags": [["a", str(i)] for i in range(m)],
            "empty": pl.Series([None] * m, dtype=pl.Null),
        }
    )
    b.rows(ChangeKind.ROW_REMOVED, rows, "duplicate", pl.Series([f"dup of {i}" for i in range(m)]))
    b.rows(ChangeKind.ROW_QUARANTINED, rows.select(ROW_ID), "quarantine", "no columns")
    b.column(ChangeKind.COLUMN_REMOVED, "junk", "all missing", None, "drop_column", "100%")
    return b.build()


def _change_log(results: list[AgentResult], out: Path) -> bytes:
    report = build_report(task_id="t", tool=CLEAN, results=results, inputs={}, timings={})
    files = write_report_outputs(report, results, out, None, formats=("json",))
    path = next(f.path for f in files if f.name == "change_log.csv")
    assert path is not None
    return path.read_bytes()


def test_a_large_change_log_is_checkpointed_as_parquet_and_reads_back_exactly(
    tmp_path: Path,
) -> None:
    changes = tricky_changes(60_000)
    result = AgentResult(agent_id="type-fixer", changes=changes, data={"converted": 3})
    storage = LocalStorage(tmp_path / "store")
    work = tmp_path / "work"
    work.mkdir()
    job = PipelineJob(
        task_id="t", tenant_id="tenant", tool_id=CLEAN.tool_id, agents=["type-fixer"],
        parameters={}, inputs=[], key_prefix="task/",
    )  # fmt: skip
    cp = _checkpoint(job, storage, work, result, None, CLEAN, {})

    saved = json.loads((tmp_path / "store" / cp.result_key).read_text())
    # The JSON holds the single (column) changes only and where the blocks go among them.
    assert [c["kind"] for c in saved["result"]["changes"]] == [
        "column_type", "column_renamed", "column_removed",
    ]  # fmt: skip
    blocks = saved["change_blocks"]
    assert [(b["kind"], b["column"], b["at"]) for b in blocks] == [
        ("cell", "amount", 1), ("cell", "day", 1), ("cell", "flag", 1),
        ("row_removed", None, 2), ("row_quarantined", None, 2),
    ]  # fmt: skip
    assert (tmp_path / "store" / cp.result_key).stat().st_size < 5_000
    heights = [pl.read_parquet(tmp_path / "store" / b["frame"]).height for b in blocks]
    assert heights == [60_000, 60_000, 60_000, 6_000, 6_000]
    assert not list(work.iterdir())  # the local copies were uploaded and removed

    restored, _, _ = load_checkpoint(storage, cp.result_key, cp.frame_key, work)
    assert isinstance(restored.changes, Changes)
    assert len(restored.changes) == len(changes)
    # The same Change objects, values in their own types (dates, booleans, floats, rows).
    assert restored.changes == changes
    assert restored.changes[-3].before == changes[-3].before
    assert isinstance(restored.changes[len(changes) // 2].after, dt.date | bool | float)
    assert restored.data == result.data
    assert change_frame(restored.changes).equals(change_frame(changes))
    assert _change_log([restored], tmp_path / "a") == _change_log([result], tmp_path / "b")
