"""SVG plots of benchmark figures, drawn with the report's small SVG helpers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

from conformance.report.svg import fmt, nice_ticks

_FONT = 'font-family="system-ui, sans-serif" font-size="11"'
BARE, OURS, TARGET = "#9e9e9e", "#1565c0", "#c62828"


def ratio_bars(rows: Sequence[dict[str, Any]], target: float, width: int = 760) -> str:
    """One horizontal bar per comparison row: ours / bare, with the target as a line."""
    bar, gap, left, top = 16, 6, 330, 24
    height = top + len(rows) * (bar + gap) + 30
    hi = max([target * 1.2, *(r["ratio"] or 0 for r in rows)])
    plot_w = width - left - 20

    def x(v: float) -> float:
        return left + plot_w * v / hi

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" {_FONT}>',
        f'<text x="{left}" y="14">'
        f"{escape(f'harness overhead: ours / bare stack (target <= {target}x)')}</text>",
    ]
    for i, r in enumerate(rows):
        y = top + i * (bar + gap)
        label = f"{r['system']}: {r['exchange']} ({r['ours']})"[:60]
        ratio = r["ratio"] or 0.0
        colour = OURS if ratio <= target else TARGET
        parts.append(
            f'<text x="{left - 6}" y="{y + 12}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{left}" y="{y}" width="{x(ratio) - left:.1f}" height="{bar}" '
            f'fill="{colour}"/><text x="{x(ratio) + 4:.1f}" y="{y + 12}">{fmt(ratio)}x</text>'
        )
    bottom = top + len(rows) * (bar + gap)
    parts.append(
        f'<line x1="{x(target):.1f}" y1="{top - 4}" x2="{x(target):.1f}" y2="{bottom}" '
        f'stroke="{TARGET}" stroke-dasharray="4 3"/>'
    )
    for tick in nice_ticks(0, hi):
        parts.append(
            f'<text x="{x(tick):.1f}" y="{bottom + 16}" text-anchor="middle">{fmt(tick)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def log_curves(
    title: str,
    x_label: str,
    y_label: str,
    series: dict[str, list[tuple[float, float]]],
    width: int = 760,
    height: int = 300,
) -> str:
    """Lines on log-log axes, one per series (name -> [(x, y)]), points marked."""
    colours = [BARE, OURS, TARGET, "#2e7d32"]
    left, top, plot_w, plot_h = 70, 28, width - 250, height - 70
    points = [p for values in series.values() for p in values if p[0] > 0 and p[1] > 0]
    if not points:
        return ""
    lx = [math.log10(p[0]) for p in points]
    ly = [math.log10(p[1]) for p in points]
    x0, x1 = math.floor(min(lx)), math.ceil(max(lx))
    y0, y1 = math.floor(min(ly)), math.ceil(max(ly))
    x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)

    def px(v: float) -> float:
        return left + plot_w * (math.log10(v) - x0) / (x1 - x0)

    def py(v: float) -> float:
        return top + plot_h - plot_h * (math.log10(v) - y0) / (y1 - y0)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" {_FONT}>',
        f'<text x="{left}" y="16">{escape(title)}</text>',
        f'<path d="M{left},{top} V{top + plot_h} H{left + plot_w}" fill="none" stroke="#333"/>',
        f'<text x="{left + plot_w / 2}" y="{height - 8}" text-anchor="middle">'
        f"{escape(x_label)}</text>",
        f'<text x="12" y="{top + plot_h / 2}" transform="rotate(-90 12 {top + plot_h / 2})" '
        f'text-anchor="middle">{escape(y_label)}</text>',
    ]
    for k in range(x0, x1 + 1):
        parts.append(
            f'<text x="{px(10**k):.1f}" y="{top + plot_h + 15}" text-anchor="middle">'
            f"{fmt(10**k)}</text>"
        )
    for k in range(y0, y1 + 1):
        parts.append(
            f'<text x="{left - 6}" y="{py(10**k) + 4:.1f}" text-anchor="end">{fmt(10**k)}</text>'
        )
    for i, (name, values) in enumerate(series.items()):
        colour = colours[i % len(colours)]
        good = [(a, b) for a, b in values if a > 0 and b > 0]
        path = " ".join(
            f"{'M' if j == 0 else 'L'}{px(a):.1f},{py(b):.1f}" for j, (a, b) in enumerate(good)
        )
        parts.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        parts.extend(
            f'<circle cx="{px(a):.1f}" cy="{py(b):.1f}" r="3" fill="{colour}"/>' for a, b in good
        )
        ly_ = top + 10 + 16 * i
        parts.append(
            f'<rect x="{left + plot_w + 14}" y="{ly_ - 8}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{left + plot_w + 28}" y="{ly_ + 1}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def compare_svg(results: dict[str, Any], target: float) -> str:
    """The ratio bars of every comparison, then the BLE crowd curves when there are any."""
    rows = [r for c in results["comparisons"].values() for r in c["rows"]]
    plots = [ratio_bars(rows, target)]
    curve = results["comparisons"].get("ble", {}).get("curve")
    if curve:
        n = [float(p["advertisers"]) for p in curve]
        plots.append(
            log_curves(
                "BLE crowd: CPU per advertisement over N (stock LocalLink grows with N)",
                "advertisers",
                "CPU us per advertisement",
                {
                    "stock Bumble LocalLink": list(
                        zip(n, [p["bare_cpu_us_per_advert"] for p in curve], strict=True)
                    ),
                    "ours": list(zip(n, [p["ours_cpu_us_per_advert"] for p in curve], strict=True)),
                },
            )
        )
    return wrap(plots)


def wrap(plots: Sequence[str]) -> str:
    """Several SVG plots stacked in one SVG document."""
    body, y, width = [], 0, 0
    for plot in filter(None, plots):
        w = int(plot.split('width="', 1)[1].split('"', 1)[0])
        h = int(plot.split('height="', 1)[1].split('"', 1)[0])
        body.append(f'<g transform="translate(0,{y})">{plot}</g>')
        y, width = y + h + 10, max(width, w)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}">'
        + "".join(body)
        + "</svg>\n"
    )
