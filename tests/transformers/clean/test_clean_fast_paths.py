"""The shortcuts taken for speed give exactly the results of the plain computation."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from clean_chain import run_agent, strings

from transformers.agents.clean import duplicate_resolver, type_fixer
from transformers.agents.clean._common import ChangeBuilder, change_frame, count_kind
from transformers.contract import Change, ChangeKind, Changes
from transformers.serialization import jsonable


def _builder() -> ChangeBuilder:
    b = ChangeBuilder("a")
    rid = pl.Series([0, 1, 2, 3], dtype=pl.Int64)
    b.column(ChangeKind.COLUMN_TYPE, "x", "String", "Int64", "to_int64", "all parse")
    b.cells(rid, "x", pl.Series(["1", " 2", "N/A", "4"]), pl.Series([1, 2, None, 4]), "conv")
    rows = pl.DataFrame({"__row_id__": [7, 9], "x": ["a", None]})
    b.rows(ChangeKind.ROW_REMOVED, rows, "dup", pl.Series(["one", "two"]))
    return b


EAGER = [
    Change(ChangeKind.COLUMN_TYPE, "a", "to_int64", None, "x", "String", "Int64", "all parse"),
    Change(ChangeKind.CELL, "a", "conv", 1, "x", " 2", 2, ""),
    Change(ChangeKind.CELL, "a", "conv", 2, "x", "N/A", None, ""),
    Change(ChangeKind.ROW_REMOVED, "a", "dup", 7, None, {"x": "a"}, None, "one"),
    Change(ChangeKind.ROW_REMOVED, "a", "dup", 9, None, {"x": None}, None, "two"),
]


def test_columnar_changes_read_as_the_eager_list() -> None:
    lazy = _builder().build()
    assert isinstance(lazy, Changes) and len(lazy) == 5
    assert [type(p).__name__ for p in lazy.parts] == ["list", "ChangeBlock", "ChangeBlock"]
    assert lazy == EAGER and EAGER == _builder().build()  # noqa: SIM300 (reflected ==)
    assert list(_builder().build()) == EAGER
    assert _builder().build()[1:3] == EAGER[1:3]
    assert _builder().build()[-1] == EAGER[-1] and _builder().build()[2] == EAGER[2]
    assert [c.row_id for c in _builder().build()] == [c.row_id for c in EAGER]
    assert json.dumps(jsonable(_builder().build())) == json.dumps(jsonable(EAGER))
    assert pickle.loads(pickle.dumps(_builder().build())) == EAGER
    assert copy.deepcopy(_builder().build()) == EAGER
    assert [] + _builder().build() == EAGER  # noqa: RUF005 (reflected +)
    assert _builder().build() + [] == EAGER  # noqa: RUF005
    assert _builder().build() + _builder().build() == EAGER + EAGER
    grown = _builder().build()
    grown.append(EAGER[0])
    assert grown == [*EAGER, EAGER[0]] and len(grown) == 6
    assert bool(_builder().build()) and not ChangeBuilder("a").build()
    assert count_kind(lazy, ChangeKind.CELL) == 2 and count_kind(lazy, ChangeKind.ROW_REMOVED) == 2
    frame = change_frame(_builder().build())
    assert frame.height == 5
    assert frame["row_id"].to_list() == [None, 1, 2, 7, 9]
    assert frame["after"].to_list() == ["Int64", "2", None, None, None]


def test_changes_plain_constructor() -> None:
    assert Changes(EAGER) == EAGER and len(Changes(EAGER)) == 5 and Changes() == []


def _type_fixer_frame(n: int) -> pl.DataFrame:
    rng = np.random.default_rng(3)
    nums = [f"{v:,}" for v in rng.integers(0, 10_000_000, n)]
    mostly = [str(v) if i % 20 else "x" for i, v in enumerate(rng.integers(0, 99, n))]
    late_text = [str(i) if i < n - n // 20 else "word" for i in range(n)]
    boundary = [str(i) if i < int(n * 0.9) else "w" for i in range(n)]
    zero_late = [str(i + 10) if i < n - 1 else "007" for i in range(n)]
    return strings(
        {
            "nums": nums,
            "mostly": mostly,
            "late_text": late_text,
            "boundary": boundary,
            "zero_late": zero_late,
            "name": [f"name {i}" for i in range(n)],
            "flag": ["yes" if i % 3 else "no" for i in range(n)],
            "when": ["2024-01-02" if i % 7 else "N/A" for i in range(n)],
            "blank": [None] * n,
        }
    )


@pytest.mark.parametrize("ratio", [0.9, 0.5, 0.95])
def test_type_fixer_chunked_prepass_matches_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ratio: float
) -> None:
    f = _type_fixer_frame(4000)
    one = run_agent("type-fixer", f, {"min_parse_ratio": ratio}, tmp_path / "one")
    monkeypatch.setattr(type_fixer, "PREPASS_CHUNKED_ROWS", 100)
    chunked = run_agent("type-fixer", f, {"min_parse_ratio": ratio}, tmp_path / "chunked")
    assert one.frame is not None and chunked.frame is not None
    assert one.frame.equals(chunked.frame)
    assert one.data == chunked.data
    assert change_frame(one.changes).equals(change_frame(chunked.changes))
    assert one.row_level_issues == chunked.row_level_issues


def test_duplicate_order_by_columns_equals_joined_key_order() -> None:
    reps = pl.DataFrame(
        {
            "__pos": list(range(8)),
            "a": ["ab", "ab c", None, "a", "b", "ab", "abc", None],
            "b": ["x", "y", "z", "zz", None, "", "w", "q"],
        }
    )
    for cols in (["a", "b"], ["b", "a"]):
        fast = duplicate_resolver._column_order(reps, cols, True)
        slow = duplicate_resolver._column_order(reps, cols, False)
        assert fast.to_list() == slow.to_list()


def test_duplicate_length_bound_keeps_every_fuzzy_pair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [f"C{i:05d}" for i in range(300)]
    names = [f"Person Number {i}" for i in range(300)]
    rows = {
        "id": [*ids, ids[5], ids[17], ids[40], "C9", "C99999"],
        "name": [*names, "Person Numbr 5", "Persn Number 17", "Person Number 40x", "ab", "abc"],
    }
    f = strings(rows)
    params = {"key_columns": ["id", "name"]}
    got = run_agent("duplicate-resolver", f, params, tmp_path / "bound")
    real_cpdist = duplicate_resolver.process.cpdist
    calls: list[int] = []

    def counting(a: list[str], b: list[str], **kw: object) -> object:
        calls.append(len(a))
        return real_cpdist(a, b, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(duplicate_resolver.process, "cpdist", counting)
    again = run_agent("duplicate-resolver", f, params, tmp_path / "again")
    assert change_frame(got.changes).equals(change_frame(again.changes))
    removed = {c.row_id for c in got.changes if c.kind == ChangeKind.ROW_REMOVED}
    assert removed == {300, 301, 302}
    # the 6-character ids differing in one character are never scored
    assert sum(calls) < 20


def test_duplicate_normalisation_per_distinct_value_matches_per_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = ["  Paris ", "PARIS", "N/A", None, "Saint-Étienne", "saint  étienne", "-", "", "?!"]
    f = strings({"city": values * 40, "name": [f"n{i}" for i in range(360)]})
    keys = ["city", "name"]
    direct = f.select(duplicate_resolver._normalised(f, keys))
    monkeypatch.setattr(duplicate_resolver, "DISTINCT_PATH_MIN_ROWS", 10)
    parts = duplicate_resolver._normalised(f, keys)
    assert isinstance(parts[0], pl.Series)  # the city went the per-distinct-value way
    assert f.with_columns(parts).select(direct.columns).equals(direct)


@pytest.mark.parametrize("required", [[], ["b"]])
def test_quarantine_empty_rows_found_from_one_column(tmp_path: Path, required: list[str]) -> None:
    f = strings(
        {
            "a": [None, "", "x", "N/A", None, "y"],
            "b": [" ", "v", None, "-", None, "z"],
            "c": ["null", None, None, "", "w", None],
        }
    )
    r = run_agent("quarantine-agent", f, {"required_fields": required}, tmp_path)
    got = {c.row_id: c.reason for c in r.changes}
    empty = {k for k, v in got.items() if "the row is empty" in v}
    assert empty == {0, 3}
