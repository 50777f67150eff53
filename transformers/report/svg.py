"""Charts as inline SVG strings, drawn in Python: no script, no library, no network.

Every mark carries its number (``data-label``, ``data-value``, and ``data-overlay`` for the
second series) and a ``<title>`` tooltip, so a person can hover it and a test can read it back.
Colours are presentation attributes and classes only (no ``style=`` attributes), which keeps the
report valid under a strict Content-Security-Policy.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

W = 640
BAR_H = 18


def _n(x: Any) -> str:
    if x is None:
        return ""
    if isinstance(x, float):
        return f"{x:.6g}"
    return str(x)


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:,.2f}" if abs(x) >= 1000 else f"{x:.4g}"
    if isinstance(x, int):
        return f"{x:,}"
    return str(x)


def _svg(cid: str, kind: str, width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg class="chart {kind}" id="{escape(cid)}" data-chart="{kind}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        + "".join(body)
        + "</svg>"
    )


def bars(chart: dict[str, Any]) -> str:
    """Horizontal bars, one per item; an item's ``overlay`` is drawn as a thin second bar."""
    items = [i for i in chart.get("items", []) if isinstance(i.get("value"), int | float)]
    has_overlay = any("overlay" in i for i in items)
    top = max(
        [0.0, *[float(i["value"]) for i in items], *[float(i.get("overlay") or 0) for i in items]]
    )
    label_w, pad = 200, 6
    plot = W - label_w - 70
    row = BAR_H + (8 if has_overlay else 4)
    height = max(1, len(items)) * row + 2 * pad + (18 if has_overlay else 0)
    body: list[str] = []
    for k, i in enumerate(items):
        y = pad + k * row
        value = float(i["value"])
        w = 0 if top <= 0 else plot * value / top
        label = str(i.get("label", ""))
        short = label if len(label) <= 30 else label[:29] + "…"
        overlay = i.get("overlay")
        tip = f"{label}: {_fmt(i['value'])}" + (
            f" ({chart.get('series', ['', 'other'])[1]} {_fmt(overlay)})"
            if overlay is not None
            else ""
        )
        body.append(
            f'<text class="label" x="{label_w - 6}" y="{y + BAR_H - 5}" text-anchor="end">'
            f"{escape(short)}</text>"
        )
        body.append(
            f'<rect class="bar" x="{label_w}" y="{y}" width="{w:.1f}" height="{BAR_H - (6 if has_overlay else 0)}" '
            f'data-label="{escape(label)}" data-value="{_n(i["value"])}"'
            + (f' data-overlay="{_n(overlay)}"' if overlay is not None else "")
            + f"><title>{escape(tip)}</title></rect>"
        )
        if overlay is not None:
            ow = 0 if top <= 0 else plot * float(overlay) / top
            body.append(
                f'<rect class="bar overlay" x="{label_w}" y="{y + BAR_H - 5}" width="{ow:.1f}" '
                f'height="5" data-label="{escape(label)}" data-value="{_n(overlay)}"/>'
            )
        body.append(
            f'<text class="value" x="{label_w + w + 4:.1f}" y="{y + BAR_H - 5}">{_fmt(i["value"])}</text>'
        )
    if has_overlay:
        a, b = chart.get("series", ["current", "other"])[:2]
        y = height - 6
        body.append(f'<rect class="bar legend" x="{label_w}" y="{y - 9}" width="10" height="10"/>')
        body.append(f'<text class="label" x="{label_w + 14}" y="{y}">{escape(a)}</text>')
        body.append(
            f'<rect class="bar overlay legend" x="{label_w + 90}" y="{y - 9}" width="10" height="10"/>'
        )
        body.append(f'<text class="label" x="{label_w + 104}" y="{y}">{escape(b)}</text>')
    return _svg(chart["id"], "bars", W, height, chart.get("title", ""), body)


def histogram(chart: dict[str, Any]) -> str:
    """Vertical bars over bin edges; ``overlay`` as outlined bars, ``marker`` as a red line."""
    edges = [float(e) for e in chart.get("edges", [])]
    counts = list(chart.get("counts", []))
    overlay = chart.get("overlay")
    height, pl, pb, pt, pr = 220, 56, 34, 10, 10
    plot_w, plot_h = W - pl - pr, height - pb - pt
    top = max([1, *counts, *(overlay or [])])
    span = (edges[-1] - edges[0]) if len(edges) == len(counts) + 1 else 0.0

    def xpos(k: int) -> float:  # bars sit on their true bin edges (bins may be unequal)
        if span > 0:
            return pl + plot_w * (edges[k] - edges[0]) / span
        return pl + plot_w * k / max(1, len(counts))

    body = [
        f'<line class="axis" x1="{pl}" y1="{pt + plot_h}" x2="{W - pr}" y2="{pt + plot_h}"/>',
        f'<text class="tick" x="{pl - 4}" y="{pt + 10}" text-anchor="end">{_fmt(top)}</text>',
        f'<text class="tick" x="{pl - 4}" y="{pt + plot_h}" text-anchor="end">0</text>',
    ]
    for k, c in enumerate(counts):
        lo, hi = (edges[k], edges[k + 1]) if k + 1 < len(edges) else (k, k + 1)
        h = plot_h * c / top
        x, step = xpos(k), xpos(k + 1) - xpos(k)
        tip = f"[{_fmt(lo)}, {_fmt(hi)}): {_fmt(c)}" + (
            f" (baseline {_fmt(overlay[k])})" if overlay else ""
        )
        body.append(
            f'<rect class="bar" x="{x + 1:.1f}" y="{pt + plot_h - h:.1f}" width="{max(1.0, step - 2):.1f}" '
            f'height="{h:.1f}" data-label="{_n(lo)}" data-value="{_n(c)}"'
            + (f' data-overlay="{_n(overlay[k])}"' if overlay else "")
            + f"><title>{escape(tip)}</title></rect>"
        )
        if overlay:
            oh = plot_h * overlay[k] / top
            body.append(
                f'<rect class="outline" x="{x + 1:.1f}" y="{pt + plot_h - oh:.1f}" '
                f'width="{max(1.0, step - 2):.1f}" height="{oh:.1f}" data-value="{_n(overlay[k])}"/>'
            )
    if edges:
        for k in sorted({0, len(edges) // 2, len(edges) - 1}):
            x = xpos(k) if k < len(edges) else pl + plot_w
            body.append(
                f'<text class="tick" x="{x:.1f}" y="{height - 16}" text-anchor="middle">{_fmt(edges[k])}</text>'
            )
    marker = chart.get("marker")
    if marker is not None and len(edges) > 1 and edges[-1] > edges[0]:
        x = pl + plot_w * (float(marker) - edges[0]) / (edges[-1] - edges[0])
        body.append(
            f'<line class="marker" x1="{x:.1f}" y1="{pt}" x2="{x:.1f}" y2="{pt + plot_h}" '
            f'data-value="{_n(marker)}"><title>threshold {_fmt(marker)}</title></line>'
        )
        body.append(
            f'<text class="tick marker-label" x="{x + 4:.1f}" y="{pt + 12}">threshold {_fmt(marker)}</text>'
        )
    if overlay:
        a, b = chart.get("series", ["current", "baseline"])[:2]
        body.append(f'<rect class="bar legend" x="{pl}" y="{height - 11}" width="10" height="10"/>')
        body.append(f'<text class="label" x="{pl + 14}" y="{height - 2}">{escape(a)}</text>')
        body.append(
            f'<rect class="outline legend" x="{pl + 90}" y="{height - 11}" width="10" height="10"/>'
        )
        body.append(f'<text class="label" x="{pl + 104}" y="{height - 2}">{escape(b)}</text>')
    return _svg(chart["id"], "histogram", W, height, chart.get("title", ""), body)


def _heat_class(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "h-na"
    step = min(4, int(abs(v) * 5))
    return f"h-{'p' if v >= 0 else 'n'}{step}"


def heatmap(chart: dict[str, Any]) -> str:
    cols = [str(c) for c in chart.get("columns", [])]
    matrix = chart.get("matrix", [])
    n = len(cols)
    cell = max(14, min(36, 420 // max(1, n)))
    label_w = 150
    size = label_w + n * cell + 10
    body = []
    for i, name in enumerate(cols):
        short = name if len(name) <= 20 else name[:19] + "…"
        body.append(
            f'<text class="label" x="{label_w - 6}" y="{label_w + i * cell + cell * 0.65:.1f}" '
            f'text-anchor="end">{escape(short)}</text>'
        )
        x = label_w + i * cell + cell * 0.65
        body.append(
            f'<text class="label" x="{x:.1f}" y="{label_w - 6}" '
            f'transform="rotate(-60 {x:.1f} {label_w - 6})">{escape(short)}</text>'
        )
        for j in range(n):
            v = matrix[i][j] if i < len(matrix) and j < len(matrix[i]) else None
            tip = f"{name} × {cols[j]}: " + ("n/a" if v is None else f"{v:.3f}")
            body.append(
                f'<rect class="cell {_heat_class(v)}" x="{label_w + j * cell}" y="{label_w + i * cell}" '
                f'width="{cell - 1}" height="{cell - 1}" data-row="{escape(name)}" '
                f'data-col="{escape(cols[j])}" data-value="{_n(v)}"><title>{escape(tip)}</title></rect>'
            )
    return _svg(chart["id"], "heatmap", size, size, chart.get("title", ""), body)


CHARTS = {"bars": bars, "histogram": histogram, "heatmap": heatmap}


def render_chart(chart: dict[str, Any]) -> str:
    return CHARTS[chart["kind"]](chart)
