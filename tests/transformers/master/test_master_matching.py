"""Entity resolution accuracy and the rules matching must never break."""

from __future__ import annotations

import itertools
from pathlib import Path

import polars as pl

from tests.transformers.master.chain import run_chain, with_row_id

FEBRL_COLUMNS = [
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
]


def _pairs(frame: pl.DataFrame, key: str) -> set[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    for members in frame.group_by("cluster_id").agg(pl.col(key)).get_column(key).to_list():
        pairs.update(itertools.combinations(sorted(members), 2))
    return pairs


def test_febrl1_full_chain_default_parameters_reaches_f1_099(febrl1, tmp_path: Path) -> None:
    frame, truth = febrl1
    run = run_chain(
        frame,
        tmp_path,
        parameters={"golden-record-builder": {"match_columns": FEBRL_COLUMNS}},
    )
    clustered = run.frames["golden-record-builder"]
    predicted = _pairs(clustered, run.aliases.get("rec_id", "rec_id"))
    tp = len(predicted & truth)
    precision, recall = tp / len(predicted), tp / len(truth)
    f1 = 2 * precision * recall / (precision + recall)
    assert f1 >= 0.99, (precision, recall)
    builder = run.results["golden-record-builder"]
    # near-linear: a small fraction of all pairs is compared
    assert builder.summary_metrics["candidate_pairs"] < 30 * frame.height
    golden = run.final
    assert golden.height == clustered["cluster_id"].n_unique()
    assert "trust_score" in golden.columns and "source_count" in golden.columns
    assert not any(c.startswith("__src__") for c in golden.columns)


def test_rows_with_missing_keys_never_merge_because_of_it(tmp_path: Path) -> None:
    frame = with_row_id(
        pl.DataFrame(
            {
                "first_name": ["Ann", None, None, None, "Bob", "Bob"],
                "last_name": ["Lee", None, None, None, "Stone", "Stone"],
                "email": [None, None, None, None, "bob@x.org", "bob@x.org"],
                "phone": [None, None, None, None, None, None],
                "city": ["Oslo", "Paris", "Paris", "Rome", "Lyon", "Lyon"],
            }
        )
    )
    run = run_chain(frame, tmp_path, agents=["semantic-mapper", "golden-record-builder"])
    out = run.frames["golden-record-builder"]
    clusters = out["cluster_id"].to_list()
    # rows 1-3 share nothing but missing names/email/phone: never merged
    assert len({clusters[1], clusters[2], clusters[3]}) == 3
    assert clusters[0] not in clusters[1:4]
    assert clusters[4] == clusters[5]


def test_null_identifier_blocks_nothing(tmp_path: Path) -> None:
    frame = with_row_id(
        pl.DataFrame({"ssn": [None] * 50, "surname": [f"name{i}" for i in range(50)]})
    )
    run = run_chain(
        frame,
        tmp_path,
        parameters={
            "golden-record-builder": {
                "match_columns": ["ssn", "surname"],
                "blocking_keys": [["ssn"]],
                "sorted_neighbourhood": [],
            }
        },
        agents=["golden-record-builder"],
    )
    builder = run.results["golden-record-builder"]
    assert builder.summary_metrics["candidate_pairs"] == 0
    assert builder.summary_metrics["clusters"] == 50


def test_weighted_scoring_option_runs(febrl1, tmp_path: Path) -> None:
    frame, truth = febrl1
    run = run_chain(
        frame,
        tmp_path,
        parameters={
            "golden-record-builder": {
                "match_columns": FEBRL_COLUMNS,
                "scoring": "weighted",
                "match_threshold": 0.7,
            }
        },
        agents=["semantic-mapper", "golden-record-builder"],
    )
    predicted = _pairs(run.frames["golden-record-builder"], run.aliases.get("rec_id", "rec_id"))
    tp = len(predicted & truth)
    assert tp / len(truth) > 0.85 and tp / max(len(predicted), 1) > 0.95
