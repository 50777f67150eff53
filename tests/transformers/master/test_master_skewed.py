"""Matching on hard data: common names cover a third of the people, fields are missing, no
identifier. Term-frequency adjusted weights keep strangers called John Smith apart."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import polars as pl

from tests.transformers.master.chain import run_chain, with_row_id

COLUMNS = ["given_name", "surname", "street_address", "city", "postcode"]


def _people(n: int = 4000, seed: int = 3) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    syl = np.array(["ka", "ro", "mi", "ten", "sha", "lo", "ber", "an", "del", "vi", "son", "ma"])
    rare = np.char.add(np.char.add(syl[rng.integers(0, 12, 3000)], syl[rng.integers(0, 12, 3000)]),
                       syl[rng.integers(0, 12, 3000)])  # fmt: skip
    n_orig = int(n / 1.2)
    common = rng.random(n_orig) < 0.35
    surname = np.where(
        common, rng.choice(["smith", "jones"], n_orig), rare[rng.integers(0, 3000, n_orig)]
    )
    given = np.where(rng.random(n_orig) < 0.35, rng.choice(["john", "mary"], n_orig),
                     np.char.add(np.char.add(syl[rng.integers(0, 12, n_orig)],
                                 syl[rng.integers(0, 12, n_orig)]), "na"))  # fmt: skip
    city_i = rng.integers(0, 20, n_orig)
    street = np.char.add(np.char.add(rng.integers(1, 400, n_orig).astype(str), " "),
                         np.char.add(rare[rng.integers(0, 3000, n_orig)], " road"))  # fmt: skip
    base = {
        "given_name": given.astype(object),
        "surname": surname.astype(object),
        "street_address": street.astype(object),
        "city": np.char.add("town", city_i.astype(str)).astype(object),
        "postcode": (1000 + city_i * 10 + rng.integers(0, 10, n_orig)).astype(str).astype(object),
    }
    src = rng.integers(0, n_orig, n - n_orig)
    dup = {k: v[src].copy() for k, v in base.items()}
    for i in np.flatnonzero(rng.random(src.size) < 0.3):  # a typo in the surname
        v = dup["surname"][i]
        dup["surname"][i] = v[:2] + v[3] + v[2] + v[4:]
    dup["street_address"][rng.random(src.size) < 0.15] = None
    dup["postcode"][rng.random(src.size) < 0.15] = None
    frame = pl.DataFrame(
        {k: pl.Series(k, np.concatenate([base[k], dup[k]]).tolist(), dtype=pl.String) for k in base}
    ).with_columns(pl.Series("entity", np.concatenate([np.arange(n_orig), src])))
    return with_row_id(frame.sample(fraction=1.0, shuffle=True, seed=seed))


def _pairs(labels: list[int]) -> set[tuple[int, int]]:
    groups: dict[int, list[int]] = {}
    for i, c in enumerate(labels):
        groups.setdefault(c, []).append(i)
    return {p for g in groups.values() for p in itertools.combinations(g, 2)}


def test_common_names_do_not_merge_strangers(tmp_path: Path) -> None:
    people = _people()
    common = people["surname"].is_in(["smith", "jones"]).mean()
    assert common is not None and common >= 0.3
    run = run_chain(
        people.drop("entity"),
        tmp_path,
        parameters={"golden-record-builder": {"match_columns": COLUMNS}},
        agents=["golden-record-builder"],
    )
    clustered = run.frames["golden-record-builder"]
    truth = _pairs(people["entity"].to_list())
    pred = _pairs(clustered["cluster_id"].to_list())
    tp = len(pred & truth)
    precision, recall = tp / len(pred), tp / len(truth)
    assert precision >= 0.99, (precision, recall)
    assert recall >= 0.9, (precision, recall)
    data = run.results["golden-record-builder"].data
    fs = data["fellegi_sunter"]
    assert {"given_name", "surname", "city"} <= set(fs["term_frequency_fields"])
    assert "city given postcode" in fs["dependent_fields"]
    assert data["match_threshold"] >= 0.85
    assert "expected precision" in data["match_threshold_source"]


def test_a_fixed_threshold_is_kept(tmp_path: Path) -> None:
    people = _people(n=600)
    run = run_chain(
        people.drop("entity"),
        tmp_path,
        parameters={"golden-record-builder": {"match_columns": COLUMNS, "match_threshold": 0.9}},
        agents=["golden-record-builder"],
    )
    data = run.results["golden-record-builder"].data
    assert data["match_threshold"] == 0.9 and data["match_threshold_source"] == "parameter"
