"""The report model: what a person reads, computed once from the report (``build_report``) and
its figures (``figures.py``); the workbook (``excel.py``) and ``report.html`` (``html.py``) both
render it, so every number they show is the same number.

``report_model(report)`` answers ``{title, overview, sections}``. A section is
``{id, title, notes, charts, tables, details}``:

- a chart is ``{kind, id, title, ...}`` with ``kind`` one of ``bars`` (``items: [{label,
  value}]``), ``histogram`` (``edges``, ``counts``, optional ``overlay`` and ``marker``) or
  ``heatmap`` (``columns``, ``matrix``); the renderers draw it, the workbook lists its data;
- a table is ``{title, columns, rows}`` (rows are lists);
- ``details`` are per-item pages (one per column, one per cluster), each with its own charts and
  tables.

Wide inputs stay bounded: one page per column for the first ``DETAIL_COLUMNS`` columns, every
column in the summary table, the missing-values chart for the ``MISSING_BARS`` columns missing
the most (all of them in the table). Keys an agent did not report are skipped, never invented.
"""

from __future__ import annotations

from typing import Any

from transformers.report.figures import DETAIL_COLUMNS

MISSING_BARS = 40
TOP_VALUES = 10
SAMPLE_CHANGES = 5
QUEUE_ROWS = 50
QUARANTINE_ROWS = 50
SEVERITIES = ("critical", "high", "medium", "low", "info")


def _agent(report: dict[str, Any], agent_id: str) -> dict[str, Any] | None:
    for a in report.get("agents", []):
        if a.get("agent_id") == agent_id and a.get("status") == "success":
            return a  # type: ignore[no-any-return]
    return None


def _data(report: dict[str, Any], agent_id: str) -> dict[str, Any]:
    a = _agent(report, agent_id)
    data = a.get("data") if a else None
    return data if isinstance(data, dict) else {}


def _section(sid: str, title: str, **kw: Any) -> dict[str, Any]:
    return {
        "id": sid,
        "title": title,
        "notes": kw.get("notes", []),
        "charts": kw.get("charts", []),
        "tables": kw.get("tables", []),
        "details": kw.get("details", []),
    }


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> dict[str, Any]:
    return {"title": title, "columns": columns, "rows": rows}


def _r(x: Any, digits: int = 2) -> Any:
    return round(x, digits) if isinstance(x, float) else x


# ---------------------------------------------------------------- overview (every tool)


def _overview(report: dict[str, Any]) -> dict[str, Any]:
    summary = report.get("executive_summary", {})
    quality = _data(report, "unified-profiler").get("quality")
    out: dict[str, Any] = {
        "task_id": report.get("task_id"),
        "tool_id": report.get("tool_id"),
        "tool_title": report.get("tool_title"),
        "status": report.get("status"),
        "generated_at": report.get("generated_at"),
        "rows": summary.get("rows"),
        "columns": summary.get("columns"),
        "items": summary.get("items", []),
        "alerts_by_severity": {
            s: summary.get("alerts_by_severity", {}).get(s, 0) for s in SEVERITIES
        },
        "next_tool": report.get("recommended_next_tool"),
        "quality": None,
    }
    if isinstance(quality, dict):
        out["quality"] = {
            "grade": quality.get("grade"),
            "score": _r(quality.get("score")),
            "formula": quality.get("formula"),
            "components": {
                k: _r(quality.get(k))
                for k in ("completeness", "validity", "consistency")
                if quality.get(k) is not None
            },
        }
    elif summary.get("quality"):
        q = summary["quality"]
        out["quality"] = {"grade": q.get("grade"), "score": _r(q.get("score")), "formula": None}
    return out


def _alerts_section(report: dict[str, Any]) -> dict[str, Any]:
    ov = _overview(report)
    rows = [
        [a.get("severity"), a.get("agent_id"), a.get("category"), a.get("message")]
        for a in report.get("alerts", [])[:200]
    ]
    return _section(
        "alerts",
        "Alerts",
        charts=[
            {
                "kind": "bars",
                "id": "alerts-by-severity",
                "title": "Alerts by severity",
                "items": [{"label": s, "value": n} for s, n in ov["alerts_by_severity"].items()],
            }
        ],
        tables=[_table("Alerts", ["severity", "agent", "category", "message"], rows)],
    )


def _agents_section(report: dict[str, Any]) -> dict[str, Any]:
    rows = [
        [
            a.get("agent_id"),
            a.get("title"),
            a.get("status"),
            a.get("duration_ms"),
            len(a.get("alerts", [])),
            a.get("row_level_issues_total"),
            a.get("error"),
        ]
        for a in report.get("agents", [])
    ]
    return _section(
        "agents",
        "Agents",
        tables=[
            _table(
                "Agents",
                ["agent", "title", "status", "duration_ms", "alerts", "row_issues", "error"],
                rows,
            )
        ],
    )


# ---------------------------------------------------------------- profile-my-data


def _pii(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    cols = _data(report, "score-risk").get("columns")
    return cols if isinstance(cols, dict) else {}


def _evidence(p: dict[str, Any]) -> str:
    ev = p.get("evidence")
    if isinstance(ev, list | tuple):
        ev = "; ".join(str(e) for e in ev[:5])
    elif isinstance(ev, dict):
        ev = "; ".join(f"{k}: {v}" for k, v in list(ev.items())[:5])
    parts = [str(ev)] if ev else []
    matches = {k: v for k, v in (p.get("matches") or {}).items() if v}
    if matches:
        parts.append(
            "matches "
            + ", ".join(f"{k} {v}/{p.get('values_scanned', '?')}" for k, v in matches.items())
        )
    if p.get("reason"):
        parts.append(str(p["reason"]))
    return "; ".join(parts)


def _fmt_type(c: dict[str, Any]) -> str:
    fmt = c.get("detected_format") or c.get("format")
    t = str(c.get("inferred_type") or c.get("dtype") or "")
    return f"{t} ({fmt})" if fmt else t


def _column_detail(
    name: str, c: dict[str, Any], pii: dict[str, Any] | None, hist: dict[str, Any] | None
) -> dict[str, Any]:
    stats: list[list[Any]] = [
        ["type", _fmt_type(c)],
        ["dtype", c.get("dtype")],
        ["count", c.get("count")],
        ["missing", c.get("missing_count", c.get("null_count"))],
        ["missing %", _r(c.get("missing_pct"))],
        ["distinct", c.get("distinct_count")],
        ["distinct %", _r(c.get("distinct_pct"))],
    ]
    for key in ("min", "max", "mean", "median", "std", "skew", "kurtosis", "iqr"):
        if c.get(key) is not None:
            stats.append([key, _r(c[key], 4)])
    if c.get("outlier_count") is not None:
        stats.append(["outliers", c.get("outlier_count")])
    bounds = c.get("outlier_bounds")
    if isinstance(bounds, dict):
        stats.append(["outlier bounds", f"[{_r(bounds.get('lower'))}, {_r(bounds.get('upper'))}]"])
    if pii and pii.get("pii_type"):
        stats.append(["PII", f"{pii['pii_type']} (risk {pii.get('risk_level')})"])
        stats.append(["PII evidence", _evidence(pii)])
    elif c.get("pii_hint"):
        stats.append(["PII hint", c.get("pii_hint")])
    charts: list[dict[str, Any]] = []
    if hist:
        charts.append(
            {
                "kind": "histogram",
                "id": f"hist-{name}",
                "title": f"Distribution of {name}",
                "edges": hist["edges"],
                "counts": hist["counts"],
            }
        )
    elif c.get("top_values"):
        charts.append(
            {
                "kind": "bars",
                "id": f"top-{name}",
                "title": f"Most frequent values of {name}",
                "items": [
                    {"label": str(t.get("value")), "value": t.get("count")}
                    for t in c["top_values"][:TOP_VALUES]
                ],
            }
        )
    tables = [_table("Statistics", ["statistic", "value"], stats)]
    q = c.get("quantiles")
    if isinstance(q, dict) and q:
        tables.append(
            _table("Quantiles", ["quantile", "value"], [[k, _r(v, 4)] for k, v in q.items()])
        )
    return {"id": f"col-{name}", "title": name, "charts": charts, "tables": tables}


def _profile_sections(report: dict[str, Any]) -> list[dict[str, Any]]:
    figures = report.get("figures") or {}
    prof = _data(report, "unified-profiler")
    columns = prof.get("columns") if isinstance(prof.get("columns"), dict) else {}
    pii = _pii(report)
    sections: list[dict[str, Any]] = []
    if columns:
        names = list(columns)
        rows = []
        for n in names:
            c = columns[n]
            p = pii.get(n) or {}
            rows.append(
                [
                    n,
                    _fmt_type(c),
                    c.get("missing_count", c.get("null_count")),
                    _r(c.get("missing_pct")),
                    c.get("distinct_count"),
                    c.get("outlier_count"),
                    p.get("pii_type") or c.get("pii_hint"),
                ]
            )
        hist = figures.get("histograms") or {}
        details = [
            _column_detail(n, columns[n], pii.get(n), hist.get(n)) for n in names[:DETAIL_COLUMNS]
        ]
        notes = []
        if len(names) > DETAIL_COLUMNS:
            notes.append(
                f"{len(names)} columns: the first {DETAIL_COLUMNS} have a page of their own below; "
                f"all {len(names)} are in the table."
            )
        sections.append(
            _section(
                "columns",
                "Columns",
                notes=notes,
                tables=[
                    _table(
                        "Columns",
                        ["column", "type", "missing", "missing %", "distinct", "outliers", "PII"],
                        rows,
                    )
                ],
                details=details,
            )
        )
        missing = sorted(
            (
                (n, columns[n].get("missing_count", columns[n].get("null_count")) or 0)
                for n in names
            ),
            key=lambda kv: -kv[1],
        )
        notes = []
        if len(missing) > MISSING_BARS:
            notes.append(
                f"The {MISSING_BARS} columns missing the most are drawn; the Columns table has all."
            )
        sections.append(
            _section(
                "missing",
                "Missing values by column",
                notes=notes,
                charts=[
                    {
                        "kind": "bars",
                        "id": "missing-by-column",
                        "title": "Missing cells per column",
                        "items": [{"label": n, "value": v} for n, v in missing[:MISSING_BARS]],
                    }
                ],
            )
        )
    corr = figures.get("correlations")
    if corr:
        notes = ["Pearson correlation, each pair over the rows where both are present."]
        if corr.get("sample"):
            sample = corr["sample"]
            notes.append(
                f"Computed on a sample of {sample['rows']:,} rows (every {sample['every']:,}th "
                "row of the input), not on every row."
            )
        sections.append(
            _section(
                "correlations",
                "Correlations (numeric columns)",
                notes=notes,
                charts=[
                    {
                        "kind": "heatmap",
                        "id": "correlations",
                        "title": "Correlation heatmap",
                        "columns": corr["columns"],
                        "matrix": corr["matrix"],
                    }
                ],
                tables=[
                    _table(
                        "Correlation matrix",
                        ["column", *corr["columns"]],
                        [[c, *row] for c, row in zip(corr["columns"], corr["matrix"], strict=True)],
                    )
                ],
            )
        )
    drift = _data(report, "drift-detector")
    if isinstance(drift.get("columns"), dict):
        sections.append(_drift_section(drift, figures.get("drift") or {}))
    pii_rows = [
        [n, p.get("pii_type"), p.get("risk_level"), _r(p.get("confidence")), _evidence(p)]
        for n, p in pii.items()
        if p.get("pii_type")
    ]
    if pii:
        risk = _data(report, "score-risk")
        sections.append(
            _section(
                "pii",
                "PII findings",
                notes=[
                    f"Overall risk {risk.get('overall_risk_level', '–')} "
                    f"({_r(risk.get('overall_risk_score'))}); frameworks: "
                    + (", ".join(risk.get("frameworks_affected") or []) or "none")
                ],
                tables=[
                    _table(
                        "PII columns",
                        ["column", "type", "risk", "confidence", "evidence"],
                        pii_rows,
                    )
                ],
            )
        )
    ready = _data(report, "readiness-rater")
    if ready:
        sections.append(
            _section(
                "readiness",
                "Readiness",
                notes=[f"{ready.get('status')}: score {_r(ready.get('score'))}"],
                tables=[
                    _table(
                        "Deductions",
                        ["component", "points", "reason"],
                        [
                            [d.get("component"), _r(d.get("points")), d.get("reason")]
                            for d in ready.get("deductions", [])
                        ],
                    )
                ],
            )
        )
    gov = _data(report, "governance-checker")
    if gov:
        sections.append(
            _section(
                "governance",
                "Governance",
                notes=[f"{gov.get('status')}: compliance score {_r(gov.get('compliance_score'))}"],
                tables=[
                    _table(
                        "Checks",
                        ["check", "status", "severity", "message"],
                        [
                            [c.get("check"), c.get("status"), c.get("severity"), c.get("message")]
                            for c in gov.get("checks", [])
                        ],
                    )
                ],
            )
        )
    return sections


def _drift_section(drift: dict[str, Any], overlays: dict[str, Any]) -> dict[str, Any]:
    rows = []
    details = []
    for name, d in drift["columns"].items():
        if not isinstance(d, dict):
            continue
        test = d.get("decision_test")
        stat = {"ks": d.get("ks_statistic"), "chi2": d.get("chi2_pvalue"), "psi": d.get("psi")}
        rows.append(
            [
                name,
                d.get("status"),
                test,
                _r(d.get("ks_statistic"), 4),
                _r(d.get("psi"), 4),
                _r(d.get("ks_pvalue") if test == "ks" else d.get("chi2_pvalue"), 6),
                bool(d.get("drifted")),
            ]
        )
        o = overlays.get(name)
        if not o:
            continue
        label = f"{test} statistic {_r(stat.get(test or ''), 4)}" if test else ""
        if o["kind"] == "numeric":
            chart = {
                "kind": "histogram",
                "id": f"drift-{name}",
                "title": f"{name}: baseline vs current ({label}, PSI {_r(d.get('psi'), 4)})",
                "edges": o["edges"],
                "counts": o["current"],
                "overlay": o["baseline"],
                "series": ["current", "baseline"],
            }
        else:
            chart = {
                "kind": "bars",
                "id": f"drift-{name}",
                "title": f"{name}: share per category, current vs baseline "
                f"(PSI {_r(d.get('psi'), 4)})",
                "items": [
                    {"label": str(c), "value": cur, "overlay": base}
                    for c, cur, base in zip(
                        o["categories"], o["current"], o["baseline"], strict=True
                    )
                ],
                "series": ["current", "baseline"],
            }
        details.append({"id": f"drift-{name}", "title": name, "charts": [chart], "tables": []})
    return _section(
        "drift",
        "Drift against the baseline",
        notes=[
            f"{len(drift.get('drifted_columns') or [])} drifted column(s): "
            + (", ".join(drift.get("drifted_columns") or []) or "none")
        ],
        tables=[
            _table(
                "Drift tests",
                ["column", "status", "test", "KS statistic", "PSI", "p-value", "drifted"],
                rows,
            )
        ],
        details=details,
    )


# ---------------------------------------------------------------- clean-my-data


def _clean_sections(report: dict[str, Any]) -> list[dict[str, Any]]:
    figures = report.get("figures") or {}
    sections = []
    wb = _data(report, "cleanse-writeback")
    if wb:
        items = [
            {"label": "in", "value": wb.get("rows_in")},
            {"label": "removed (duplicates)", "value": wb.get("rows_removed_duplicates")},
            {"label": "removed (other)", "value": wb.get("rows_removed_other")},
            {"label": "quarantined", "value": wb.get("rows_quarantined")},
            {"label": "out", "value": wb.get("rows_out")},
        ]
        sections.append(
            _section(
                "rows",
                "Row arithmetic",
                notes=[
                    f"{wb.get('row_arithmetic', '')} "
                    + ("(reconciled)" if wb.get("row_arithmetic_ok") else "(does not add up)")
                ],
                charts=[
                    {
                        "kind": "bars",
                        "id": "row-arithmetic",
                        "title": "Rows in, removed, quarantined, out",
                        "items": [i for i in items if i["value"] is not None],
                    }
                ],
            )
        )
    ba = figures.get("before_after") or []
    if ba:

        def cells(s: dict[str, Any] | None, key: str) -> Any:
            return None if s is None else _r(s.get(key), 4)

        rows = [
            [
                b["column"],
                b.get("dtype_before"),
                b.get("dtype_after"),
                cells(b["before"], "missing"),
                cells(b["after"], "missing"),
                cells(b["before"], "distinct"),
                cells(b["after"], "distinct"),
                cells(b["before"], "mean"),
                cells(b["after"], "mean"),
            ]
            for b in ba
        ]
        notes = []
        if not all(b.get("distinct_exact", True) for b in ba):
            notes.append("Distinct counts are estimates (HyperLogLog) for inputs this large.")
        sections.append(
            _section(
                "before-after",
                "Columns before and after",
                notes=notes,
                charts=[
                    {
                        "kind": "bars",
                        "id": "missing-before-after",
                        "title": "Missing cells per column, after vs before",
                        "items": [
                            {
                                "label": b["column"],
                                "value": (b["after"] or {}).get("missing", 0),
                                "overlay": b["before"].get("missing", 0),
                            }
                            for b in ba[:MISSING_BARS]
                        ],
                        "series": ["after", "before"],
                    }
                ],
                tables=[
                    _table(
                        "Per column",
                        [
                            "column",
                            "type before",
                            "type after",
                            "missing before",
                            "missing after",
                            "distinct before",
                            "distinct after",
                            "mean before",
                            "mean after",
                        ],
                        rows,
                    )
                ],
            )
        )
    cs = report.get("change_summary") or {}
    by_rule = cs.get("by_agent_rule") or []
    if by_rule:
        samples = []
        for a in report.get("agents", []):
            seen: dict[str, int] = {}
            for c in a.get("changes", []):
                key = str(c.get("rule"))
                if seen.get(key, 0) >= SAMPLE_CHANGES:
                    continue
                seen[key] = seen.get(key, 0) + 1
                samples.append(
                    [
                        a.get("agent_id"),
                        c.get("rule"),
                        c.get("row_id"),
                        c.get("column"),
                        _short(c.get("before")),
                        _short(c.get("after")),
                        c.get("reason"),
                    ]
                )
        sections.append(
            _section(
                "changes",
                "Changes by agent and rule",
                charts=[
                    {
                        "kind": "bars",
                        "id": "changes-by-rule",
                        "title": "Changes per agent and rule",
                        "items": [
                            {"label": f"{r['agent_id']} · {r['rule']}", "value": r["count"]}
                            for r in by_rule
                        ],
                    }
                ],
                tables=[
                    _table(
                        "Counts",
                        ["agent", "rule", "kind", "count"],
                        [[r["agent_id"], r["rule"], r["kind"], r["count"]] for r in by_rule],
                    ),
                    _table(
                        f"Sample of changes (up to {SAMPLE_CHANGES} per rule)",
                        ["agent", "rule", "row", "column", "before", "after", "reason"],
                        samples,
                    ),
                ],
            )
        )
    q = _agent(report, "quarantine-agent")
    if q:
        qd = q.get("data") or {}
        rows = [
            [ri.get("row_id"), ri.get("issue_type"), ri.get("message")]
            for ri in q.get("row_level_issues", [])[:QUARANTINE_ROWS]
        ]
        sections.append(
            _section(
                "quarantine",
                "Quarantined rows",
                notes=[
                    f"{qd.get('quarantined_rows', 0)} row(s) quarantined; by rule: "
                    + (
                        ", ".join(
                            f"{k} {v}" for k, v in (qd.get("violations_by_rule") or {}).items()
                        )
                        or "none"
                    )
                ],
                tables=[_table("Quarantined rows (first 50)", ["row", "rule", "reason"], rows)],
            )
        )
    return sections


def _short(value: Any) -> Any:
    if isinstance(value, dict | list):
        value = str(value)
    if isinstance(value, str) and len(value) > 80:
        return value[:79] + "…"
    return value


# ---------------------------------------------------------------- master-my-data


def _master_sections(report: dict[str, Any]) -> list[dict[str, Any]]:
    figures = report.get("figures") or {}
    sections = []
    sizes = figures.get("cluster_sizes") or []
    if sizes:
        sections.append(
            _section(
                "clusters",
                "Cluster sizes",
                charts=[
                    {
                        "kind": "bars",
                        "id": "cluster-sizes",
                        "title": "Golden records by number of source rows",
                        "items": [
                            {"label": f"{s['size']} rows", "value": s["clusters"]} for s in sizes
                        ],
                    }
                ],
                tables=[
                    _table(
                        "Cluster sizes",
                        ["source rows", "golden records"],
                        [[s["size"], s["clusters"]] for s in sizes],
                    )
                ],
            )
        )
    gb = _data(report, "golden-record-builder")
    hist = gb.get("score_histogram")
    if isinstance(hist, list) and hist:
        edges = [float(hist[0].get("from", 0))] + [float(h.get("to", 0)) for h in hist]
        sections.append(
            _section(
                "scores",
                "Match scores",
                notes=[
                    f"Candidate pairs by match probability; threshold {gb.get('match_threshold')}."
                ],
                charts=[
                    {
                        "kind": "histogram",
                        "id": "match-scores",
                        "title": "Match score distribution",
                        "edges": edges,
                        "counts": [int(h.get("pairs", 0)) for h in hist],
                        "marker": gb.get("match_threshold"),
                    }
                ],
                tables=[
                    _table(
                        "Score bins",
                        ["from", "to", "pairs"],
                        [[h.get("from"), h.get("to"), h.get("pairs")] for h in hist],
                    )
                ],
            )
        )
    samples = figures.get("cluster_samples") or []
    if samples:
        details = []
        for s in samples:
            fields = s["fields"]
            rows = [["golden", *[s["golden"].get(f) for f in fields]]]
            rows += [
                [f"row {m['row_id']}", *[m["values"].get(f) for f in fields]] for m in s["members"]
            ]
            details.append(
                {
                    "id": f"cluster-{s['golden_id']}",
                    "title": f"Golden record {s['golden_id']} ({s.get('source_count')} rows, "
                    f"trust {s.get('trust_score')})",
                    "charts": [],
                    "tables": [
                        _table("Members", ["record", *fields], rows) | {"highlight_first": True}
                    ],
                }
            )
        sections.append(
            _section(
                "cluster-samples",
                "Sample clusters",
                notes=["Each golden record above its source rows; the surviving value is marked."],
                details=details,
            )
        )
    steward = _agent(report, "stewardship-flagger")
    if steward:
        counts = (steward.get("data") or {}).get("task_counts") or {}
        rows = [
            [
                ri.get("row_id"),
                ri.get("column"),
                ri.get("issue_type"),
                ri.get("severity"),
                _short(ri.get("value")),
                ri.get("message"),
            ]
            for ri in steward.get("row_level_issues", [])[:QUEUE_ROWS]
        ]
        sections.append(
            _section(
                "stewardship",
                "Stewardship queue",
                notes=[
                    f"{steward.get('row_level_issues_total', len(rows))} task(s): "
                    + (", ".join(f"{k} {v}" for k, v in counts.items()) or "none")
                ],
                tables=[
                    _table(
                        f"First {QUEUE_ROWS} tasks",
                        ["golden", "field", "type", "severity", "value", "message"],
                        rows,
                    )
                ],
            )
        )
    return sections


TOOL_SECTIONS = {
    "profile-my-data": _profile_sections,
    "clean-my-data": _clean_sections,
    "master-my-data": _master_sections,
}


def report_model(report: dict[str, Any]) -> dict[str, Any]:
    """The model both renderers draw (see the module doc)."""
    tool_sections = TOOL_SECTIONS.get(str(report.get("tool_id")))
    return {
        "title": f"{report.get('tool_title') or report.get('tool_id')} report",
        "overview": _overview(report),
        "sections": [
            _alerts_section(report),
            *(tool_sections(report) if tool_sections else []),
            _agents_section(report),
        ],
    }
