"""Charts as inline SVG strings, drawn in Python: no script, no library, no network.

Every mark carries its number (``data-label``, ``data-value``, and ``data-overlay`` for the
second series) and a ``<title>`` tooltip, so a person can hover it and a test can read it back.
Colours are classes only (no ``style=`` attributes), which keeps the report valid under a strict
Content-Security-Policy.
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


def _el(tag: str, attrs: dict[str, Any], inner: str | None = None) -> str:
    """One element; attributes in order, values escaped, floats to one decimal."""
    parts = []
    for k, v in attrs.items():
        if v is None:
            continue
        text = f"{v:.1f}" if isinstance(v, float) else str(v)
        parts.append(f'{k}="{escape(text)}"')
    head = f"<{tag} {' '.join(parts)}"
    return f"{head}/>" if inner is None else f"{head}>{inner}</{tag}>"


def _title(text: str) -> str:
    return f"<title>{escape(text)}</title>"


def _svg(cid: str, kind: str, width: int, height: int, title: str, body: list[str]) -> str:
    attrs = {
        "class": f"chart {kind}",
        "id": cid,
        "data-chart": kind,
        "viewBox": f"0 0 {width} {height}",
        "width": width,
        "height": height,
        "role": "img",
        "aria-label": title,
        "xmlns": "http://www.w3.org/2000/svg",
    }
    return _el("svg", attrs, "".join(body))


def _text(x: float, y: float, text: str, cls: str = "label", anchor: str | None = None) -> str:
    return _el("text", {"class": cls, "x": x, "y": y, "text-anchor": anchor}, escape(text))


def _legend(x: int, y: int, names: list[str], classes: tuple[str, str]) -> list[str]:
    out = []
    for k, (name, cls) in enumerate(zip(names[:2], classes, strict=False)):
        left = x + 90 * k
        out.append(
            _el(
                "rect", {"class": f"{cls} legend", "x": left, "y": y - 9, "width": 10, "height": 10}
            )
        )
        out.append(_text(left + 14, y, name))
    return out


def bars(chart: dict[str, Any]) -> str:
    """Horizontal bars, one per item; an item's ``overlay`` is drawn as a thin second bar."""
    items = [i for i in chart.get("items", []) if isinstance(i.get("value"), int | float)]
    has_overlay = any("overlay" in i for i in items)
    series = list(chart.get("series", ["current", "other"]))
    values = [float(i["value"]) for i in items] + [float(i.get("overlay") or 0) for i in items]
    top = max([0.0, *values])
    label_w, pad = 200, 6
    plot = W - label_w - 70
    row = BAR_H + (8 if has_overlay else 4)
    height = max(1, len(items)) * row + 2 * pad + (18 if has_overlay else 0)
    body: list[str] = []
    for k, i in enumerate(items):
        y = pad + k * row
        w = 0.0 if top <= 0 else plot * float(i["value"]) / top
        label = str(i.get("label", ""))
        overlay = i.get("overlay")
        tip = f"{label}: {_fmt(i['value'])}"
        if overlay is not None:
            tip += f" ({series[1]} {_fmt(overlay)})"
        body.append(
            _text(
                label_w - 6,
                y + BAR_H - 5,
                label[:29] + "…" if len(label) > 30 else label,
                anchor="end",
            )
        )
        attrs = {
            "class": "bar",
            "x": label_w,
            "y": y,
            "width": w,
            "height": BAR_H - (6 if has_overlay else 0),
            "data-label": label,
            "data-value": _n(i["value"]),
        }
        if overlay is not None:
            attrs["data-overlay"] = _n(overlay)
        body.append(_el("rect", attrs, _title(tip)))
        if overlay is not None:
            ow = 0.0 if top <= 0 else plot * float(overlay) / top
            body.append(
                _el(
                    "rect",
                    {
                        "class": "bar overlay",
                        "x": label_w,
                        "y": y + BAR_H - 5,
                        "width": ow,
                        "height": 5,
                        "data-label": label,
                        "data-value": _n(overlay),
                    },
                )
            )
        body.append(_text(label_w + w + 4, y + BAR_H - 5, _fmt(i["value"]), "value"))
    if has_overlay:
        body += _legend(label_w, height - 6, series, ("bar", "bar overlay"))
    return _svg(chart["id"], "bars", W, height, chart.get("title", ""), body)


def histogram(chart: dict[str, Any]) -> str:
    """Vertical bars on their bin edges; ``overlay`` as outlined bars, ``marker`` as a line."""
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

    base = pt + plot_h
    body = [
        _el("line", {"class": "axis", "x1": pl, "y1": base, "x2": W - pr, "y2": base}),
        _text(pl - 4, pt + 10, _fmt(top), "tick", "end"),
        _text(pl - 4, base, "0", "tick", "end"),
    ]
    for k, c in enumerate(counts):
        lo, hi = (edges[k], edges[k + 1]) if k + 1 < len(edges) else (k, k + 1)
        h = plot_h * c / top
        x, step = xpos(k), xpos(k + 1) - xpos(k)
        width = max(1.0, step - 2)
        tip = f"[{_fmt(lo)}, {_fmt(hi)}): {_fmt(c)}"
        attrs = {
            "class": "bar",
            "x": x + 1,
            "y": base - h,
            "width": width,
            "height": float(h),
            "data-label": _n(lo),
            "data-value": _n(c),
        }
        if overlay:
            tip += f" (baseline {_fmt(overlay[k])})"
            attrs["data-overlay"] = _n(overlay[k])
        body.append(_el("rect", attrs, _title(tip)))
        if overlay:
            oh = plot_h * overlay[k] / top
            body.append(
                _el(
                    "rect",
                    {
                        "class": "outline",
                        "x": x + 1,
                        "y": base - oh,
                        "width": width,
                        "height": float(oh),
                        "data-value": _n(overlay[k]),
                    },
                )
            )
    if edges:
        for k in sorted({0, len(edges) // 2, len(edges) - 1}):
            body.append(_text(xpos(k), height - 16, _fmt(edges[k]), "tick", "middle"))
    marker = chart.get("marker")
    if marker is not None and span > 0:
        x = pl + plot_w * (float(marker) - edges[0]) / span
        body.append(
            _el(
                "line",
                {
                    "class": "marker",
                    "x1": x,
                    "y1": pt,
                    "x2": x,
                    "y2": base,
                    "data-value": _n(marker),
                },
                _title(f"threshold {_fmt(marker)}"),
            )
        )
        body.append(_text(x + 4, pt + 12, f"threshold {_fmt(marker)}", "tick marker-label"))
    if overlay:
        body += _legend(
            pl, height - 2, list(chart.get("series", ["current", "baseline"])), ("bar", "outline")
        )
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
    lw = 150
    size = lw + n * cell + 10
    body = []
    for i, name in enumerate(cols):
        short = name if len(name) <= 20 else name[:19] + "…"
        body.append(_text(lw - 6, lw + i * cell + cell * 0.65, short, anchor="end"))
        x = lw + i * cell + cell * 0.65
        body.append(
            _el(
                "text",
                {
                    "class": "label",
                    "x": x,
                    "y": lw - 6,
                    "transform": f"rotate(-60 {x:.1f} {lw - 6})",
                },
                escape(short),
            )
        )
        for j in range(n):
            v = matrix[i][j] if i < len(matrix) and j < len(matrix[i]) else None
            tip = f"{name} × {cols[j]}: " + ("n/a" if v is None else f"{v:.3f}")
            body.append(
                _el(
                    "rect",
                    {
                        "class": f"cell {_heat_class(v)}",
                        "x": lw + j * cell,
                        "y": lw + i * cell,
                        "width": cell - 1,
                        "height": cell - 1,
                        "data-row": name,
                        "data-col": cols[j],
                        "data-value": _n(v),
                    },
                    _title(tip),
                )
            )
    # Room on the right for the last column's slanted label.
    return _svg(chart["id"], "heatmap", size + 110, size, chart.get("title", ""), body)


CHARTS = {"bars": bars, "histogram": histogram, "heatmap": heatmap}


def render_chart(chart: dict[str, Any]) -> str:
    return CHARTS[chart["kind"]](chart)
