"""type-fixer: converts text columns to numbers, booleans or dates when they parse.

For each text column (or the ``columns`` given) the values are trimmed; placeholder nulls
(``null_tokens``) are set aside; then each candidate type is tried over the WHOLE column:

- number: optional sign and currency symbol ($ € £ ¥), thousands separators (``1,234.50``),
  scientific notation. Whole numbers without a decimal point become Int64, others Float64.
  A column where some value has a leading zero (``00123``: a code, not a number) is not
  converted.
- boolean: true/false, yes/no, y/n, t/f (any case). ``0``/``1`` stay numbers.
- locale formats, read by the same detector as unified-profiler (``transformers.io.formats``):
  decimal comma and thousands separators (``1.234,56``, ``1 234 567``, ``1'234.50``),
  percentages (``62%`` -> 0.62), currency symbols and codes (``€ 3,50``, ``USD 1,200.00``),
  accounting negatives, day/month order decided over the column, month names in six
  languages, ISO weeks (``2024-W13``), Excel serial dates in text under a date header. Tried
  first when the detector reads at least ``min_parse_ratio`` of a sample; the format found is
  in ``data.formats``.
- date: ISO (``2024-01-31``), numeric day/month orders (``31/01/2024`` or ``01/31/2024``, with
  ``/``, ``-`` or ``.``) and month names (``31 Jan 2024``, ``Jan 31, 2024``). The order is
  ``day_first`` when given, else detected from values that decide it (a first part > 12 means
  day first); when nothing decides, month first is used and an issue says so. Date-times in ISO
  form become Datetime.

The type whose share of parsed values is the highest wins if it reaches ``min_parse_ratio``.

Values that do not parse are never nulled. Documented choice: when any non-placeholder value of
the column does not parse, the column is NOT converted (it stays text, unchanged) and each such
value is reported in ``row_level_issues`` (issue ``unparseable_value``) plus an issue for the
column, so the user can fix those values and run again. When every value parses, the column is
converted; placeholders become null (logged with rule ``placeholder_null``) and every cell whose
text changed (``"1,234"`` -> ``1234``, ``"03/04/2024"`` -> ``2024-04-03``) is in the change log.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import polars as pl

from transformers.agents.clean._common import (
    BOOL_FALSE,
    BOOL_TRUE,
    DATE_SHAPE_RE,
    NUMBER_RE,
    ChangeBuilder,
    count_kind,
    detect_day_first,
    missing_mask,
    parse_bool,
    parse_dates,
    parse_datetimes,
    parse_numbers,
    resolve_all,
    row_issues,
    text_columns,
)
from transformers.contract import (
    ROW_ID,
    AgentContext,
    AgentResult,
    ChangeKind,
    Issue,
    Recommendation,
    RowIssue,
    SummaryItem,
)
from transformers.io import formats
from transformers.params.clean import TypeFixerParams

AGENT_ID = "type-fixer"


ALL_KINDS = frozenset({"number", "boolean", "date", "locale"})
_LOCALE_TYPES = {"integer": "Int64", "float": "Float64", "date": "Date", "datetime": "Datetime"}
#: rows of a column the locale detector looks at before the whole column is tried
LOCALE_SAMPLE = 2_000


def _kind_enabled(guess: formats.FormatGuess, params: TypeFixerParams) -> bool:
    if guess.dtype in ("integer", "float"):
        return params.convert_numbers
    return params.convert_dates


def _locale_candidate(raw: pl.Series, params: TypeFixerParams) -> bool:
    """Whether the locale detector reads enough of an evenly spaced sample of the column."""
    if raw.len() > LOCALE_SAMPLE:
        step = raw.len() / LOCALE_SAMPLE
        raw = raw.gather([int(i * step) for i in range(LOCALE_SAMPLE)])
    guess = formats.detect(raw, raw.name, params.min_parse_ratio)
    return guess is not None and _kind_enabled(guess, params)


def _candidates(
    raw: pl.Series,
    present: pl.Series,
    params: TypeFixerParams,
    allowed: frozenset[str] = ALL_KINDS,
) -> Iterator[tuple[str, pl.Series, dict[str, Any]]]:
    """(type name, parsed series with nulls where unparsed, extra info) for each candidate
    kind in ``allowed``. A generator: the caller stops once one parses every value."""
    vals = raw.filter(present)
    if "locale" in allowed:
        guess = formats.detect(vals, raw.name, params.min_parse_ratio)
        if guess is not None and _kind_enabled(guess, params):
            parsed = pl.select(
                pl.when(pl.lit(present)).then(pl.lit(formats.parse(raw, guess)))
            ).to_series()
            info = {
                "format": guess.describe(),
                "order_undetermined": bool(guess.options.get("order_undetermined")),
            }
            yield (_LOCALE_TYPES[guess.dtype], parsed.alias(raw.name), info)
    if params.convert_numbers and "number" in allowed:
        num, integral, leading_zero = parse_numbers(raw)
        if not leading_zero:
            if integral:
                as_int = num.cast(pl.Int64, strict=False)
                if bool((as_int.is_null() == num.is_null()).all()):
                    yield ("Int64", as_int, {})
                else:
                    yield ("Float64", num, {})
            else:
                yield ("Float64", num, {})
    if params.convert_booleans and "boolean" in allowed:
        yield ("Boolean", parse_bool(raw), {})
    if params.convert_dates and "date" in allowed:
        detected = detect_day_first(vals) if params.day_first is None else params.day_first
        order = params.day_first if params.day_first is not None else detected
        d = parse_dates(raw, bool(order), present)
        info = {"day_first": bool(order), "order_detected": params.day_first is None}
        info["order_undetermined"] = params.day_first is None and detected is None
        dt = parse_datetimes(raw, present)
        n_d = int(d.filter(present).is_not_null().sum())
        n_dt = int(dt.filter(present).is_not_null().sum())
        if n_dt > n_d:
            yield ("Datetime", dt, info)
        else:
            yield ("Date", d, info)


#: Rows above which the pre-pass reads the frame in growing slices (see ``_prepass_stats``).
PREPASS_CHUNKED_ROWS = 65_536


def _prepass_stats(
    frame: pl.DataFrame,
    candidates: list[str],
    params: TypeFixerParams,
    present_expr: Callable[[str], pl.Expr],
) -> dict[str, Any]:
    """Per candidate ``i``: present values ``p{i}``; present values that look like a number
    ``n{i}``, a boolean ``b{i}``, a date ``s{i}``; some number has a leading zero ``z{i}``;
    some number has a decimal point or exponent ``d{i}``.

    Exact where it can matter, cheaper where it cannot: the frame is read in growing slices
    and a kind stops being counted for a column (its count is then -1) once so many present
    values failed it that it can no longer reach ``min_parse_ratio`` even if every remaining
    row matched (a number also stops at the first leading zero). A column stops being read
    when no kind is left (it stays text either way). So text columns such as names cost one
    eighth of a full scan, and the counts that decide anything are complete."""
    h = frame.height
    bool_tokens = [*BOOL_TRUE, *BOOL_FALSE]
    kinds = {
        "n": params.convert_numbers,
        "b": params.convert_booleans,
        "s": params.convert_dates,
    }
    alive: dict[str, set[str]] = {c: {k for k, on in kinds.items() if on} for c in candidates}
    stats: dict[str, Any] = {}
    for i in range(len(candidates)):
        stats.update({f"p{i}": 0, f"n{i}": 0, f"b{i}": 0, f"s{i}": 0, f"z{i}": False})
        stats[f"d{i}"] = False
    bounds = [0, h // 8, h // 4, h // 2, h] if h > PREPASS_CHUNKED_ROWS else [0, h]
    slack = 1.0 - params.min_parse_ratio
    for lo, hi in itertools.pairwise(bounds):
        live = [(i, c) for i, c in enumerate(candidates) if alive[c]]
        if not live:
            break
        exprs: list[pl.Expr] = []
        for i, c in live:
            t = pl.col(c).str.strip_chars()
            pe = present_expr(c)
            exprs.append(pe.sum().alias(f"p{i}"))
            if "n" in alive[c]:
                exprs += [
                    (pe & t.str.contains(NUMBER_RE)).sum().alias(f"n{i}"),
                    (pe & t.str.contains(r"^[+-]?[$€£¥]?\s?[+-]?0\d")).any().alias(f"z{i}"),
                    (pe & t.str.contains(r"[.eE]")).any().alias(f"d{i}"),
                ]
            if "b" in alive[c]:
                exprs.append((pe & t.str.to_lowercase().is_in(bool_tokens)).sum().alias(f"b{i}"))
            if "s" in alive[c]:
                exprs.append((pe & t.str.contains(DATE_SHAPE_RE)).sum().alias(f"s{i}"))
        part = frame.slice(lo, hi - lo).select(exprs).row(0, named=True)
        for key, value in part.items():
            if key[0] in "zd":
                stats[key] = stats[key] or bool(value)
            else:
                stats[key] += int(value or 0)
        for i, c in live:
            # present values can be at most what was seen plus every row not read yet
            ceiling = stats[f"p{i}"] + (h - hi)
            for k in list(alive[c]):
                failed = stats[f"p{i}"] - stats[f"{k}{i}"]
                if failed > slack * ceiling + 1 or (k == "n" and stats[f"z{i}"]):
                    alive[c].discard(k)
                    stats[f"{k}{i}"] = -1  # below any threshold: this kind is out
    for i in range(len(candidates)):
        for k, on in kinds.items():
            if not on:
                stats[f"{k}{i}"] = -1
    return stats


def run(frame: pl.DataFrame, params: TypeFixerParams, ctx: AgentContext) -> AgentResult:
    result = AgentResult(agent_id=AGENT_ID)
    cols = resolve_all(ctx, params.columns, frame) if params.columns is not None else None
    schema = frame.schema
    candidates = [c for c in (cols or text_columns(frame)) if schema[c] == pl.String]
    rid = frame[ROW_ID]
    changes = ChangeBuilder(AGENT_ID)
    new_cols: dict[str, pl.Series] = {}
    converted: dict[str, str] = {}
    kept_text: dict[str, dict[str, Any]] = {}
    issues: list[RowIssue] = []
    undetermined: list[str] = []
    found_formats: dict[str, dict[str, Any]] = {}

    # Batched pre-pass (one polars query for all columns): columns whose present values are
    # all plain numbers are converted here; the rest go through the per-column detection.
    tokens = sorted({t.strip().lower() for t in params.null_tokens} | {""})

    def present_expr(c: str) -> pl.Expr:
        return pl.col(c).is_not_null() & ~pl.col(c).str.strip_chars().str.to_lowercase().is_in(
            tokens
        )

    slow = list(candidates)
    allowed: dict[str, frozenset[str]] = {}
    if candidates and frame.height:
        stats = _prepass_stats(frame, candidates, params, present_expr)
        fast: list[tuple[str, str]] = []
        for i, c in enumerate(candidates):
            p_, n_ = stats[f"p{i}"], stats[f"n{i}"]
            need = params.min_parse_ratio * p_
            if not p_:
                slow.remove(c)
            elif (
                params.convert_numbers
                and n_ == p_
                and not stats[f"z{i}"]
                and not (params.convert_dates and formats.names_a_date(c))
            ):  # numbers under a date header may be Excel serial dates: the detector decides
                fast.append((c, "Float64" if stats[f"d{i}"] else "Int64"))
            else:
                kinds: set[str] = set()
                if params.convert_numbers and n_ >= need and not stats[f"z{i}"]:
                    kinds.add("number")
                if params.convert_booleans and stats[f"b{i}"] >= need:
                    kinds.add("boolean")
                if params.convert_dates and stats[f"s{i}"] >= need:
                    kinds.add("date")
                if _locale_candidate(frame.get_column(c), params):
                    kinds.add("locale")
                if kinds:
                    allowed[c] = frozenset(kinds)
                else:
                    slow.remove(c)  # no type can reach min_parse_ratio: stays text
        conv = {
            c: pl.when(present_expr(c))
            .then(pl.col(c).str.strip_chars().str.replace_all(r"[$€£¥,\s]", ""))
            .cast(pl.Float64 if tn == "Float64" else pl.Int64, strict=False)
            .alias(c)
            for c, tn in fast
        }
        if conv:
            new_frame = frame.select(list(conv.values()))
            diffs = frame.select(
                [pl.col(c).ne_missing(e.cast(pl.String)).sum().alias(c) for c, e in conv.items()]
            ).row(0, named=True)
            for c, tn in fast:
                new = new_frame[c]
                if new.null_count() != frame.height - stats[f"p{candidates.index(c)}"]:
                    continue  # e.g. an integer too large for Int64: per-column path
                slow.remove(c)
                changes.column(
                    ChangeKind.COLUMN_TYPE,
                    c,
                    "String",
                    str(new.dtype),
                    f"to_{tn.lower()}",
                    f"100.0% of non-null values parse as {tn}",
                )
                if diffs[c]:
                    raw = frame[c]
                    placeholder = raw.is_not_null() & new.is_null()
                    rule = pl.select(
                        pl.when(pl.lit(placeholder))
                        .then(pl.lit("placeholder_null"))
                        .otherwise(pl.lit(f"to_{tn.lower()}"))
                    ).to_series()
                    changes.cells(rid, c, raw, new, rule, f"text converted to {tn}")
                new_cols[c] = new
                converted[c] = str(new.dtype)

    for name in slow:
        raw = frame[name]
        present = ~missing_mask(raw, params.null_tokens)
        n_present = int(present.sum())
        if n_present == 0:
            continue
        best: tuple[str, pl.Series, dict[str, Any]] | None = None
        best_ok = -1
        col_kinds = allowed.get(name, ALL_KINDS)
        for type_name, parsed, info in _candidates(raw, present, params, col_kinds):
            ok = int((parsed.is_not_null() & present).sum())
            if ok > best_ok:
                best, best_ok = (type_name, parsed, info), ok
            if ok == n_present:
                break
        if best is None or best_ok == 0:
            continue
        type_name, parsed, info = best
        ratio = best_ok / n_present
        if "format" in info:
            found_formats[name] = info["format"]
        if ratio < params.min_parse_ratio:
            continue
        failed = present & parsed.is_null()
        n_failed = int(failed.sum())
        if n_failed:
            kept_text[name] = {
                "candidate_type": type_name,
                "parse_ratio": round(ratio, 4),
                "unparsed": n_failed,
            }
            issues += row_issues(
                rid.filter(failed),
                raw.filter(failed),
                name,
                "unparseable_value",
                "medium",
                f"'{name}' is {ratio:.1%} {type_name}; this value does not parse, so the "
                "column was kept as text (value unchanged)",
            )
            result.issues.append(
                Issue(
                    f"type-fixer-unparsed-{name}",
                    name,
                    "unparseable_values",
                    "medium",
                    f"{n_failed} value(s) of '{name}' do not parse as {type_name} "
                    f"({ratio:.1%} do); the column stays text and the values are unchanged.",
                )
            )
            continue
        if info.get("order_undetermined") and type_name in ("Date",):
            undetermined.append(name)
        new = parsed.alias(name)
        placeholder = raw.is_not_null() & ~present
        rule = pl.select(
            pl.when(pl.lit(placeholder))
            .then(pl.lit("placeholder_null"))
            .otherwise(pl.lit(f"to_{type_name.lower()}"))
        ).to_series()
        reason = pl.select(
            pl.when(pl.lit(placeholder))
            .then(pl.lit(f"placeholder null in a {type_name} column"))
            .otherwise(pl.lit(f"text converted to {type_name}"))
        ).to_series()
        changes.column(
            ChangeKind.COLUMN_TYPE,
            name,
            str(raw.dtype),
            str(new.dtype),
            f"to_{type_name.lower()}",
            f"{ratio:.1%} of non-null values parse as {type_name}",
        )
        changes.cells(rid, name, raw, new, rule, reason)
        new_cols[name] = new
        converted[name] = str(new.dtype)

    out = frame.with_columns(list(new_cols.values())) if new_cols else frame
    built = changes.build()
    n_cells = count_kind(built, ChangeKind.CELL)
    result.frame = out
    result.changes = built
    result.row_level_issues = issues
    result.data = {
        "converted_columns": converted,
        "kept_as_text": kept_text,
        "date_order_undetermined": undetermined,
        "formats": found_formats,
    }
    result.summary_metrics = {
        "columns_examined": len(candidates),
        "columns_converted": len(converted),
        "columns_kept_text": len(kept_text),
        "cells_changed": n_cells,
        "unparseable_values": len(issues),
    }
    result.executive_summary = [
        SummaryItem("Columns converted", len(converted), "good" if converted else "info"),
        SummaryItem("Unparseable values kept", len(issues), "warning" if issues else "good"),
    ]
    for name in undetermined:
        result.issues.append(
            Issue(
                f"type-fixer-date-order-{name}",
                name,
                "ambiguous_date_order",
                "low",
                f"No value of '{name}' decides the day/month order; month first was used. "
                "Set day_first to be sure.",
            )
        )
    if kept_text:
        result.recommendations.append(
            Recommendation(
                "type-fixer-fix-values",
                "medium",
                "Correct the unparseable values listed in the row-level issues (or lower "
                "min_parse_ratio and quarantine them with expected_schema) and run again.",
                "low",
            )
        )
    return result
