"""``report.html``: the report model as one self-contained page.

No script, no external reference of any kind: the styles are one inline ``<style>`` block
(``REPORT_CSS``, constant, so a page embedding the report can allow exactly its hash), the charts
inline SVG (``svg.py``), per-item pages ``<details>`` elements. A ``<meta>`` Content-Security-
Policy forbids every fetch wherever the file is opened (a browser, a mail client, a file share).
"""

from __future__ import annotations

import base64
import hashlib
from html import escape
from typing import Any

from transformers.report.model import report_model
from transformers.report.svg import render_chart

REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

REPORT_CSS = """
:root{--fg:#1b1f24;--muted:#4a5563;--line:#d5dbe3;--accent:#0b57a4;--bg:#f5f7fa;--bad:#a40e26;--ok:#116329;--warn:#7a4d00}
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{background:#12263f;color:#fff;padding:14px 20px}header h1{margin:0;font-size:20px}header p{margin:4px 0 0;color:#c9d4e3;font-size:13px}
main{max-width:1100px;margin:0 auto;padding:16px}nav{margin:0 0 12px;font-size:14px}nav a{margin-right:12px;color:var(--accent)}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:14px 16px;margin:0 0 14px}
h2{font-size:17px;margin:0 0 10px}h3{font-size:15px;margin:12px 0 6px}.note{color:var(--muted);margin:4px 0 8px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px;margin:0}
.card{border:1px solid var(--line);border-radius:6px;padding:8px 10px}.card dt{color:var(--muted);font-size:12px}.card dd{margin:2px 0 0;font-size:19px;font-weight:600}
.card.good dd{color:var(--ok)}.card.critical dd{color:var(--bad)}.card.warning dd{color:var(--warn)}
.scroll{overflow-x:auto;max-height:560px;overflow-y:auto}table{border-collapse:collapse;width:100%;font-size:13px;margin:4px 0 10px}
th,td{text-align:left;padding:3px 6px;border-bottom:1px solid var(--line);vertical-align:top}thead th{color:var(--muted);position:sticky;top:0;background:#fff}
td.num{text-align:right;font-variant-numeric:tabular-nums}tr.golden td{font-weight:600;background:#eef4fb}td.survivor{background:#dff3e4;font-weight:600}
details{border-top:1px solid var(--line);padding:6px 0}summary{cursor:pointer;color:var(--accent);font-weight:600}
svg.chart{max-width:100%;height:auto;display:block;margin:6px 0}svg .bar{fill:#0b57a4}svg .bar.overlay{fill:#c85a00}svg .outline{fill:none;stroke:#c85a00;stroke-width:2}
svg .label,svg .value,svg .tick{fill:#4a5563;font-size:11px}svg .axis{stroke:#6b7682}svg .marker{stroke:#a40e26;stroke-width:2}svg .marker-label{fill:#a40e26}
svg .h-na{fill:#eee}svg .h-p0,svg .h-n0{fill:#f4f4f4}svg .h-p1{fill:#d6e4f5}svg .h-p2{fill:#9dbbe3}svg .h-p3{fill:#4f86c6}svg .h-p4{fill:#0b57a4}
svg .h-n1{fill:#f9dcd4}svg .h-n2{fill:#f0a993}svg .h-n3{fill:#d9664a}svg .h-n4{fill:#a40e26}
.sev{display:inline-block;min-width:64px;font-weight:600}.sev.critical,.sev.high{color:var(--bad)}.sev.medium{color:var(--warn)}
""".strip()

#: For a page that embeds the report (the dashboard): ``style-src 'sha256-…'`` allows exactly it.
REPORT_CSS_HASH = (
    "sha256-" + base64.b64encode(hashlib.sha256(REPORT_CSS.encode()).digest()).decode()
)


def _cell(value: Any) -> tuple[str, str]:
    if value is None:
        return "", "–"
    if isinstance(value, bool):
        return "", "yes" if value else "no"
    if isinstance(value, int):
        return "num", f"{value:,}"
    if isinstance(value, float):
        return "num", f"{value:,.2f}" if abs(value) >= 1000 else f"{value:.4g}"
    return "", escape(str(value))


def _table(t: dict[str, Any]) -> str:
    out = [f"<h3>{escape(t['title'])}</h3>"] if t.get("title") else []
    if not t["rows"]:
        out.append('<p class="note">None.</p>')
        return "".join(out)
    head = "".join(f'<th scope="col">{escape(str(c))}</th>' for c in t["columns"])
    rows = []
    golden = t["rows"][0] if t.get("highlight_first") else None
    for k, r in enumerate(t["rows"]):
        cells = []
        for j, v in enumerate(r):
            cls, text = _cell(v)
            if golden is not None and k > 0 and j > 0 and v is not None and v == golden[j]:
                cls = (cls + " survivor").strip()
            tag = "th" if j == 0 else "td"
            attr = f' scope="row"' if tag == "th" else ""
            cells.append(
                f'<{tag}{attr} class="{cls}">{text}</{tag}>'
                if cls
                else f"<{tag}{attr}>{text}</{tag}>"
            )
        klass = ' class="golden"' if golden is not None and k == 0 else ""
        rows.append(f"<tr{klass}>{''.join(cells)}</tr>")
    out.append(
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
    )
    return "".join(out)


def _block(item: dict[str, Any]) -> str:
    parts = [f'<p class="note">{escape(n)}</p>' for n in item.get("notes", [])]
    parts += [render_chart(c) for c in item.get("charts", [])]
    parts += [_table(t) for t in item.get("tables", [])]
    return "".join(parts)


def _overview(ov: dict[str, Any]) -> str:
    cards = "".join(
        f'<div class="card {escape(str(i.get("status", "")))}"><dt>{escape(str(i.get("title")))}</dt>'
        f"<dd>{_cell(i.get('value'))[1]}</dd></div>"
        for i in ov.get("items", [])
    )
    parts = [f'<section id="overview"><h2>Overview</h2><dl class="cards">{cards}</dl>']
    q = ov.get("quality")
    if q:
        comps = ", ".join(f"{k} {v}" for k, v in (q.get("components") or {}).items())
        parts.append(
            f'<p class="note" id="grade">Quality grade <strong>{escape(str(q.get("grade")))}</strong>'
            f" (score {escape(str(q.get('score')))})"
            + (f": {escape(q['formula'])}" if q.get("formula") else "")
            + (f" with {escape(comps)}" if comps else "")
            + "</p>"
        )
    nxt = ov.get("next_tool")
    if nxt:
        parts.append(
            f'<p class="note">Recommended next: <strong>{escape(str(nxt.get("tool_id")))}</strong>'
            f" — {escape(str(nxt.get('reason', '')))}</p>"
        )
    parts.append("</section>")
    return "".join(parts)


def render_html(report: dict[str, Any], model: dict[str, Any] | None = None) -> str:
    """The whole page for ``report`` (its model computed here unless given)."""
    m = model or report_model(report)
    ov = m["overview"]
    nav = "".join(f'<a href="#{escape(s["id"])}">{escape(s["title"])}</a>' for s in m["sections"])
    body = [_overview(ov)]
    for s in m["sections"]:
        body.append(f'<section id="{escape(s["id"])}"><h2>{escape(s["title"])}</h2>{_block(s)}')
        for d in s.get("details", []):
            body.append(
                f'<details id="{escape(d["id"])}"><summary>{escape(d["title"])}</summary>{_block(d)}</details>'
            )
        body.append("</section>")
    sub = " · ".join(
        escape(str(x))
        for x in (ov.get("task_id"), ov.get("status"), ov.get("generated_at"))
        if x is not None
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{REPORT_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(m['title'])}</title><style>{REPORT_CSS}</style></head><body>"
        f"<header><h1>{escape(m['title'])}</h1><p>{sub}</p></header>"
        f'<main><nav aria-label="Sections">{nav}</nav>{"".join(body)}</main></body></html>'
    )
