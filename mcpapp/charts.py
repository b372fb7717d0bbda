"""Small server-side SVG charts for the admin: no script, no CDN, nothing the CSP must allow.

Each chart is an inline ``<svg role="img">`` with a title and a description, a ``<title>``
on every bar and point (the value on hover or long press), colours from classes in
``static/css/admin.css`` (so the admin's light and dark themes apply), and a legend in
HTML. The numbers themselves are in a table next to each chart (:func:`table`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 480, 180
LEFT, RIGHT, TOP, BOTTOM = 52, 6, 8, 20
PALETTE_SIZE = 8  # classes series-0 … series-7 in admin.css


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float | None]  # one per day; None: nothing to show that day


def nice_ceiling(value: float) -> float:
    """1, 2 or 5 times a power of ten, at least ``value`` (an axis maximum)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def _at(coordinate: float) -> str:
    return f"{coordinate:.1f}"


Label = Callable[[float], str]  # how a value reads on the axis and in a tooltip


def _frame(chart_id: str, title: str, description: str, top: float, label: Label, days: Sequence[date]) -> list[str]:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts: list[str] = [
        format_html(
            '<title id="{}-title">{}</title><desc id="{}-desc">{}</desc>', chart_id, title, chart_id, description
        )
    ]
    for step in range(5):
        value = top * step / 4
        y = TOP + plot_h - plot_h * step / 4
        parts.append(
            format_html('<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>', LEFT, LEFT + plot_w, _at(y), _at(y))
        )
        parts.append(
            format_html(
                '<text class="axis" x="{}" y="{}" text-anchor="end">{}</text>',
                LEFT - 4,
                _at(y + 4),
                label(value),
            )
        )
    count = len(days)
    for index, day in enumerate(days):
        # Every seventh day, and the last one unless it would run into the one before.
        if (index % 7 == 0 and count - 1 - index >= 3) or index == count - 1:
            x = LEFT + plot_w * (index + 0.5) / max(count, 1)
            parts.append(
                format_html(
                    '<text class="axis" x="{}" y="{}" text-anchor="{}">{}</text>',
                    _at(x),
                    HEIGHT - 5,
                    "end" if index == count - 1 else "middle",
                    day.strftime("%m-%d"),
                )
            )
    return parts


def _svg(chart_id: str, parts: list[str]) -> SafeString:
    body = mark_safe("".join(parts))  # noqa: S308 - every part was built with format_html
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-labelledby="{}-title {}-desc">{}</svg>',
        WIDTH,
        HEIGHT,
        chart_id,
        chart_id,
        body,
    )


def legend(series: Sequence[Series]) -> SafeString:
    return format_html(
        '<ul class="chart-legend">{}</ul>',
        format_html_join(
            "",
            '<li><span class="swatch series-{}" aria-hidden="true"></span>{}</li>',
            ((index % PALETTE_SIZE, item.label) for index, item in enumerate(series)),
        ),
    )


def stacked_bars(
    chart_id: str, title: str, description: str, days: Sequence[date], series: Sequence[Series]
) -> SafeString:
    """One bar per day, one coloured part per series (calls per tool, per client)."""
    totals = [sum(item.values[index] or 0 for item in series) for index in range(len(days))]
    top = nice_ceiling(max(totals, default=0))
    parts = _frame(chart_id, title, description, top, _number, days)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(days), 1)
    for index, day in enumerate(days):
        base = float(TOP + plot_h)
        for number, item in enumerate(series):
            value = item.values[index] or 0
            if not value:
                continue
            height = plot_h * value / top
            base -= height
            parts.append(
                format_html(
                    '<rect class="series-{}" x="{}" y="{}" width="{}" height="{}"><title>{}: {}, {}</title></rect>',
                    number % PALETTE_SIZE,
                    _at(LEFT + slot * index + slot * 0.1),
                    _at(base),
                    _at(slot * 0.8),
                    _at(height),
                    day.isoformat(),
                    item.label,
                    _number(value),
                )
            )
    return _svg(chart_id, parts)


def lines(
    chart_id: str,
    title: str,
    description: str,
    days: Sequence[date],
    series: Sequence[Series],
    label: Label = _number,
) -> SafeString:
    """One line per series, with a dot per day that has a value (error rate, p50 and p95)."""
    top = nice_ceiling(max((value or 0 for item in series for value in item.values), default=0))
    parts = _frame(chart_id, title, description, top, label, days)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(days), 1)
    for number, item in enumerate(series):
        points = [
            (LEFT + slot * (index + 0.5), TOP + plot_h - plot_h * value / top, days[index], value)
            for index, value in enumerate(item.values)
            if value is not None
        ]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _day, _value in points)
            parts.append(format_html('<polyline class="line series-{}" points="{}"/>', number % PALETTE_SIZE, path))
        for x, y, day, value in points:
            parts.append(
                format_html(
                    '<circle class="series-{}" cx="{}" cy="{}" r="2.5"><title>{}: {}, {}</title></circle>',
                    number % PALETTE_SIZE,
                    _at(x),
                    _at(y),
                    day.isoformat(),
                    item.label,
                    label(value),
                )
            )
    return _svg(chart_id, parts)


def table(
    caption: str, days: Sequence[date], series: Sequence[Series], cell: Callable[[float | None], str] = str
) -> SafeString:
    """The chart's numbers: a row per day, a column per series."""
    head = format_html_join("", "<th scope='col'>{}</th>", ((item.label,) for item in series))
    rows = format_html_join(
        "",
        "<tr><th scope='row'>{}</th>{}</tr>",
        (
            (
                day.isoformat(),
                format_html_join("", "<td>{}</td>", ((cell(item.values[index]),) for item in series)),
            )
            for index, day in enumerate(days)
        ),
    )
    return format_html(
        "<details class='chart-table'><summary>{}</summary><table><thead><tr><th scope='col'>{}</th>{}</tr></thead>"
        "<tbody>{}</tbody></table></details>",
        caption,
        "day",
        head,
        rows,
    )
