"""Each clean-my-data agent's rules, one at a time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from clean_chain import assert_log_matches, make_ctx, run_agent, run_chain, strings, with_row_id

from transformers.agents.clean import AGENTS
from transformers.agents.clean._common import detect_day_first
from transformers.agents.clean.quarantine import INJECTION_PATTERNS
from transformers.contract import ROW_ID, ChangeKind
from transformers.errors import InvalidParametersError
from transformers.params.clean import OutlierRemoverParams, QuarantineParams

ORDINARY = [
    "please update my address",
    "I'd like to drop by",
    "Select the best option from the list",
    "Delete from my list; update me later",
    "Tom & Jerry's -- the classic",
    "He said 'or maybe' = fine",
    "-5",
    "+1 555 0100",
    "@home (sometimes)",
    "Union selection committee",
]
MALICIOUS = [
    "' OR 1=1 --",
    "admin' or 'a'='a",
    "x'; DROP TABLE users; --",
    "1 UNION SELECT password FROM users",
    "<script>alert(1)</script>",
    "javascript:alert(1)",
    "<img src=x onerror=alert(1)>",
    '=HYPERLINK("http://evil","x")',
    "=1+2",
    "@SUM(A1:A9)",
    "=cmd|' /C calc'!A0",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_injection_ignores_ordinary_text(text: str) -> None:
    s = pl.Series([text])
    assert not any(s.str.contains(p).any() for p in INJECTION_PATTERNS.values()), text


@pytest.mark.parametrize("text", MALICIOUS)
def test_injection_catches_attacks(text: str) -> None:
    s = pl.Series([text])
    assert any(s.str.contains(p).any() for p in INJECTION_PATTERNS.values()), text


def test_quarantine_rules_and_file(tmp_path: Path) -> None:
    f = strings(
        {
            "id": ["1", "2", "3", "4", "5", "6"],
            "code": ["AB1", "ab1", "AB2", "AB3", None, "AB9"],
            "qty": ["5", "1,200", "x", "7", "N/A", "3"],
            "d": ["2024-01-05", "05/01/2024", "junk", "2024-02-30", "", "Jan 5, 2024"],
        }
    )
    params = {
        "required_fields": ["code"],
        "expected_schema": {"d": "date"},
        "range_constraints": {"qty": {"min": 0, "max": 1000}},
        "format_constraints": {"code": "[A-Z]{2}\\d"},
    }
    r = run_agent("quarantine-agent", f, params, tmp_path)
    reasons = {c.row_id: c.reason for c in r.changes}
    assert set(reasons) == {1, 2, 3, 4}
    assert "does not match" in reasons[1] and "above 1000" in reasons[1]
    assert "not a number" in reasons[2] and "not a valid date" in reasons[2]
    assert "not a valid date" in reasons[3]
    assert "required field 'code'" in reasons[4]
    assert r.frame is not None and r.frame[ROW_ID].to_list() == [0, 5]
    q = pl.read_csv(r.outputs[0].path, infer_schema_length=0)  # type: ignore[arg-type]
    assert q["code"].to_list() == ["ab1", "AB2", "AB3", None]


def test_quarantine_unknown_column_is_named(tmp_path: Path) -> None:
    f = strings({"a": ["1"]})
    ctx = make_ctx("quarantine-agent", f, tmp_path)
    with pytest.raises(InvalidParametersError, match="'missing_col'"):
        AGENTS["quarantine-agent"](f, QuarantineParams(required_fields=["missing_col"]), ctx)


def test_type_fixer_numbers_booleans_dates(tmp_path: Path) -> None:
    f = strings(
        {
            "money": ["$1,234.50", "12", " 7.25 ", "N/A", "-"],
            "flag": ["yes", "No", "TRUE", "f", None],
            "us": ["01/31/2024", "02/01/2024", "12/25/2023", "03/04/2024", None],
            "zip": ["01234", "98765", "00001", "12345", "55555"],
            "mixed": ["1", "2", "3", "4", "five"],
        }
    )
    r = run_agent("type-fixer", f, {"min_parse_ratio": 0.8}, tmp_path)
    out = r.frame
    assert out is not None
    assert out["money"].to_list() == [1234.5, 12.0, 7.25, None, None]
    assert out["flag"].to_list() == [True, False, True, False, None]
    assert out["us"].to_list()[0] == dt.date(2024, 1, 31)  # detected: month first
    assert out["us"].to_list()[3] == dt.date(2024, 3, 4)
    assert out.schema["zip"] == pl.String  # leading zeros: a code
    assert out["mixed"].to_list() == ["1", "2", "3", "4", "five"]  # kept, reported
    assert [(i.row_id, i.value) for i in r.row_level_issues] == [(4, "five")]
    rules = {(c.row_id, c.column): c.rule for c in r.changes if c.kind == ChangeKind.CELL}
    assert rules[(3, "money")] == "placeholder_null"
    assert rules[(0, "money")] == "to_float64"
    assert rules[(1, "money")] == "to_float64"  # "12" -> 12.0: the text changed, logged


def test_day_first_detection() -> None:
    assert detect_day_first(pl.Series(["31/01/2024", "01/02/2024"])) is True
    assert detect_day_first(pl.Series(["01/31/2024", "01/02/2024"])) is False
    assert detect_day_first(pl.Series(["01/02/2024"])) is None


def test_standardization_preserves_case_and_maps(tmp_path: Path) -> None:
    f = strings(
        {
            "email": ["  John.Doe@Mail.COM ", "a@b.io"],
            "customer_id": ["AbC-1", "x"],
            "status": ["  actv ", "Inactive"],
            "weight": ["500 g", "1.5kg"],
            "when": ["31/01/2024", "oops"],
        }
    )
    params = {
        "synonyms": {"status": {"actv": "Active"}},
        "units": {"weight": {"to": "kg", "factors": {"g": 0.001}, "rename_to": "weight_kg"}},
        "date_min_parse_ratio": 0.5,
    }
    r = run_agent("field-standardization", f, params, tmp_path)
    out = r.frame
    assert out is not None
    assert out["email"].to_list() == ["John.Doe@Mail.COM", "a@b.io"]
    assert out["customer_id"].to_list() == ["AbC-1", "x"]
    assert out["status"].to_list() == ["Active", "Inactive"]
    assert out["weight_kg"].to_list() == [0.5, 1.5]
    assert r.renames == {"weight": "weight_kg"}
    assert out["when"].to_list() == ["2024-01-31", "oops"]
    lower = run_agent("field-standardization", f, {"case_strategy": "lower"}, tmp_path / "l")
    assert lower.frame is not None
    assert lower.frame["email"][0] == "John.Doe@Mail.COM"  # e-mails kept unless named
    assert lower.frame["status"][1] == "inactive"


def test_rename_carries_forward_and_removed_column_fails(tmp_path: Path) -> None:
    f = strings({"w": ["500 g", "2 kg", "1 kg", "3 kg", "900 g", "1 kg"], "n": list("abcdef")})
    params = {
        "field-standardization": {
            "units": {"w": {"to": "kg", "factors": {"g": 0.001}, "rename_to": "w_kg"}}
        },
        "outlier-remover": {"columns": ["w"], "include_ids_and_years": True},
    }
    run = run_chain(f, tmp_path, params)
    assert run.aliases == {"w": "w_kg"}
    assert run.results["outlier-remover"].data["columns"].get("w_kg") is not None
    assert_log_matches(run)
    g = strings({"gone": [None] * 5, "k": list("abcde")})
    nh = run_agent("null-handler", g, None, tmp_path / "nh")
    assert nh.frame is not None and "gone" not in nh.frame.columns
    ctx = make_ctx("outlier-remover", nh.frame, tmp_path / "o")
    with pytest.raises(InvalidParametersError, match="'gone'"):
        AGENTS["outlier-remover"](nh.frame, OutlierRemoverParams(columns=["gone"]), ctx)


def _people() -> pl.DataFrame:
    return strings(
        {
            "id": ["1", "2", "3", "4", "5", "6"],
            "name": ["Anna Smith", "anna  smith", "Bob Stone", "Anna Smyth", "Bob Stone", "Zed"],
            "city": ["Paris", "PARIS", None, "Paris", "Lyon", "Rome"],
            "phone": [None, "555-0100", "555-0199", None, "555-0199", "1"],
        }
    )


@pytest.mark.parametrize(
    ("strategy", "kept", "removed"),
    [
        ("keep_first", [0, 2, 4, 5], {1: 0, 3: 0}),
        ("keep_most_complete", [1, 2, 4, 5], {0: 1, 3: 1}),
        ("merge", [0, 2, 4, 5], {1: 0, 3: 0}),
    ],
)
def test_duplicate_strategies(
    strategy: str, kept: list[int], removed: dict[int, int], tmp_path: Path
) -> None:
    params = {"key_columns": ["name", "city"], "strategy": strategy, "fuzzy_threshold": 85}
    r = run_agent("duplicate-resolver", _people(), params, tmp_path)
    assert r.frame is not None
    assert r.frame[ROW_ID].to_list() == kept
    got = {c.row_id: c.reason for c in r.changes if c.kind == ChangeKind.ROW_REMOVED}
    assert set(got) == set(removed)
    for rid, keep in removed.items():
        assert f"row {keep}" in got[rid]
    if strategy == "merge":
        assert r.frame.filter(pl.col(ROW_ID) == 0)["phone"][0] == "555-0100"
        merged = [c for c in r.changes if c.kind == ChangeKind.CELL]
        assert [(c.row_id, c.column, c.before, c.after) for c in merged] == [
            (0, "phone", None, "555-0100")
        ]


def test_fuzzy_blocking_scales(tmp_path: Path) -> None:
    import random

    rnd = random.Random(3)
    letters = "abcdefghijklmnopqrstuvwxyz"
    n = 40_000
    names = [
        "".join(rnd.choices(letters, k=8)) + " " + "".join(rnd.choices(letters, k=10))
        for _ in range(n)
    ]
    names.append(names[123][:2] + names[123][3:])  # one typo
    f = strings({"name": names})
    r = run_agent("duplicate-resolver", f, None, tmp_path)
    removed = [c.row_id for c in r.changes if c.kind == ChangeKind.ROW_REMOVED]
    assert removed == [n]
    assert "row 123" in r.changes[0].reason


@pytest.mark.parametrize(
    "strategy", ["mean", "median", "mode", "constant", "forward_fill", "backward_fill", "knn"]
)
def test_null_strategies_log_every_fill(strategy: str, tmp_path: Path) -> None:
    f = with_row_id(
        pl.DataFrame(
            {
                "x": [1.0, None, 3.0, 4.0, None, 10.0],
                "y": [1.0, 2.0, 3.0, 4.0, 5.0, 10.0],
            }
        )
    )
    params = {"strategies": {"x": strategy}, "constants": {"x": 0}}
    r = run_agent("null-handler", f, params, tmp_path)
    assert r.frame is not None
    filled = {c.row_id: c.after for c in r.changes}
    assert set(filled) == {1, 4} or (strategy == "backward_fill" and set(filled) == {1, 4})
    assert r.frame["x"].null_count() == 0
    if strategy == "forward_fill":
        assert filled == {1: 1.0, 4: 4.0}
    if strategy == "constant":
        assert filled == {1: 0.0, 4: 0.0}


def test_null_placeholders_and_drop_row(tmp_path: Path) -> None:
    f = strings({"a": ["x", " n/a ", "NULL", "y", "Missing"], "b": ["1", "2", "3", "4", "5"]})
    r = run_agent("null-handler", f, {"strategies": {"a": "drop_row"}}, tmp_path)
    assert r.frame is not None and r.frame[ROW_ID].to_list() == [0, 3]
    removed = [c.row_id for c in r.changes if c.kind == ChangeKind.ROW_REMOVED]
    assert removed == [1, 2, 4]


@pytest.mark.parametrize("method", ["iqr", "zscore", "percentile"])
@pytest.mark.parametrize("action", ["remove", "cap", "impute", "flag"])
def test_outlier_methods_and_actions(method: str, action: str, tmp_path: Path) -> None:
    vals = [float(10 + (i % 7)) for i in range(60)] + [500.0]
    f = with_row_id(
        pl.DataFrame({"v": vals, "year": [2000 + i % 20 for i in range(61)], "id": range(61)})
    )
    r = run_agent("outlier-remover", f, {"method": method, "action": action}, tmp_path)
    assert r.frame is not None
    assert set(r.data["columns"]) == {"v"}  # ids and years skipped
    assert 60 in {i.row_id for i in r.row_level_issues}
    out = r.frame
    if action == "remove":
        assert 60 not in out[ROW_ID].to_list()
    elif action == "cap":
        assert out["v"][60] == pytest.approx(r.data["columns"]["v"]["upper"])
    elif action == "impute":
        clean = pl.Series([v for v in vals[:60]])
        assert out["v"][60] == pytest.approx(clean.median())
    else:
        assert out["v"].to_list() == vals and not r.changes


def test_outliers_all_acted_on_at_scale(tmp_path: Path) -> None:
    n = 200_000
    vals = [float(i % 100) for i in range(n)]
    for i in range(0, n, 1000):
        vals[i] = 1e6
    f = with_row_id(pl.DataFrame({"v": vals}))
    r = run_agent("outlier-remover", f, {"action": "cap"}, tmp_path)
    assert len(r.changes) == n // 1000
    assert r.frame is not None and r.frame["v"].max() < 1e6


@pytest.mark.parametrize("fmt", ["csv", "tsv", "json", "jsonl", "parquet", "xlsx"])
def test_writeback_formats(fmt: str, tmp_path: Path) -> None:
    f = with_row_id(
        pl.DataFrame({"a": [1, 2], "d": [dt.date(2024, 1, 31), None], "s": ["x", "=1+2"]})
    )
    run = run_chain(
        f,
        tmp_path,
        {"cleanse-writeback": {"include_row_id": fmt == "csv"}},
        agents=("cleanse-writeback",),
        fmt=fmt,
    )
    outs = {o.name: o for o in run.results["cleanse-writeback"].outputs}
    assert f"cleaned.{fmt}" in outs and "cleaned.csv" in outs and "change_log.csv" in outs
    back = pl.read_csv(outs["cleaned.csv"].path, infer_schema_length=0)  # type: ignore[arg-type]
    assert back["d"].to_list() == ["2024-01-31", None]
    assert back["s"].to_list() == ["x", "=1+2"]  # CSV keeps exact values
    assert (ROW_ID in back.columns) == (fmt == "csv")


@pytest.mark.parametrize("where", ["start", "middle", "end"])
@pytest.mark.parametrize("columns", [1, 2])
def test_fuzzy_typo_anywhere_is_found(where: str, columns: int, tmp_path: Path) -> None:
    import random

    rnd = random.Random(5)
    letters = "abcdefghijklmnopqrstuvwxyz"
    n = 5_000
    names = [
        "".join(rnd.choices(letters, k=12)) + " " + "".join(rnd.choices(letters, k=9))
        for _ in range(n)
    ]
    src = names[77]
    cut = {"start": 0, "middle": len(src) // 2, "end": len(src) - 1}[where]
    names.append(src[:cut] + ("q" if src[cut] != "q" else "z") + src[cut + 1 :])
    data = {"name": names}
    if columns == 2:
        cities = ["".join(rnd.choices(letters, k=10)) for _ in range(n)]
        data["city"] = [*cities, cities[77]]
    r = run_agent("duplicate-resolver", strings(data), None, tmp_path)
    removed = [(c.row_id, c.reason) for c in r.changes if c.kind == ChangeKind.ROW_REMOVED]
    assert [rid for rid, _ in removed] == [n]
    assert "fuzzy duplicate of row 77" in removed[0][1]
