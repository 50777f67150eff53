"""Mapping, contracts, survivorship, stewardship, lineage, writeback and edge cases."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tests.transformers.master.chain import run_chain, with_row_id


def _people() -> pl.DataFrame:
    return with_row_id(
        pl.DataFrame(
            {
                "First Name": ["Ann", "Ann", "Bob", "Carl"],
                "lastname": ["Lee", "Lee", "Stone", "Marx"],
                "mail": ["ann@x.org", "ann@x.org", "bob@y.org", "not-an-email"],
                "email_address": ["a@w.org", None, "b@w.org", "c@w.org"],
                "Country": ["Australia", "AUS", "usa", "United Kingdom"],
                "sex": ["female", "F", "male", "M"],
                "updated": ["2021-01-05", "2023-06-01 10:00:00", "05/02/2022", "2020-01-01"],
                "code": ["x1", "x2", "x3", "x4"],
            }
        )
    )


def test_two_columns_never_map_to_one_canonical_name(tmp_path: Path) -> None:
    run = run_chain(_people(), tmp_path, agents=["semantic-mapper"])
    mapper = run.results["semantic-mapper"]
    canon = [m["canonical"] for m in mapper.data["mapping"].values()]
    assert len(canon) == len(set(canon))
    assert len(run.final.columns) == len(set(run.final.columns))
    assert run.aliases["First Name"] == "given_name"
    assert run.aliases["lastname"] == "surname"


def test_values_standardised_only_in_matching_domains(tmp_path: Path) -> None:
    run = run_chain(_people(), tmp_path, agents=["semantic-mapper"])
    out = run.final
    assert out["country"].to_list() == ["AU", "AU", "US", "GB"]
    assert out["gender"].to_list() == ["F", "F", "M", "M"]
    assert out["code"].to_list() == ["x1", "x2", "x3", "x4"]
    cells = [c for c in run.results["semantic-mapper"].changes if c.kind == "cell"]
    assert {(c.before, c.after) for c in cells} >= {("Australia", "AU"), ("female", "F")}


def test_run_without_contract_derives_one_and_reports(tmp_path: Path) -> None:
    run = run_chain(_people(), tmp_path, agents=["contract-enforcer"])
    result = run.results["contract-enforcer"]
    assert result.data["derived"] is True
    assert result.data["contract"]["columns"]["code"]["unique"] is True
    assert any(a.id == "contract-derived" for a in result.alerts)


def test_contract_renames_converts_and_reports_violations(tmp_path: Path) -> None:
    frame = with_row_id(
        pl.DataFrame(
            {
                "e_mail": ["a@x.org", "bad", "a@x.org"],
                "age": ["31", "x", "40"],
                "score": ["1", "2", "3"],
                "tier": ["gold", "tin", "gold"],
            }
        )
    )
    contract = {
        "renames": {"e_mail": "email"},
        "columns": {
            "email": {"type": "string", "pattern": r"[^@]+@[^@]+\.\w+", "unique": True},
            "age": {"type": "integer"},
            "score": {"type": "integer", "max": 2},
            "tier": {"allowed_values": ["gold", "silver"]},
            "id": {"required": True},
        },
    }
    run = run_chain(frame, tmp_path, agents=["contract-enforcer"], documents={"contract": contract})
    result = run.results["contract-enforcer"]
    out = run.final
    assert "email" in out.columns and run.aliases["e_mail"] == "email"
    assert out["age"].dtype == pl.String  # one value does not convert: kept, reported
    assert out["score"].dtype == pl.Int64
    assert result.summary_metrics["conversions"] == 3  # only the cells that converted
    kinds = {(i.row_id, i.issue_type) for i in result.row_level_issues}
    assert (1, "type_conversion_failed") in kinds
    assert (1, "pattern_mismatch") in kinds
    assert (2, "out_of_range") in kinds
    assert (1, "value_not_allowed") in kinds
    assert (0, "not_unique") in kinds
    assert any(i.issue_type == "missing_required_column" for i in result.issues)


def test_key_identifier_finds_primary_composite_and_natural_keys(tmp_path: Path) -> None:
    frame = with_row_id(
        pl.DataFrame(
            {
                "a": [1, 1, 2, 2],
                "b": ["x", "y", "x", "y"],
                "email": ["p@q.org", "r@q.org", "s@q.org", "t@q.org"],
            }
        )
    )
    run = run_chain(frame.drop("email"), tmp_path, agents=["key-identifier"])
    assert run.results["key-identifier"].data["composite_keys"][0]["columns"] == ["a", "b"]
    run = run_chain(frame, tmp_path, agents=["key-identifier"])
    data = run.results["key-identifier"].data
    assert data["primary_keys"] == ["email"]
    assert data["natural_keys"][0]["kind"] == "email"


def _cluster_frame() -> pl.DataFrame:
    return with_row_id(
        pl.DataFrame(
            {
                "given_name": ["Jonathan", "Jonathon", "Jonathan", "Maria", "Maria"],
                "surname": ["Smith", "Smith", "Smyth", "Lopez", "Lopez"],
                "email": ["js@x.org", None, "js@x.org", "maria@x", "ml@x.org"],
                "date_of_birth": ["1980-01-02"] * 3 + ["1975-05-05"] * 2,
                "updated_at": ["2020-01-01", "2023-03-04T10:00:00", "01/02/2021", "2019-01-01",
                               "2024-01-01 00:00:00"],
            }
        )
    )  # fmt: skip


def test_survivorship_rules_and_confidence(tmp_path: Path) -> None:
    run = run_chain(
        _cluster_frame(),
        tmp_path,
        agents=["golden-record-builder", "survivorship-resolver"],
        parameters={
            "golden-record-builder": {
                "match_columns": ["given_name", "surname", "email", "date_of_birth"],
                # five rows are too few for EM: the weighted scorer is the tiny-data option
                "scoring": "weighted",
                "match_threshold": 0.7,
            },
            "survivorship-resolver": {
                "rules": {"email": "most_recent", "surname": "most_frequent"},
                "timestamp_column": "updated_at",
            },
        },
    )
    golden = run.final.sort("cluster_id")
    assert golden.height == 2
    first = golden.row(0, named=True)
    assert first["given_name"] == "Jonathan" and first["surname"] == "Smith"
    assert first["source_count"] == 3
    assert first["email"] == "js@x.org"  # most recent non-missing (row 1 has none)
    assert first["__conf__email"] == 1.0
    second = golden.row(1, named=True)
    assert second["email"] == "ml@x.org"  # 2024 beats 2019
    assert second["__conf__email"] == 0.5
    assert sorted(second["__members__"]) == [3, 4]


def test_stewardship_lineage_and_writeback_files(tmp_path: Path) -> None:
    run = run_chain(
        _cluster_frame(),
        tmp_path,
        parameters={
            "golden-record-builder": {
                "match_columns": ["given_name", "surname", "email", "date_of_birth"],
                # five rows are too few for EM: the weighted scorer is the tiny-data option
                "scoring": "weighted",
                "match_threshold": 0.7,
            },
            "stewardship-flagger": {"required_fields": ["email"], "low_confidence_threshold": 0.9},
        },
    )
    flagger = run.results["stewardship-flagger"]
    kinds = {(i.row_id, i.column, i.issue_type) for i in flagger.row_level_issues}
    assert (3, "email", "conflict") in kinds
    lineage = run.results["lineage-tracer"]
    assert lineage.summary_metrics["lineage_rows"] == 2 * 5
    wb = run.results["master-writeback-agent"]
    names = {o.name for o in wb.outputs}
    assert names == {
        "golden_records.csv",
        "cross_reference.csv",
        "stewardship_queue.csv",
        "lineage.csv",
    }
    paths = {o.name: o.path for o in wb.outputs}
    xref = pl.read_csv(paths["cross_reference.csv"])
    assert xref.height == 5 and xref["golden_id"].to_list() == [0, 0, 0, 3, 3]
    queue = pl.read_csv(paths["stewardship_queue.csv"])
    assert queue.height == len(flagger.row_level_issues)
    lin = pl.read_csv(paths["lineage.csv"])
    assert set(lin["field"]) == {"given_name", "surname", "email", "date_of_birth", "updated_at"}
    assert "__members__" not in run.final.columns


@pytest.mark.parametrize(
    "frame",
    [
        pl.DataFrame(
            {"name": pl.Series([], dtype=pl.String), "email": pl.Series([], dtype=pl.String)}
        ),
        pl.DataFrame({"name": ["Ann"], "email": ["a@b.org"]}),
        pl.DataFrame(
            {"name": [None] * 5, "email": [None] * 5},
            schema={"name": pl.String, "email": pl.String},
        ),
        pl.DataFrame({f"c{i}": [f"v{i}_{j % 7}" for j in range(30)] for i in range(1000)}),
    ],
    ids=["empty", "one-row", "all-null", "1000-columns"],
)
def test_edge_cases_do_not_crash(frame: pl.DataFrame, tmp_path: Path) -> None:
    run = run_chain(with_row_id(frame), tmp_path)
    assert set(run.results) == {
        "key-identifier",
        "contract-enforcer",
        "semantic-mapper",
        "golden-record-builder",
        "survivorship-resolver",
        "stewardship-flagger",
        "lineage-tracer",
        "master-writeback-agent",
    }
    golden = run.final
    assert golden.height <= frame.height
    if frame.height and frame.null_count().sum_horizontal().item() == frame.height * frame.width:
        assert golden.height == frame.height  # all-null rows never merge
