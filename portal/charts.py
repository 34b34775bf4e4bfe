"""Server-rendered SVG charts for the regulator's dashboards: horizontal bars for counts by
category and columns for a daily series. No JavaScript; each chart is an accessible image
(`role="img"` with a title and a description listing every figure), and each bar carries
its own `<title>` so a pointer shows the exact figure.

Labels arrive already translated and formatted (the caller owns the locale); this module
only lays out and escapes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = ["Bar", "bar_chart", "column_chart"]

_FONT = 12
_PALETTE = ("#1f6feb", "#2da44e", "#bf8700", "#cf222e", "#8250df", "#0a7d8c")


@dataclass(frozen=True, slots=True)
class Bar:
    """One figure of a chart: its label, its value and the text shown for it."""

    label: str
    value: float
    shown: str = ""  # the formatted value; str(value) when empty

    @property
    def text(self) -> str:
        return self.shown or f"{self.value:g}"


def _text_width(text: str) -> float:
    """Rough rendered width at the chart's font size: CJK glyphs are square, Latin narrow."""
    return sum(_FONT if ord(ch) >= 0x2E80 else _FONT * 0.58 for ch in text)


def _scale(bars: Sequence[Bar]) -> float:
    top = max((b.value for b in bars), default=0.0)
    return top if top > 0 else 1.0


def _frame(chart_id: str, title: str, bars: Sequence[Bar], width: int, height: int) -> str:
    desc = "; ".join(f"{b.label}: {b.text}" for b in bars)
    return (
        f'<svg class="chart" id="{escape(chart_id)}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-t {escape(chart_id)}-d" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'xmlns="http://www.w3.org/2000/svg" font-size="{_FONT}">'
        f'<title id="{escape(chart_id)}-t">{escape(title)}</title>'
        f'<desc id="{escape(chart_id)}-d">{escape(desc)}</desc>'
    )


def bar_chart(
    bars: Sequence[Bar], *, chart_id: str, title: str, width: int = 420, empty: str = "-"
) -> Markup:
    """Horizontal bars, one row per category, labels on the left and figures on the right."""
    row, gap, figure_w = 22, 6, 60
    longest = max((_text_width(b.label) for b in bars), default=0.0)
    label_w = int(min(max(60.0, longest + 12), width * 0.5))
    height = max(1, len(bars)) * (row + gap) + gap
    top = _scale(bars)
    span = width - label_w - figure_w
    parts = [_frame(chart_id, title, bars, width, height)]
    if not bars:
        parts.append(f'<text x="0" y="{row}">{escape(empty)}</text>')
    for i, bar in enumerate(bars):
        y = gap + i * (row + gap)
        length = 0.0 if bar.value <= 0 else max(2.0, span * bar.value / top)
        colour = _PALETTE[i % len(_PALETTE)]
        parts.append(
            f'<g class="bar"><title>{escape(bar.label)}: {escape(bar.text)}</title>'
            f'<text x="{label_w - 8}" y="{y + row * 0.7:.1f}" text-anchor="end">'
            f"{escape(bar.label)}</text>"
            f'<rect x="{label_w}" y="{y}" width="{length:.1f}" height="{row}" rx="3" '
            f'fill="{colour}"/>'
            f'<text x="{label_w + length + 6:.1f}" y="{y + row * 0.7:.1f}">'
            f"{escape(bar.text)}</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def column_chart(
    columns: Sequence[Bar],
    *,
    chart_id: str,
    title: str,
    width: int = 560,
    height: int = 200,
    empty: str = "-",
) -> Markup:
    """Vertical columns over a series (e.g. one per day), with the largest figure marked on
    the axis and every Nth label printed so that labels never overlap."""
    axis_w, base_h, top_pad = 36, 34, 14
    plot_w, plot_h = width - axis_w, height - base_h - top_pad
    top = _scale(columns)
    parts = [_frame(chart_id, title, columns, width, height)]
    baseline = top_pad + plot_h
    parts.append(
        f'<line x1="{axis_w}" y1="{baseline}" x2="{width}" y2="{baseline}" stroke="#888"/>'
        f'<text x="{axis_w - 4}" y="{top_pad + 4}" text-anchor="end">{top:g}</text>'
        f'<text x="{axis_w - 4}" y="{baseline}" text-anchor="end">0</text>'
    )
    if not columns:
        parts.append(f'<text x="{axis_w + 8}" y="{baseline - 8}">{escape(empty)}</text>')
    slot = plot_w / max(1, len(columns))
    label_every = max(1, round(len(columns) * 64 / plot_w))
    for i, col in enumerate(columns):
        h = 0.0 if col.value <= 0 else max(1.0, plot_h * col.value / top)
        x = axis_w + i * slot + slot * 0.15
        parts.append(
            f'<g class="column"><title>{escape(col.label)}: {escape(col.text)}</title>'
            f'<rect x="{x:.1f}" y="{baseline - h:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{h:.1f}" fill="{_PALETTE[0]}"/></g>'
        )
        if i % label_every == 0:
            parts.append(
                f'<text x="{x + slot * 0.35:.1f}" y="{baseline + 16}" text-anchor="middle">'
                f"{escape(col.label)}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))
