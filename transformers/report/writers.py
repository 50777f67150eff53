"""Write the report's output files into the work directory (the pipeline uploads them).

Row-level outputs (row issues, change log, skipped input lines) go through streaming sinks:
rows reach the file as they are produced, in batches, never collected whole. Columnar row
issues (``RowIssues`` blocks, e.g. the profiler's outliers) and change logs (``Changes``
blocks, the clean agents') are rendered to text by polars, a batch of rows at a time, byte for
byte what the row-by-row writer writes for the same rows
(``tests/transformers/report/test_row_outputs.py`` compares the two); values of types polars
does not render as Python does (dates, decimals, nested values, removed rows' JSON) are
written row by row.

One rule picks the file format of each row-level output, from its row count: at most
``ROW_OUTPUT_CSV_MAX_ROWS`` rows is CSV (it opens in a spreadsheet), more is Parquet instead
(``row_level_issues.parquet``: the same columns holding the CSV's text, ``row_id`` and
``line`` as integers).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from transformers.contract import (
    ROW_ID,
    AgentResult,
    ChangeBlock,
    Changes,
    InputInfo,
    OutputFile,
    RowIssues,
)
from transformers.errors import UnsupportedFormatError
from transformers.registry import DEFAULT_REPORT_FORMATS, REPORT_FORMATS
from transformers.report.excel import write_report_workbook
from transformers.report.figures import compute_figures
from transformers.report.html import render_html
from transformers.report.model import report_model
from transformers.serialization import jsonable

REPORT_JSON = "report.json"
REPORT_XLSX = "report.xlsx"
REPORT_HTML = "report.html"
ROW_ISSUES = "row_level_issues"
CHANGE_LOG = "change_log"
SKIPPED_LINES = "skipped_lines"
ROW_ISSUES_CSV = f"{ROW_ISSUES}.csv"
CHANGE_LOG_CSV = f"{CHANGE_LOG}.csv"
SKIPPED_LINES_CSV = f"{SKIPPED_LINES}.csv"

ROW_ISSUE_HEADER = ["agent_id", "row_id", "column", "issue_type", "severity", "value", "message"]
CHANGE_HEADER = ["agent_id", "kind", "row_id", "column", "before", "after", "rule", "reason"]
SKIPPED_HEADER = ["role", "filename", "line", "problem", "raw"]

#: A row-level output of at most this many rows is CSV; a larger one is Parquet instead. A
#: spreadsheet holds at most 1,048,576 rows, so a larger CSV could not be opened as one anyway.
ROW_OUTPUT_CSV_MAX_ROWS = 1_000_000
#: Rows rendered and written per step: what a sink holds at once.
BATCH_ROWS = 100_000

_CT = {
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}


def csv_value(value: Any) -> str:
    """A raw value as CSV text: None → empty, nested → JSON, dates ISO, the rest ``str``."""
    value = jsonable(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _name(wanted: str, taken: set[str]) -> str:
    """Never overwrite an agent's own output of the same name (they share outputs/)."""
    return wanted if wanted not in taken else f"report_{wanted}"


def row_output_format(rows: int) -> str:
    """``csv`` up to ``ROW_OUTPUT_CSV_MAX_ROWS`` rows, else ``parquet``."""
    return "csv" if rows <= ROW_OUTPUT_CSV_MAX_ROWS else "parquet"


# --- sinks -----------------------------------------------------------------------------------


class _Utf8:
    """What ``csv.writer`` writes to: text, encoded into a binary file."""

    def __init__(self, fh: Any) -> None:
        self.fh = fh

    def write(self, text: str) -> int:
        return int(self.fh.write(text.encode("utf-8")))


class _CsvSink:
    """CSV exactly as ``csv.writer`` writes it (``\\r\\n``, minimal quoting); frames of text
    columns are written by polars in the same dialect."""

    def __init__(self, path: Path, header: Sequence[str]) -> None:
        self.fh = path.open("wb")
        self.writer = csv.writer(_Utf8(self.fh))
        self.writer.writerow(header)

    def rows(self, rows: Iterable[Sequence[Any]]) -> None:
        self.writer.writerows(rows)

    def frame(self, frame: Any) -> None:
        import polars as pl

        # csv.writer writes an empty text as nothing, polars as "": nulls are written as nothing.
        text = [c for c, t in frame.schema.items() if t == pl.String]
        frame = frame.with_columns(
            pl.when(pl.col(c) != "").then(pl.col(c)).otherwise(None).alias(c) for c in text
        )
        buf = io.BytesIO()
        frame.write_csv(buf, include_header=False, line_terminator="\r\n")
        self.fh.write(buf.getbuffer())

    def close(self) -> None:
        self.fh.close()


class _ParquetSink:
    """Parquet of the CSV's columns: integers for ``int_columns``, the CSV's text for the rest
    (``None`` → empty), written a row group per batch."""

    def __init__(self, path: Path, header: Sequence[str], int_columns: set[str]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.header = list(header)
        self.ints = [name in int_columns for name in self.header]
        self.schema = pa.schema(
            [
                (n, pa.int64() if i else pa.large_string())
                for n, i in zip(header, self.ints, strict=True)
            ]
        )
        self.writer = pq.ParquetWriter(path, self.schema)
        self.pending: list[Sequence[Any]] = []

    def rows(self, rows: Iterable[Sequence[Any]]) -> None:
        for row in rows:
            self.pending.append(row)
            if len(self.pending) >= BATCH_ROWS:
                self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if not self.pending:
            return
        columns = list(zip(*self.pending, strict=True))
        arrays = [
            pa.array(
                [None if v is None else int(v) for v in col]
                if is_int
                else ["" if v is None else v if isinstance(v, str) else str(v) for v in col],
                type=self.schema.field(i).type,
            )
            for i, (col, is_int) in enumerate(zip(columns, self.ints, strict=True))
        ]
        self.writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))
        self.pending = []

    def frame(self, frame: Any) -> None:
        self._flush()  # keep the order
        self.writer.write_table(frame.select(self.header).to_arrow().cast(self.schema))

    def close(self) -> None:
        self._flush()
        self.writer.close()


class _Sink:
    """One row-level output: CSV or Parquet by its row count (``row_output_format``)."""

    def __init__(
        self,
        work_dir: Path,
        stem: str,
        header: Sequence[str],
        rows: int,
        taken: set[str],
        int_columns: set[str],
    ) -> None:
        self.fmt = row_output_format(rows)
        self.path = work_dir / _name(f"{stem}.{self.fmt}", taken)
        self.out: _CsvSink | _ParquetSink = (
            _CsvSink(self.path, header)
            if self.fmt == "csv"
            else _ParquetSink(self.path, header, int_columns)
        )

    def __enter__(self) -> _CsvSink | _ParquetSink:
        return self.out

    def __exit__(self, *exc: object) -> None:
        self.out.close()

    def output(self, kind: str) -> OutputFile:
        return OutputFile(self.path.name, self.path, kind, _CT[self.fmt])


# --- row issues ------------------------------------------------------------------------------


def _issue_rows(agent_id: str, issues: Iterable[Any]) -> Iterator[list[Any]]:
    """The row-by-row rendering (lists of RowIssue, and blocks of types polars cannot render
    like Python does)."""
    for ri in issues:
        yield [
            agent_id,
            ri.row_id,
            csv_value(ri.column),
            ri.issue_type,
            ri.severity,
            csv_value(ri.value),
            ri.message,
        ]


def _float_repr(values: Any) -> Any:
    """Float64 values as Python's ``repr`` writes them. polars' text is the same shortest
    round-trip digits except below 1e-4 (``1e-05``, not ``0.00001``) and for NaN/inf: those few
    are rendered by Python."""
    import polars as pl

    text = values.cast(pl.String)
    odd = (~values.is_finite() | ((values.abs() < 1e-4) & (values != 0))).fill_null(False)
    if odd.any():
        where = odd.arg_true()
        text = text.scatter(where, [repr(v) for v in values.gather(where).to_list()])
    return text


def _value_texts(values: Any) -> tuple[Any, Any] | None:
    """(``csv_value(v)``, ``str(v)``) of every value, as polars string series, or None when
    the type is not one polars renders exactly as Python does (temporal, decimal, nested)."""
    import polars as pl

    dtype = values.dtype
    if dtype == pl.Null:
        n = values.len()
        return (
            pl.repeat("", n, dtype=pl.String, eager=True),
            pl.repeat("None", n, dtype=pl.String, eager=True),
        )
    if dtype == pl.String or dtype == pl.Categorical or isinstance(dtype, pl.Enum):
        text = values.cast(pl.String)
        return text.fill_null(""), text.fill_null("None")
    if dtype.is_integer():
        text = values.cast(pl.String)
        return text.fill_null(""), text.fill_null("None")
    if dtype == pl.Boolean:
        v = pl.col("v")
        out = pl.DataFrame({"v": values}).select(
            pl.when(v.is_null()).then(pl.lit("")).when(v).then(pl.lit("true"))
            .otherwise(pl.lit("false")).alias("value"),
            pl.when(v.is_null()).then(pl.lit("None")).when(v).then(pl.lit("True"))
            .otherwise(pl.lit("False")).alias("shown"),
        )  # fmt: skip
        return out.to_series(0), out.to_series(1)
    if dtype.is_float():
        floats = values.cast(pl.Float64)
        text = _float_repr(floats)
        # jsonable turns NaN and infinities into None, which csv_value writes as nothing.
        out = pl.DataFrame({"f": floats, "t": text}).select(
            pl.when(pl.col("f").is_finite()).then(pl.col("t")).otherwise(pl.lit("")).fill_null("")
        )
        return out.to_series(), text.fill_null("None")
    return None


def _block_frame(agent_id: str, block: Any) -> Any | None:
    """The block's rows as text columns of ``ROW_ISSUE_HEADER`` (None: render row by row)."""
    import polars as pl

    if block.column is None:  # a finding about a whole row: no value, the message head + tail
        empty = pl.repeat("", block.hits.height, dtype=pl.String, eager=True)
        texts: tuple[Any, Any] | None = (empty, empty)
    else:
        texts = _value_texts(block.hits.get_column(block.column))
    if texts is None:
        return None
    value, shown = texts
    frame = pl.DataFrame(
        {
            "row_id": block.hits.get_column(ROW_ID).cast(pl.Int64),
            "value": value.alias("value"),
            "shown": shown.alias("shown"),
        }
    )
    return frame.select(
        pl.lit(agent_id, pl.String).alias("agent_id"),
        "row_id",
        pl.lit(csv_value(block.column), pl.String).alias("column"),
        pl.lit(str(block.issue_type), pl.String).alias("issue_type"),
        pl.lit(str(block.severity), pl.String).alias("severity"),
        "value",
        pl.concat_str(pl.lit(block.head), "shown", pl.lit(block.tail)).alias("message"),
    )


def _write_issues(sink: _CsvSink | _ParquetSink, results: list[AgentResult]) -> None:
    for r in results:
        issues = r.row_level_issues
        if not isinstance(issues, RowIssues):
            sink.rows(_issue_rows(r.agent_id, issues))
            continue
        for block in issues.blocks:
            for offset in range(0, len(block), BATCH_ROWS):
                part = dataclasses.replace(block, hits=block.hits.slice(offset, BATCH_ROWS))
                frame = _block_frame(r.agent_id, part)
                if frame is None:
                    sink.rows(_issue_rows(r.agent_id, part))
                else:
                    sink.frame(frame)
        sink.rows(_issue_rows(r.agent_id, issues.items))


def _change_rows(agent_id: str, changes: Iterable[Any]) -> Iterator[list[Any]]:
    for c in changes:
        yield [
            c.agent_id or agent_id,
            str(c.kind),
            c.row_id,
            csv_value(c.column),
            csv_value(c.before),
            csv_value(c.after),
            c.rule,
            c.reason,
        ]


def _change_block_frame(agent_id: str, block: ChangeBlock) -> Any | None:
    """A block's rows as text columns of ``CHANGE_HEADER``, byte for byte what
    ``_change_rows`` writes (None: a type polars does not render as Python does, or a removed
    row, whose JSON is written by Python)."""
    import polars as pl

    f = block.frame
    n = f.height
    if "after" not in f.columns:
        if "before" in f.columns:
            return None
        before = pl.repeat(csv_value({}), n, dtype=pl.String, eager=True)
        after = pl.repeat("", n, dtype=pl.String, eager=True)
        column = ""
    else:
        b, a = _value_texts(f.get_column("before")), _value_texts(f.get_column("after"))
        if b is None or a is None:
            return None
        before, after, column = b[0], a[0], csv_value(block.column)
    return pl.DataFrame(
        {
            "agent_id": pl.repeat(block.agent_id or agent_id, n, dtype=pl.String, eager=True),
            "kind": pl.repeat(str(block.kind), n, dtype=pl.String, eager=True),
            "row_id": f.get_column(ROW_ID).cast(pl.Int64),
            "column": pl.repeat(column, n, dtype=pl.String, eager=True),
            "before": before,
            "after": after,
            "rule": f.get_column("rule").cast(pl.String).fill_null(""),
            "reason": f.get_column("reason").cast(pl.String).fill_null(""),
        }
    )


def _write_changes(sink: _CsvSink | _ParquetSink, results: list[AgentResult]) -> None:
    for r in results:
        changes = r.changes
        if not isinstance(changes, Changes):
            sink.rows(_change_rows(r.agent_id, changes))
            continue
        for p in changes.parts:
            if not isinstance(p, ChangeBlock):
                sink.rows(_change_rows(r.agent_id, p))
                continue
            for offset in range(0, len(p), BATCH_ROWS):
                part = dataclasses.replace(p, frame=p.frame.slice(offset, BATCH_ROWS))
                frame = _change_block_frame(r.agent_id, part)
                if frame is None:
                    sink.rows(_change_rows(r.agent_id, part))
                else:
                    sink.frame(frame)


def _skipped(report: dict[str, Any], inputs: dict[str, InputInfo] | None) -> dict[str, Any]:
    """Role -> (filename, every skipped line): from the parsed inputs (complete) when given,
    else from the report (which keeps the first ``SKIPPED_LINES_CAP``)."""
    if inputs is not None:
        return {role: (i.filename, i.skipped_lines) for role, i in inputs.items()}
    return {
        role: (i.get("filename"), i.get("skipped_lines", []))
        for role, i in report.get("inputs", {}).items()
    }


def _skipped_rows(skipped: dict[str, Any]) -> Iterator[list[Any]]:
    for role, (filename, lines) in skipped.items():
        for s in lines:
            yield [role, filename, s.get("line"), s.get("problem"), s.get("raw")]


# --- the report ------------------------------------------------------------------------------


def write_report_outputs(
    report: dict[str, Any],
    results: list[AgentResult],
    work_dir: Path,
    final_frame: Any,
    frames: dict[str, Any] | None = None,
    *,
    inputs: dict[str, InputInfo] | None = None,
    formats: Sequence[str] = DEFAULT_REPORT_FORMATS,
) -> list[OutputFile]:
    """Write report.json, report.html and report.xlsx (those of them in ``formats``; JSON
    always), row_level_issues (complete), change_log (when any agent changed data) and
    skipped_lines (when input lines were skipped; complete when ``inputs``, the parsed inputs,
    are given). Row-level outputs are CSV or, above ``ROW_OUTPUT_CSV_MAX_ROWS`` rows, Parquet.

    ``frames`` (the parsed inputs by role: frames or out-of-core ``ScanFrame``s) and
    ``final_frame`` (the chained tool's last frame, or None) feed the figures (``figures.py``:
    histograms, correlations, drift overlays, before/after, clusters) stored in the report as
    ``figures``; data-changing tools' writeback agents write the data files themselves.
    """
    unknown = [f for f in formats if f not in REPORT_FORMATS]
    if unknown:
        raise UnsupportedFormatError(
            f"Unknown report format '{unknown[0]}'",
            details={"format": unknown[0], "formats": list(REPORT_FORMATS)},
        )
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    taken = {o.name for r in results for o in r.outputs}
    if final_frame is not None:
        columns = [c for c in final_frame.columns if c != ROW_ID]
        report["final_data"] = {"rows": int(final_frame.height), "columns": len(columns)}

    report["figures"] = compute_figures(report, frames, final_frame)
    files: list[OutputFile] = []
    rows = sum(len(r.row_level_issues) for r in results)
    sink = _Sink(work_dir, ROW_ISSUES, ROW_ISSUE_HEADER, rows, taken, {"row_id"})
    with sink as out:
        _write_issues(out, results)
    files.append(sink.output("issues"))

    changes = sum(len(r.changes) for r in results)
    if changes:
        sink = _Sink(work_dir, CHANGE_LOG, CHANGE_HEADER, changes, taken, {"row_id"})
        with sink as out:
            _write_changes(out, results)
        files.append(sink.output("changes"))

    skipped = _skipped(report, inputs)
    lines = sum(len(lines) for _, lines in skipped.values())
    if lines:
        sink = _Sink(work_dir, SKIPPED_LINES, SKIPPED_HEADER, lines, taken, {"line"})
        with sink as out:
            out.rows(_skipped_rows(skipped))
        files.append(sink.output("issues"))

    paths = {
        fmt: work_dir / _name(name, taken)
        for fmt, name in (("json", REPORT_JSON), ("xlsx", REPORT_XLSX), ("html", REPORT_HTML))
        if fmt == "json" or fmt in formats
    }
    documents = [OutputFile(path.name, path, "report", _CT[fmt]) for fmt, path in paths.items()]
    report["outputs"] = [{"name": o.name, "kind": o.kind} for o in [*documents, *files]] + [
        {"name": o.name, "kind": o.kind, "agent_id": r.agent_id} for r in results for o in r.outputs
    ]
    if "xlsx" in paths or "html" in paths:
        model = report_model(report)
        if "xlsx" in paths:
            write_report_workbook(report, paths["xlsx"], model)
        if "html" in paths:
            paths["html"].write_text(render_html(report, model), encoding="utf-8")
    with paths["json"].open("w", encoding="utf-8") as f:
        json.dump(report, f, ensure_ascii=False, default=str)
    return [*documents, *files]
