"""Inline SVG plots for the HTML report, drawn without any plotting library."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

VERDICT_COLOURS = {
    "pass": "#2e7d32",
    "fail": "#c62828",
    "deviates": "#ad1457",
    "error": "#6a1b9a",
    "inconclusive": "#ef8f00",
    "not-applicable": "#78909c",
    "not-run": "#b0bec5",
}
OUTCOME_COLOURS = {
    "passed": VERDICT_COLOURS["pass"],
    "failed": VERDICT_COLOURS["fail"],
    "error": VERDICT_COLOURS["error"],
    "skipped": VERDICT_COLOURS["inconclusive"],
    "not-applicable": VERDICT_COLOURS["not-applicable"],
}
_FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def fmt(value: float) -> str:
    """Compact number: 4 significant digits, no exponent for everyday magnitudes."""
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e6:
        return f"{value:.4g}" if abs(value) >= 1 else f"{value:.3g}"
    return f"{value:.3g}"


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick positions (1, 2, 5 x 10^k steps) covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    value = first
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile of already sorted values, q in [0, 100]."""
    if not sorted_values:
        raise ValueError("percentile of an empty series")
    position = (len(sorted_values) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def clip_limit(sorted_values: Sequence[float]) -> float | None:
    """Where to end the x axis so a few outliers do not squash the rest into one bar, or None
    to show everything. The limit is p99 or the far-out fence q3 + 3 IQR, whichever is lower;
    it is used only when the values above it would take more than half the axis."""
    if len(sorted_values) < 4:
        return None
    q1, q3 = percentile(sorted_values, 25), percentile(sorted_values, 75)
    limit = min(percentile(sorted_values, 99), q3 + 3 * (q3 - q1))
    lo, hi = sorted_values[0], sorted_values[-1]
    if limit <= lo or hi - limit <= limit - lo:
        return None
    return limit


def histogram_bins(values: Sequence[float]) -> tuple[float, float, list[int]]:
    """(low edge, bin width, counts): sqrt(n) bins, between 1 and 30."""
    lo, hi = min(values), max(values)
    if hi == lo:
        return lo - 0.5, 1.0, [len(values)]
    n_bins = max(1, min(30, math.ceil(math.sqrt(len(values)))))
    width = (hi - lo) / n_bins
    counts = [0] * n_bins
    for v in values:
        counts[min(int((v - lo) / width), n_bins - 1)] += 1
    return lo, width, counts


_OUTLIERS_SHOWN = 5


def histogram_svg(name: str, values: Sequence[float], width: int = 560, height: int = 244) -> str:
    """A histogram with n, min, median, p95 and max; outliers beyond `clip_limit` are drawn as
    one separate bar right of the axis and listed, so they never flatten the rest."""
    values = sorted(float(v) for v in values)
    limit = clip_limit(values)
    body = [v for v in values if limit is None or v <= limit]
    outliers = values[len(body) :]
    left, top, bottom = 48, 52, 40
    right = 62 if outliers else 16
    plot_w, plot_h = width - left - right, height - top - bottom
    lo, bin_w, counts = histogram_bins(body)
    hi = lo + bin_w * len(counts)
    tallest = max(*counts, len(outliers))
    y_ticks = nice_ticks(0, tallest, min(tallest, 4))
    peak = max(y_ticks[-1], tallest)  # the y axis ends on a tick

    def x(v: float) -> float:
        return left + (v - lo) / (hi - lo) * plot_w

    def y(c: float) -> float:
        return top + plot_h - c / peak * plot_h

    stats = (
        f"n={len(values)}  min={fmt(values[0])}  median={fmt(percentile(values, 50))}  "
        f"p95={fmt(percentile(values, 95))}  max={fmt(values[-1])}"
    )
    parts = [
        f'<svg class="plot" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="histogram of {escape(name)}" '
        f"{_FONT}>",
        f'<text x="{left}" y="14" font-weight="bold">{escape(name)}</text>',
        f'<text x="{left}" y="26" fill="#555">{escape(stats)}</text>',
    ]
    if outliers:
        largest = ", ".join(fmt(v) for v in outliers[::-1][:_OUTLIERS_SHOWN])
        more = "" if len(outliers) <= _OUTLIERS_SHOWN else ", …"
        note = (
            f"axis clipped at {fmt(hi)}: {len(outliers)} outlier(s) in the last bar, "
            f"largest {largest}{more}"
        )
        parts.append(f'<text x="{left}" y="38" fill="#ad1457">{escape(note)}</text>')
    for i, count in enumerate(counts):
        if not count:
            continue
        x0, x1 = x(lo + i * bin_w), x(lo + (i + 1) * bin_w)
        tip = f"{fmt(lo + i * bin_w)} to {fmt(lo + (i + 1) * bin_w)}: {count}"
        parts.append(
            f'<rect x="{x0 + 0.5:.1f}" y="{y(count):.1f}" width="{max(x1 - x0 - 1, 1):.1f}" '
            f'height="{top + plot_h - y(count):.1f}" fill="#1565c0">'
            f"<title>{escape(tip)}</title></rect>"
        )
    if outliers:
        x0 = left + plot_w + 14
        listed = ", ".join(fmt(v) for v in outliers[:50]) + ("…" if len(outliers) > 50 else "")
        tip = f"{len(outliers)} above {fmt(hi)}: {listed}"
        parts.append(
            f'<rect x="{x0}" y="{y(len(outliers)):.1f}" width="{right - 22}" '
            f'height="{top + plot_h - y(len(outliers)):.1f}" fill="#ad1457">'
            f"<title>{escape(tip)}</title></rect>"
            f'<text x="{x0 + (right - 22) / 2:.1f}" y="{top + plot_h + 15}" '
            f'text-anchor="middle">&gt; {escape(fmt(hi))}</text>'
        )
    parts.append(_axes(left, top, plot_w, plot_h))
    for tick in nice_ticks(lo, hi):
        if lo <= tick <= hi:
            parts.append(_x_tick(x(tick), top + plot_h, fmt(tick)))
    for tick in y_ticks:
        if tick == int(tick):
            parts.append(_y_tick(left, y(tick), str(int(tick))))
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle">'
        f"{escape(name)}</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class Span:
    label: str
    start: float
    end: float
    outcome: str
    detail: str = ""


def timeline_svg(spans: Sequence[Span], axis_label: str, width: int = 900) -> str:
    """One horizontal bar per span (scenario), coloured by outcome, on a shared time axis."""
    label_w, right, top, row_h = 260, 16, 12, 18
    plot_w = width - label_w - right
    height = top + row_h * len(spans) + 40
    lo = min(0.0, min(s.start for s in spans))
    hi = max(max(s.end for s in spans), lo + 1e-9)

    def x(t: float) -> float:
        return label_w + (t - lo) / (hi - lo) * plot_w

    parts = [
        f'<svg class="plot" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="scenario timeline" {_FONT}>'
    ]
    for i, span in enumerate(spans):
        row_y = top + i * row_h
        label = span.label if len(span.label) <= 42 else span.label[:41] + "…"
        colour = OUTCOME_COLOURS.get(span.outcome, "#90a4ae")
        tip = f"{span.label}: {fmt(span.start)} to {fmt(span.end)} ({span.outcome}) {span.detail}"
        x0 = x(span.start)
        parts.append(
            f'<text x="{label_w - 6}" y="{row_y + row_h - 5}" text-anchor="end">'
            f"{escape(label)}<title>{escape(span.label)}</title></text>"
            f'<rect x="{x0:.1f}" y="{row_y + 3}" width="{max(x(span.end) - x0, 2):.1f}" '
            f'height="{row_h - 6}" fill="{colour}"><title>{escape(tip.strip())}</title></rect>'
        )
    axis_y = top + row_h * len(spans)
    parts.append(
        f'<line x1="{label_w}" y1="{axis_y}" x2="{label_w + plot_w}" y2="{axis_y}" stroke="#333"/>'
    )
    for tick in nice_ticks(lo, hi, 8):
        if lo <= tick <= hi:
            parts.append(_x_tick(x(tick), axis_y, fmt(tick)))
    parts.append(
        f'<text x="{label_w + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle">'
        f"{escape(axis_label)}</text></svg>"
    )
    return "".join(parts)


def verdict_bar_svg(summary: dict[str, int], width: int = 560, height: int = 22) -> str:
    """A stacked bar of requirement counts per verdict."""
    total = sum(summary.values())
    parts = [
        f'<svg class="bar" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="verdicts">'
    ]
    offset = 0.0
    for verdict, colour in VERDICT_COLOURS.items():
        count = summary.get(verdict, 0)
        if not count or not total:
            continue
        w = count / total * width
        parts.append(
            f'<rect x="{offset:.1f}" y="0" width="{w:.1f}" height="{height}" fill="{colour}">'
            f"<title>{escape(verdict)}: {count}</title></rect>"
        )
        offset += w
    parts.append("</svg>")
    return "".join(parts)


def _axes(left: float, top: float, plot_w: float, plot_h: float) -> str:
    return f'<path d="M{left},{top} V{top + plot_h} H{left + plot_w}" fill="none" stroke="#333"/>'


def _x_tick(x: float, y: float, label: str) -> str:
    return (
        f'<line x1="{x:.1f}" y1="{y}" x2="{x:.1f}" y2="{y + 4}" stroke="#333"/>'
        f'<text x="{x:.1f}" y="{y + 15}" text-anchor="middle">{escape(label)}</text>'
    )


def _y_tick(x: float, y: float, label: str) -> str:
    return (
        f'<line x1="{x - 4}" y1="{y:.1f}" x2="{x}" y2="{y:.1f}" stroke="#333"/>'
        f'<text x="{x - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(label)}</text>'
    )
