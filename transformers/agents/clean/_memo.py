"""Reuse of the previewer's simulation by the real agents (same input, same parameters).

The cleanse-previewer runs the real data-changing agents, in sequence, on the real frame.
When the chain then runs those agents on the very same input frame object (identity, not
equality), with the same parameters and the same column aliases, the result would be
identical: the agent takes the simulated result instead of computing it again. Nothing is
approximated; a miss (other parameters, another frame, another task, resumed run) simply
computes. Each entry is used once and then dropped; a new simulation replaces the memo.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from transformers.contract import AgentContext, AgentResult, OutputFile
from transformers.registry import AgentSpec


@dataclass
class _Entry:
    task_id: str
    input_frame: pl.DataFrame
    params: dict[str, Any]
    aliases: dict[str, str]
    result: AgentResult
    output_frame: pl.DataFrame | None


class _Memo:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    def reset(self) -> Path:
        """Forget everything; return a fresh directory for the simulation's output files."""
        with self._lock:
            self._entries.clear()
            if self._dir is not None:
                self._dir.cleanup()
            self._dir = tempfile.TemporaryDirectory(prefix="cleanse-preview-")
            return Path(self._dir.name)

    def put(
        self,
        agent_id: str,
        task_id: str,
        aliases: dict[str, str],
        frame: pl.DataFrame,
        params: Any,
        result: AgentResult,
    ) -> None:
        """Record a simulated run: its input frame, parameters, aliases BEFORE it ran."""
        with self._lock:
            self._entries[agent_id] = _Entry(
                task_id,
                frame,
                params.model_dump(mode="json"),
                dict(aliases),
                result,
                result.frame,
            )

    def take(
        self, agent_id: str, frame: pl.DataFrame, params: Any, ctx: AgentContext
    ) -> AgentResult | None:
        with self._lock:
            entry = self._entries.get(agent_id)
            if entry is None:
                return None
            if entry.task_id != ctx.task_id:
                self._entries.clear()
                return None
            if (
                entry.input_frame is not frame
                or entry.params != params.model_dump(mode="json")
                or entry.aliases != dict(ctx.column_aliases)
            ):
                return None
            del self._entries[agent_id]
        result = entry.result
        result.frame = entry.output_frame
        moved: list[OutputFile] = []
        for out in result.outputs:
            if out.path is not None and out.path.exists():
                ctx.work_dir.mkdir(parents=True, exist_ok=True)
                dest = ctx.work_dir / out.name
                shutil.copyfile(out.path, dest)
                moved.append(OutputFile(out.name, dest, out.kind, out.content_type))
            else:
                moved.append(out)
        result.outputs = moved
        result.data = {**result.data, "reused_from_preview": True}
        return result


MEMO = _Memo()


def memoised(agent_id: str, fn: Callable[..., AgentResult]) -> Callable[..., AgentResult]:
    """The agent as the registry exposes it: reuse the simulated result when it applies."""

    def run(frame: pl.DataFrame, params: Any, ctx: AgentContext) -> AgentResult:
        hit = MEMO.take(agent_id, frame, params, ctx)
        return hit if hit is not None else fn(frame, params, ctx)

    run.__name__ = f"{agent_id.replace('-', '_')}_run"
    run.__doc__ = fn.__doc__
    return run


def bind(spec: AgentSpec, fn: Callable[..., AgentResult]) -> Callable[..., AgentResult]:
    """clean-my-data's ``bind`` hook (registry): the data-changing agents, which the previewer
    simulates, reuse its simulation; the others run as they are."""
    return memoised(spec.agent_id, fn) if spec.changes_data else fn
