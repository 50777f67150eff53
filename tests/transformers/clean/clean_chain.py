"""Test helpers: run the clean-my-data chain the way the pipeline does; check a change log."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from transformers.agents.clean import AGENTS, CHAIN
from transformers.agents.clean._common import as_text, change_frame
from transformers.contract import (
    ROW_ID,
    AgentContext,
    AgentResult,
    AgentStatus,
    ChangeKind,
    InputInfo,
    carry_renames,
)
from transformers.registry import CLEAN


def with_row_id(frame: pl.DataFrame) -> pl.DataFrame:
    """What the reader gives: ``__row_id__`` (Int64, 0-based) first, then the columns."""
    return frame.with_row_index(ROW_ID).with_columns(pl.col(ROW_ID).cast(pl.Int64))


def strings(data: dict[str, list[Any]]) -> pl.DataFrame:
    return with_row_id(pl.DataFrame(data, schema=dict.fromkeys(data, pl.String)))


@dataclass
class ChainRun:
    original: pl.DataFrame
    frame: pl.DataFrame
    results: dict[str, AgentResult]
    aliases: dict[str, str] = field(default_factory=dict)
    work_dir: Path | None = None

    def all_changes(self) -> pl.DataFrame:
        parts = [change_frame(r.changes) for r in self.results.values() if r.changes]
        return pl.concat(parts) if parts else change_frame([])


def make_ctx(
    agent_id: str,
    original: pl.DataFrame,
    work_dir: Path,
    results: dict[str, AgentResult] | None = None,
    aliases: dict[str, str] | None = None,
    fmt: str = "csv",
) -> AgentContext:
    d = work_dir / agent_id
    d.mkdir(parents=True, exist_ok=True)
    return AgentContext(
        task_id="t-1",
        tenant_id="tenant-1",
        tool_id="clean-my-data",
        agent_id=agent_id,
        frames={"primary": original},
        inputs={
            "primary": InputInfo(
                "primary", f"in.{fmt}", fmt, rows=original.height, columns=original.width - 1
            )
        },
        work_dir=d,
        results=results if results is not None else {},
        column_aliases=aliases if aliases is not None else {},
    )


def run_agent(
    agent_id: str, frame: pl.DataFrame, params: dict[str, Any] | None, work_dir: Path
) -> AgentResult:
    model = CLEAN.agent(agent_id).params.model_validate(params or {})
    return AGENTS[agent_id](frame, model, make_ctx(agent_id, frame, work_dir))


def run_chain(
    frame: pl.DataFrame,
    work_dir: Path,
    parameters: dict[str, dict[str, Any]] | None = None,
    agents: tuple[str, ...] = CHAIN,
    fmt: str = "csv",
) -> ChainRun:
    """Each agent in order; a data-changing agent's frame feeds the next; renames carried."""
    parameters = parameters or {}
    results: dict[str, AgentResult] = {}
    aliases: dict[str, str] = {}
    current = frame
    for agent_id in agents:
        model = CLEAN.agent(agent_id).params.model_validate(parameters.get(agent_id, {}))
        ctx = make_ctx(agent_id, frame, work_dir, results, aliases, fmt)
        result = AGENTS[agent_id](current, model, ctx)
        result.agent_id = agent_id
        assert result.status == AgentStatus.SUCCESS, (agent_id, result.error)
        if result.frame is not None:
            assert result.frame.columns[0] == ROW_ID, agent_id
            assert result.frame.schema[ROW_ID] == pl.Int64, agent_id
            current = result.frame
        carry_renames(aliases, result.renames)
        results[agent_id] = result
    return ChainRun(frame, current, results, aliases, work_dir)


def assert_log_matches(run: ChainRun) -> None:
    """Cell by cell, by row id: every difference between input and output is in the change log,
    and every log entry is a real difference."""
    log = run.all_changes()
    original, final = run.original, run.frame
    # every entry is a real difference
    for row in log.iter_rows(named=True):
        if row["kind"] == ChangeKind.CELL.value:
            assert row["before"] != row["after"], row
    # rows
    gone = set(original[ROW_ID].to_list()) - set(final[ROW_ID].to_list())
    row_log = log.filter(
        pl.col("kind").is_in([ChangeKind.ROW_REMOVED.value, ChangeKind.ROW_QUARANTINED.value])
    )
    logged = row_log["row_id"].to_list()
    assert len(logged) == len(set(logged)), "a row was removed twice"
    assert gone == set(logged)
    assert final[ROW_ID].to_list() == sorted(final[ROW_ID].to_list()), "row order changed"
    # columns
    current_name = {c: run.aliases.get(c, c) for c in original.columns}
    removed_cols = {
        c for c in original.columns if c != ROW_ID and current_name[c] not in final.columns
    }
    logged_cols = set(
        log.filter(pl.col("kind") == ChangeKind.COLUMN_REMOVED.value)["column"].to_list()
    )
    assert removed_cols == {c for c in logged_cols if c in original.columns} | (
        removed_cols & {k for k, v in current_name.items() if v in logged_cols}
    )
    # cells
    cells: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    renamed_back = {v: k for k, v in current_name.items()}
    for row in log.filter(pl.col("kind") == ChangeKind.CELL.value).iter_rows(named=True):
        col = renamed_back.get(row["column"], row["column"])
        cells[(row["row_id"], col)].append(row)
    orig = original.filter(pl.col(ROW_ID).is_in(final[ROW_ID].implode()))
    assert orig[ROW_ID].to_list() == final[ROW_ID].to_list()
    ids = orig[ROW_ID].to_list()
    for c in original.columns:
        if c == ROW_ID or c in removed_cols:
            continue
        before = as_text(orig[c]).to_list()
        after = as_text(final[current_name[c]]).to_list()
        for rid, b, a in zip(ids, before, after, strict=True):
            entries = cells.get((rid, c), [])
            if b == a:
                assert not entries, (rid, c, b, entries)
            else:
                assert entries, f"row {rid} column {c}: {b!r} -> {a!r} is not in the log"
                assert entries[0]["before"] == b, (rid, c, entries)
                assert entries[-1]["after"] == a, (rid, c, entries)
