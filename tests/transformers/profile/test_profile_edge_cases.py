"""Every profile agent on edge-case inputs: a clear result, never a crash."""

from __future__ import annotations

import json

import polars as pl
import pytest

from tests.transformers.profile.helpers import make_ctx, with_row_id
from transformers.agents.profile import AGENTS
from transformers.contract import AgentStatus
from transformers.registry import get_tool
from transformers.serialization import result_to_dict

CASES = {
    "empty": pl.DataFrame(
        {"a": pl.Series([], dtype=pl.String), "b": pl.Series([], dtype=pl.Int64)}
    ),
    "single-column": pl.DataFrame({"only": [1.0, 2.0, 3.0, 4.0]}),
    "all-null": pl.DataFrame(
        {
            "n": [None, None, None],
            "s": pl.Series([None] * 3, dtype=pl.String),
            "f": [None, 1.0, None],
        }
    ),
    "one-row": pl.DataFrame({"a": [1], "b": ["x@y.com"], "c": [None]}),
    "1000-columns": pl.DataFrame({f"col_{i}": [i, i * 2, None, i] for i in range(1000)}),
    "non-ascii": pl.DataFrame(
        {"Größe": [1.5, 2.5], "名前": ["山田", "田中"], "émail": ["é@x.fr", None]}
    ),
    "duplicate-looking": pl.DataFrame(
        {"name": ["a", "b"], "name_1": ["a", "c"], "Name": ["x", "y"]}
    ),
    "mixed-types": pl.DataFrame({"m": ["1", "two", "3.5", "2020-01-01", None, " ", "7"]}),
}

PROFILE = get_tool("profile-my-data")


def test_registered() -> None:
    assert set(AGENTS) == set(PROFILE.agent_ids)


@pytest.mark.parametrize("case", list(CASES))
def test_all_agents(case: str, tmp_path) -> None:
    frame = with_row_id(CASES[case])
    ctx = make_ctx(tmp_path, frame, baseline=frame)
    for agent_id in PROFILE.agent_ids:
        params = PROFILE.agent(agent_id).params()
        if agent_id == "test-coverage-agent":
            first = frame.columns[1] if frame.width > 1 else "missing"
            params = PROFILE.agent(agent_id).params.model_validate(
                {"unique_columns": [first], "not_null_columns": [first, "ghost"]}
            )
        ctx.agent_id = agent_id
        result = AGENTS[agent_id](frame, params, ctx)
        assert result.status == AgentStatus.SUCCESS, (agent_id, result.error)
        json.dumps(result_to_dict(result))
        ctx.results[agent_id] = result
