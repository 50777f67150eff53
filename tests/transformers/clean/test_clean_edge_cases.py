"""Each agent alone and the whole chain on degenerate inputs: no crash, frames stay valid."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from clean_chain import assert_log_matches, run_agent, run_chain, strings, with_row_id

from transformers.agents.clean import CHAIN
from transformers.contract import ROW_ID, AgentStatus


def _empty() -> pl.DataFrame:
    return strings({"a": [], "b": [], "c": []})


def _one_row() -> pl.DataFrame:
    return strings({"id": ["1"], "amount": ["1,234.50"], "when": ["31/01/2024"], "t": [" x "]})


def _all_null() -> pl.DataFrame:
    return strings({"a": [None] * 6, "b": [None] * 6, "c": ["N/A", "", "-", None, "?", "null"]})


def _wide() -> pl.DataFrame:
    data = {
        f"c{j}": [None if (i + j) % 7 == 0 else f"{(i * 31 + j) % 97}" for i in range(10)]
        for j in range(1000)
    }
    return strings(data)


FRAMES = {"empty": _empty, "one_row": _one_row, "all_null": _all_null, "wide": _wide}


#: The previewer is the chain's first agent, so test_chain[wide] already runs it alone on the
#: wide frame (it simulates the whole chain: running it twice would only double the time).
ALONE = [(a, s) for s in FRAMES for a in CHAIN if (a, s) != ("cleanse-previewer", "wide")]


@pytest.mark.parametrize(("agent_id", "shape"), ALONE)
def test_agent_alone(agent_id: str, shape: str, tmp_path: Path) -> None:
    frame = FRAMES[shape]()
    result = run_agent(agent_id, frame, None, tmp_path)
    assert result.status == AgentStatus.SUCCESS
    if result.frame is not None:
        assert result.frame.columns[0] == ROW_ID
        assert result.frame.height <= frame.height


@pytest.mark.parametrize("shape", list(FRAMES))
def test_chain(shape: str, tmp_path: Path) -> None:
    frame = FRAMES[shape]()
    run = run_chain(frame, tmp_path)
    assert_log_matches(run)
    d = run.results["cleanse-writeback"].data
    assert d["row_arithmetic_ok"]
    assert d["rows_in"] == frame.height


def test_all_null_columns_dropped_by_auto_and_logged(tmp_path: Path) -> None:
    nh = run_agent("null-handler", _all_null(), None, tmp_path)
    assert set(nh.data["columns_dropped"]) == {"a", "b", "c"}
    assert {c.column for c in nh.changes if c.kind == "column_removed"} == {"a", "b", "c"}
    # in the chain the all-empty rows are quarantined first (empty rows)
    run = run_chain(_all_null(), tmp_path / "chain")
    assert run.results["quarantine-agent"].summary_metrics["rows_quarantined"] == 6


def test_one_row_values(tmp_path: Path) -> None:
    run = run_chain(_one_row(), tmp_path, {"type-fixer": {"day_first": True}})
    row = run.frame.row(0, named=True)
    assert row["amount"] == 1234.5
    assert str(row["when"]) == "2024-01-31"
    assert row["t"] == "x"


def test_typed_input_frame(tmp_path: Path) -> None:
    """A typed reader (parquet) gives typed columns: nothing breaks, nothing re-parsed."""
    frame = with_row_id(
        pl.DataFrame(
            {
                "n": [1, 2, 3, None, 5, 6, 7, 8, 9, 1000],
                "x": [0.5, 0.1, None, 0.3, 0.2, 0.4, 0.6, 0.5, 0.5, 0.4],
                "b": [True, False, None, True, True, False, True, True, False, True],
                "s": ["a", "b", "a", None, "a", "b", "a", "a", "b", "a"],
            }
        )
    )
    run = run_chain(frame, tmp_path, fmt="parquet")
    assert_log_matches(run)
    assert run.frame.schema["n"] == pl.Int64
    assert run.frame["x"].null_count() == 0
