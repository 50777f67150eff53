"""Everyday number and date formats, read as a person reads them: by the profile and by
type-fixer, with the same detector (transformers.io.formats)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from transformers.contract import ROW_ID, AgentContext, ChangeKind
from transformers.io import formats
from transformers.registry import get_tool

D = dt.date
#: column -> (values as written, expected type, expected values)
TABLE: dict[str, tuple[list[str], str, list[Any]]] = {
    "eu_amount": (["1.234,56", "12,50", "-3.000,00", "999,99"], "float",
                  [1234.56, 12.5, -3000.0, 999.99]),
    "us_amount": (["1,234.56", "12.50", "-3,000.00", "999.99"], "float",
                  [1234.56, 12.5, -3000.0, 999.99]),
    "thousands": (["1,234,567", "12,000", "950", "1,000"], "integer", [1234567, 12000, 950, 1000]),
    "space_thousands": (["1 234 567", "12 000", "950", "7 000"], "integer",
                        [1234567, 12000, 950, 7000]),
    "nbsp_decimal_comma": (["1\u00a0234,5", "12\u202f000,25", "7,5", "0,1"], "float",
                           [1234.5, 12000.25, 7.5, 0.1]),
    "swiss": (["1'234.50", "12'000.00", "3.25", "10.00"], "float", [1234.5, 12000.0, 3.25, 10.0]),
    "decimal_comma": (["3,5", "12,25", "0,75", "100,0"], "float", [3.5, 12.25, 0.75, 100.0]),
    "percent": (["62%", "12,5 %", "100%", "0%"], "float", [0.62, 0.125, 1.0, 0.0]),
    "percent_point": (["62.5%", "7%", "99.9%", "0.5%"], "float", [0.625, 0.07, 0.999, 0.005]),
    "usd": (["$1,200.50", "$3.00", "-$4.10", "$0.99"], "float", [1200.5, 3.0, -4.1, 0.99]),
    "euro": (["€ 3,50", "12,00 €", "1.000,00 €", "€0,99"], "float", [3.5, 12.0, 1000.0, 0.99]),
    "currency_codes": (["USD 1,200.00", "EUR 300.00", "GBP 12.50", "100.00 CHF"], "float",
                       [1200.0, 300.0, 12.5, 100.0]),
    "accounting": (["(1,234.00)", "500.00", "(12.50)", "0.00"], "float",
                   [-1234.0, 500.0, -12.5, 0.0]),
    "dmy_dots": (["31.03.2024", "01.04.2024", "15.12.2023", "02.01.2024"], "date",
                 [D(2024, 3, 31), D(2024, 4, 1), D(2023, 12, 15), D(2024, 1, 2)]),
    "mdy_slashes": (["03/31/2024", "04/01/2024", "12/15/2023", "01/02/2024"], "date",
                    [D(2024, 3, 31), D(2024, 4, 1), D(2023, 12, 15), D(2024, 1, 2)]),
    "dmy_slashes": (["31/03/2024", "01/04/2024", "15/12/2023", "02/01/2024"], "date",
                    [D(2024, 3, 31), D(2024, 4, 1), D(2023, 12, 15), D(2024, 1, 2)]),
    "ymd_slashes": (["2024/03/31", "2024/04/01", "2023/12/15", "2024/01/02"], "date",
                    [D(2024, 3, 31), D(2024, 4, 1), D(2023, 12, 15), D(2024, 1, 2)]),
    "month_names": (["31 Mar 2024", "1 April 2024", "15-Dec-2023", "2 Jan 2024"], "date",
                    [D(2024, 3, 31), D(2024, 4, 1), D(2023, 12, 15), D(2024, 1, 2)]),
    "us_month_names": (["March 31, 2024", "April 1, 2024", "Dec 15, 2023", "January 2, 2024"],
                       "date", [D(2024, 3, 31), D(2024, 4, 1), D(2023, 12, 15), D(2024, 1, 2)]),
    "german_month_names": (["31. März 2024", "1. Mai 2024", "15. Dezember 2023", "2. Jan 2024"],
                           "date", [D(2024, 3, 31), D(2024, 5, 1), D(2023, 12, 15),
                                    D(2024, 1, 2)]),
    "french_month_names": (["31 mars 2024", "1 avril 2024", "15 décembre 2023", "2 janv. 2024"],
                           "date", [D(2024, 3, 31), D(2024, 4, 1), D(2023, 12, 15),
                                    D(2024, 1, 2)]),
    "iso_week": (["2024-W13", "2024-W01", "2023W52", "2020-W53"], "date",
                 [D(2024, 3, 25), D(2024, 1, 1), D(2023, 12, 25), D(2020, 12, 28)]),
    "iso_week_day": (["2024-W13-5", "2024-W01-1", "2023-W52-7", "2024-W10-3"], "date",
                     [D(2024, 3, 29), D(2024, 1, 1), D(2023, 12, 31), D(2024, 3, 6)]),
    "invoice_date": (["45382", "45383", "44927", "45658"], "date",
                     [D(2024, 3, 31), D(2024, 4, 1), D(2023, 1, 1), D(2025, 1, 1)]),
    "eu_datetime": (["31.03.2024 14:05", "01.04.2024 09:30", "15.12.2023 23:59",
                     "02.01.2024 00:00"], "datetime",
                    [dt.datetime(2024, 3, 31, 14, 5), dt.datetime(2024, 4, 1, 9, 30),
                     dt.datetime(2023, 12, 15, 23, 59), dt.datetime(2024, 1, 2, 0, 0)]),
}  # fmt: skip
DTYPES = {"float": pl.Float64, "integer": pl.Int64, "date": pl.Date, "datetime": pl.Datetime}


def _frame() -> pl.DataFrame:
    data = {c: values for c, (values, _, _) in TABLE.items()}
    frame = pl.DataFrame(data, schema=dict.fromkeys(data, pl.String))
    return frame.with_row_index(ROW_ID).with_columns(pl.col(ROW_ID).cast(pl.Int64))


def _ctx(tmp_path: Path, tool: str, agent: str, frame: pl.DataFrame) -> AgentContext:
    work = tmp_path / agent
    work.mkdir(parents=True, exist_ok=True)
    return AgentContext("t", "tenant", tool, agent, {"primary": frame}, {}, work, {})


def _close(got: list[Any], want: list[Any]) -> bool:
    if want and isinstance(want[0], float):
        return all(g is not None and abs(g - w) < 1e-9 for g, w in zip(got, want, strict=True))
    return got == want


def test_the_table_has_at_least_twenty_formats() -> None:
    assert len(TABLE) >= 20


@pytest.mark.parametrize("column", list(TABLE))
def test_detector_reads_every_value(column: str) -> None:
    values, kind, expected = TABLE[column]
    guess = formats.detect(pl.Series(column, values), column)
    assert guess is not None and guess.hit_ratio == 1.0, column
    assert guess.dtype == kind
    assert _close(formats.parse(pl.Series(column, values), guess).to_list(), expected)


def test_profile_says_the_type_format_and_hit_ratio(tmp_path: Path) -> None:
    from transformers.agents.profile.unified_profiler import run

    frame = _frame()
    tool = get_tool("profile-my-data")
    params = tool.agent("unified-profiler").params.model_validate({})
    columns = run(frame, params, _ctx(tmp_path, tool.tool_id, "unified-profiler", frame)).data[
        "columns"
    ]
    for column, (_values, kind, _expected) in TABLE.items():
        prof = columns[column]
        assert prof["inferred_type"] == kind, (column, prof.get("detected_format"))
        assert prof["detected_format"]["hit_ratio"] == 1.0
        assert prof["detected_format"]["format"]
    assert columns["eu_amount"]["detected_format"]["decimal_mark"] == ","
    assert columns["dmy_dots"]["detected_format"]["format"] == "dd.mm.yyyy"
    assert columns["euro"]["detected_format"]["currencies"] == ["€"]


def test_profile_reports_a_partial_hit_ratio(tmp_path: Path) -> None:
    from transformers.agents.profile.unified_profiler import run

    frame = pl.DataFrame({"amount": ["1.234,56", "12,50", "7,25", "n/a"]}).with_row_index(ROW_ID)
    frame = frame.with_columns(pl.col(ROW_ID).cast(pl.Int64))
    tool = get_tool("profile-my-data")
    params = tool.agent("unified-profiler").params.model_validate({})
    prof = run(frame, params, _ctx(tmp_path, tool.tool_id, "unified-profiler", frame)).data[
        "columns"
    ]["amount"]
    assert prof["detected_format"]["hit_ratio"] == 0.75
    assert prof["inferred_type"] != "float"


def test_type_fixer_converts_with_the_same_detector_and_logs_cells(tmp_path: Path) -> None:
    from transformers.agents.clean.type_fixer import run

    frame = _frame()
    tool = get_tool("clean-my-data")
    params = tool.agent("type-fixer").params.model_validate({})
    result = run(frame, params, _ctx(tmp_path, tool.tool_id, "type-fixer", frame))
    out = result.frame
    assert out is not None
    cells = {(c.row_id, c.column) for c in result.changes if c.kind == ChangeKind.CELL}
    for column, (values, kind, expected) in TABLE.items():
        assert out.schema[column] == DTYPES[kind] or (
            kind == "datetime" and isinstance(out.schema[column], pl.Datetime)
        ), (column, out.schema[column])
        assert _close(out[column].to_list(), expected), column
        # every cell whose text changed is in the change log (a value already written as its
        # number, "999.99", is not a change)
        changed = {i for i, v in enumerate(values) if v != str(out[column][i])}
        assert changed and {i for i, c in cells if c == column} == changed, column
    assert result.data["formats"]["eu_amount"]["decimal_mark"] == ","
    before = {c.column: c.before for c in result.changes if c.row_id == 0}
    assert before["eu_amount"] == "1.234,56"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
