"""Acceptance: a dirty data set with known defects, cleaned by the whole chain."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from clean_chain import ChainRun, assert_log_matches, run_chain
from clean_data import PARAMS, Truth, dirty_dataset

from transformers.agents.clean import CHAIN
from transformers.agents.clean._common import as_text
from transformers.contract import ROW_ID, ChangeKind


@pytest.fixture(scope="module")
def cleaned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Truth, ChainRun]:
    truth = dirty_dataset()
    params = {**PARAMS, "cleanse-previewer": {"agent_parameters": PARAMS}}
    run = run_chain(truth.frame, tmp_path_factory.mktemp("chain"), params)
    return truth, run


def _by_id(run: ChainRun) -> dict[int, dict]:
    return {r[ROW_ID]: r for r in run.frame.iter_rows(named=True)}


def test_change_log_is_exactly_the_differences(cleaned: tuple[Truth, ChainRun]) -> None:
    _, run = cleaned
    assert_log_matches(run)


def test_constraint_breakers_are_quarantined_with_reasons(
    cleaned: tuple[Truth, ChainRun],
) -> None:
    truth, run = cleaned
    q = run.results["quarantine-agent"]
    entries = {c.row_id: c.reason for c in q.changes if c.kind == ChangeKind.ROW_QUARANTINED}
    assert set(entries) == set(truth.quarantine)
    for rid, word in truth.quarantine.items():
        assert word in entries[rid], (rid, entries[rid])
    out = [o for o in q.outputs if o.kind == "quarantine"]
    assert len(out) == 1 and out[0].path is not None and out[0].name == "quarantine.csv"
    qcsv = pl.read_csv(out[0].path, infer_schema_length=0)
    assert sorted(int(x) for x in qcsv[ROW_ID].to_list()) == sorted(truth.quarantine)
    assert qcsv["quarantine_reason"].null_count() == 0
    # ordinary text is never quarantined
    assert not truth.ordinary & set(entries)
    kept = _by_id(run)
    for rid in truth.ordinary:
        assert rid in kept


def test_duplicates_removed_keeping_the_original(cleaned: tuple[Truth, ChainRun]) -> None:
    truth, run = cleaned
    d = run.results["duplicate-resolver"]
    removed = {c.row_id: c.reason for c in d.changes if c.kind == ChangeKind.ROW_REMOVED}
    assert set(removed) == set(truth.duplicates)
    for rid, kept in truth.duplicates.items():
        assert f"row {kept}" in removed[rid]
    kinds = d.summary_metrics
    assert kinds["exact_duplicates"] == 2
    assert kinds["normalized_duplicates"] == 2
    assert kinds["fuzzy_duplicates"] == 2


def test_defects_fixed(cleaned: tuple[Truth, ChainRun]) -> None:
    truth, run = cleaned
    out = run.frame
    rows = _by_id(run)
    assert out.schema["amount"] == pl.Float64
    assert out.schema["signup_date"] == pl.Date
    assert out.schema["age"] == pl.Int64
    assert out["amount"].null_count() == 0
    assert out["city"].null_count() == 0
    for rid, value in truth.thousands.items():
        assert rows[rid]["amount"] == pytest.approx(value)
    for rid, d in truth.dates.items():
        assert rows[rid]["signup_date"] == d
    upper = run.results["outlier-remover"].data["columns"]["amount"]["upper"]
    for rid in truth.outliers:
        assert rows[rid]["amount"] == pytest.approx(upper)
    for rid, city in truth.spaced.items():
        assert rows[rid]["city"] == city
    for (rid, col), _ in truth.placeholders.items():
        assert rows[rid][col] is not None
    # zip codes with leading zeros stay text
    assert out.schema["zip"] == pl.String


def test_clean_cells_untouched_and_case_preserved(cleaned: tuple[Truth, ChainRun]) -> None:
    truth, run = cleaned
    orig = truth.frame.filter(pl.col(ROW_ID).is_in(sorted(truth.clean_rows)))
    out = run.frame.filter(pl.col(ROW_ID).is_in(sorted(truth.clean_rows)))
    assert orig.height == out.height == len(truth.clean_rows)
    for c in orig.columns:
        assert as_text(orig[c]).to_list() == as_text(out[c]).to_list(), c
    # emails and ids are never lower-cased by default
    emails = run.frame["email"].to_list()
    assert all("@Example.COM" in e for e in emails)


def test_unparseable_value_kept_and_reported(cleaned: tuple[Truth, ChainRun]) -> None:
    truth, run = cleaned
    rid, value = truth.unparseable
    assert _by_id(run)[rid]["quantity"] == value
    issues = run.results["type-fixer"].row_level_issues
    assert [(i.row_id, i.value) for i in issues if i.column == "quantity"] == [(rid, value)]


def test_row_arithmetic_and_outputs(cleaned: tuple[Truth, ChainRun]) -> None:
    truth, run = cleaned
    wb = run.results["cleanse-writeback"]
    d = wb.data
    assert d["rows_in"] == truth.frame.height
    assert (
        d["rows_in"]
        == d["rows_out"]
        + d["rows_quarantined"]
        + d["rows_removed_duplicates"]
        + d["rows_removed_other"]
    )
    assert d["rows_quarantined"] == len(truth.quarantine)
    assert d["rows_removed_duplicates"] == len(truth.duplicates)
    assert d["row_arithmetic_ok"] and d["row_ids_reconciled"]
    assert not [a for a in wb.alerts if a.severity == "critical"]
    kinds = {o.kind for o in wb.outputs}
    assert kinds == {"data", "changes"}
    files = {o.name: o.path for o in wb.outputs}
    assert set(files) == {"cleaned.csv", "change_log.csv"}
    log_path = files["change_log.csv"]
    assert isinstance(log_path, Path)
    log = pl.read_csv(log_path, infer_schema_length=0)
    assert log.height == sum(len(r.changes) for r in run.results.values())
    cleaned_csv = pl.read_csv(files["cleaned.csv"], infer_schema_length=0)
    assert cleaned_csv.height == run.frame.height
    assert ROW_ID not in cleaned_csv.columns


def test_preview_matches_the_real_run(cleaned: tuple[Truth, ChainRun]) -> None:
    _, run = cleaned
    prev = run.results["cleanse-previewer"]
    assert prev.frame is None and not prev.changes
    for agent_id, info in prev.data["agents"].items():
        real = run.results[agent_id]
        removed = sorted(
            c.row_id
            for c in real.changes
            if c.kind in (ChangeKind.ROW_REMOVED, ChangeKind.ROW_QUARANTINED)
        )
        previewed = sorted(i for ids in info["removed_row_ids"].values() for i in ids)
        assert previewed == removed, agent_id
        cells = sum(1 for c in real.changes if c.kind == ChangeKind.CELL)
        assert info["cells_changed"] == cells, agent_id


def test_parquet_input_written_as_parquet_plus_csv(tmp_path: Path) -> None:
    truth = dirty_dataset(n_clean=50)
    run = run_chain(truth.frame, tmp_path, PARAMS, fmt="parquet")
    files = {o.name: o.path for o in run.results["cleanse-writeback"].outputs}
    assert {"cleaned.parquet", "cleaned.csv", "change_log.csv"} <= set(files)
    back = pl.read_parquet(files["cleaned.parquet"])  # type: ignore[arg-type]
    assert back.schema["signup_date"] == pl.Date
    assert back.height == run.frame.height
    assert isinstance(back["signup_date"][0], dt.date)


def test_reusing_the_preview_changes_nothing(tmp_path: Path) -> None:
    """With the previewer given the real parameters, the agents reuse its simulation; the
    result must be exactly the one computed without the previewer."""
    truth = dirty_dataset(n_clean=60)
    with_preview = run_chain(
        truth.frame, tmp_path / "a", {**PARAMS, "cleanse-previewer": {"agent_parameters": PARAMS}}
    )
    without = run_chain(
        truth.frame, tmp_path / "b", PARAMS, agents=tuple(a for a in CHAIN if a != CHAIN[0])
    )
    reused = [a for a, r in with_preview.results.items() if r.data.get("reused_from_preview")]
    assert reused == list(CHAIN[1:-1])
    assert with_preview.frame.equals(without.frame)
    assert with_preview.all_changes().equals(without.all_changes())
    q = with_preview.results["quarantine-agent"].outputs[0]
    assert q.path is not None and q.path.exists() and str(tmp_path / "a") in str(q.path)
    # the previewer with other (default) parameters: nothing reused where inputs differ
    other = run_chain(truth.frame, tmp_path / "c", PARAMS)
    assert not other.results["quarantine-agent"].data.get("reused_from_preview")
    assert other.frame.equals(without.frame)
