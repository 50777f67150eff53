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
from pathlib import Path
from typing import Any

from transformers.report.model import report_model
from transformers.report.svg import render_chart

REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'"
)

#: The stylesheet (vendored next to this module), inlined into every report.
REPORT_CSS = (Path(__file__).parent / "report.css").read_text(encoding="utf-8").strip()

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
            attr = ' scope="row"' if tag == "th" else ""
            cells.append(
                f'<{tag}{attr} class="{cls}">{text}</{tag}>'
                if cls
                else f"<{tag}{attr}>{text}</{tag}>"
            )
        klass = ' class="golden"' if golden is not None and k == 0 else ""
        rows.append(f"<tr{klass}>{''.join(cells)}</tr>")
    out.append(
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )
    return "".join(out)


def _block(item: dict[str, Any]) -> str:
    parts = [f'<p class="note">{escape(n)}</p>' for n in item.get("notes", [])]
    parts += [render_chart(c) for c in item.get("charts", [])]
    parts += [_table(t) for t in item.get("tables", [])]
    return "".join(parts)


def _overview(ov: dict[str, Any]) -> str:
    cards = "".join(
        f'<div class="card {escape(str(i.get("status", "")))}">'
        f"<dt>{escape(str(i.get('title')))}</dt>"
        f"<dd>{_cell(i.get('value'))[1]}</dd></div>"
        for i in ov.get("items", [])
    )
    parts = [f'<section id="overview"><h2>Overview</h2><dl class="cards">{cards}</dl>']
    q = ov.get("quality")
    if q:
        comps = ", ".join(f"{k} {v}" for k, v in (q.get("components") or {}).items())
        parts.append(
            '<p class="note" id="grade">Quality grade '
            f"<strong>{escape(str(q.get('grade')))}</strong>"
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
                f'<details id="{escape(d["id"])}"><summary>{escape(d["title"])}</summary>'
                f"{_block(d)}</details>"
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
