"""Helpers: run the master-my-data chain the way the pipeline does: frames fed forward, results and
column aliases accumulated, each agent's parameters validated from its model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from transformers.agents.master import AGENTS
from transformers.contract import (
    ROW_ID,
    AgentContext,
    AgentResult,
    AgentStatus,
    InputInfo,
    carry_renames,
)
from transformers.registry import get_tool


@dataclass
class ChainRun:
    results: dict[str, AgentResult]
    frames: dict[str, pl.DataFrame]  # output frame after each data-changing agent
    final: pl.DataFrame
    aliases: dict[str, str]


def with_row_id(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_row_index(ROW_ID).with_columns(pl.col(ROW_ID).cast(pl.Int64))


def run_chain(
    frame: pl.DataFrame,
    work_dir: Path,
    parameters: dict[str, dict[str, Any]] | None = None,
    agents: list[str] | None = None,
    documents: dict[str, Any] | None = None,
    reference: pl.DataFrame | None = None,
) -> ChainRun:
    tool = get_tool("master-my-data")
    chosen = [a for a in tool.agent_ids if agents is None or a in agents]
    frames = {"primary": frame} | ({"reference": reference} if reference is not None else {})
    results: dict[str, AgentResult] = {}
    aliases: dict[str, str] = {}
    outs: dict[str, pl.DataFrame] = {}
    current = frame
    for agent_id in chosen:
        params = tool.agent(agent_id).params.model_validate((parameters or {}).get(agent_id, {}))
        ctx = AgentContext(
            task_id="t",
            tenant_id="tenant",
            tool_id=tool.tool_id,
            agent_id=agent_id,
            frames=frames,
            inputs={"primary": InputInfo("primary", "in.csv", "csv", rows=frame.height)},
            work_dir=work_dir / agent_id,
            results=results,
            column_aliases=aliases,
            documents=documents or {},
        )
        ctx.work_dir.mkdir(parents=True, exist_ok=True)
        result = AGENTS[agent_id](current, params, ctx)
        assert result.status == AgentStatus.SUCCESS, (agent_id, result.error)
        if result.frame is not None:
            assert ROW_ID in result.frame.columns, agent_id
            assert result.frame.columns[0] == ROW_ID, agent_id
            current = result.frame
            outs[agent_id] = result.frame
        carry_renames(aliases, result.renames)
        results[agent_id] = result
    return ChainRun(results, outs, current, aliases)
