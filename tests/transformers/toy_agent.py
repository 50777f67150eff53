"""A toy agent for tests/transformers/test_agent_registry.py: one module, nothing else."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from transformers.contract import AgentContext, AgentResult


class ToyParams(BaseModel):
    multiplier: int = 2


def run(frame: Any, params: ToyParams, ctx: AgentContext) -> AgentResult:
    """Counts the rows and multiplies them, so the test can see its parameters arrived."""
    return AgentResult(
        agent_id="toy-counter", data={"rows_times": frame.height * params.multiplier}
    )
