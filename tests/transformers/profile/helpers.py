"""Helpers for the profile-my-data agent tests: frames with ``__row_id__`` and a small context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from transformers.contract import ROW_ID, AgentContext, AgentResult


def with_row_id(df: pl.DataFrame, offset: int = 0) -> pl.DataFrame:
    return df.with_row_index(ROW_ID, offset=offset).with_columns(pl.col(ROW_ID).cast(pl.Int64))


def make_ctx(
    tmp_path: Path,
    frame: pl.DataFrame,
    agent_id: str = "unified-profiler",
    baseline: pl.DataFrame | None = None,
    results: dict[str, AgentResult] | None = None,
) -> AgentContext:
    frames: dict[str, Any] = {"primary": frame}
    if baseline is not None:
        frames["baseline"] = baseline
    return AgentContext(
        task_id="task-1",
        tenant_id="tenant-1",
        tool_id="profile-my-data",
        agent_id=agent_id,
        frames=frames,
        inputs={},
        work_dir=tmp_path,
        results=results if results is not None else {},
    )
