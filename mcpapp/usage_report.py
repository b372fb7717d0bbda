"""What the admin shows of the tool usage: the last 30 days, per day, tool, client and user.

A handful of grouped queries over the hourly :class:`~mcpapp.models.ToolUsage` rows
(bounded by days × tools or days × clients, never by calls), turned into chart series
(:mod:`mcpapp.charts`) and small tables. Percentiles come from the fixed duration
histogram, interpolated within the bucket.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db.models import Max, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from oauth2_provider.models import get_application_model

from oauthapp import display

from . import charts
from .models import BUCKET_FIELDS, DURATION_BUCKETS, Outcome, ToolUsage

DAYS = 30
SHOWN_SERIES = 6  # the busiest tools or clients; the rest are summed as "other"
ERRORS = (Outcome.TOOL_ERROR, Outcome.FAILED)
_SUMS = {name: Sum(name) for name in BUCKET_FIELDS}


def percentile(buckets: Sequence[int], q: float) -> float | None:
    """The ``q`` quantile (0-1) in milliseconds, interpolated within its bucket; ``None`` without calls."""
    total = sum(buckets)
    if not total:
        return None
    wanted = q * total
    seen = 0
    lower = 0.0
    for (upper, _name), count in zip(DURATION_BUCKETS, buckets, strict=True):
        if count and seen + count >= wanted:
            if upper == float("inf"):
                return lower
            return lower + (upper - lower) * (wanted - seen) / count
        seen += count
        lower = upper
    return lower


def duration_text(ms: float | None) -> str:
    if ms is None:
        return "–"
    if ms >= DURATION_BUCKETS[-2][0]:
        return f"≥ {ms / 1000:.0f} s"
    return f"{ms / 1000:.1f} s" if ms >= 1000 else f"{ms:.1f} ms"


def axis_percent(value: float) -> str:
    return f"{value:g} %"


def axis_duration(ms: float) -> str:
    return f"{ms / 1000:g} s" if ms >= 1000 else f"{ms:g} ms"


def percent_text(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} %"


def _days(today: date) -> list[date]:
    return [today - timedelta(days=DAYS - 1 - offset) for offset in range(DAYS)]


def _window(now: datetime | None = None, **filters: Any) -> tuple[list[date], Any]:
    today = timezone.localdate(now or timezone.now(), UTC)
    days = _days(today)
    start = datetime.combine(days[0], datetime.min.time(), tzinfo=UTC)
    rows = ToolUsage.objects.filter(hour__gte=start, **filters).annotate(day=TruncDate("hour", tzinfo=UTC))
    return days, rows


def _series(days: list[date], counts: dict[Any, dict[date, float]], labels: dict[Any, str]) -> list[charts.Series]:
    """The busiest keys as series, the others summed into one."""
    order = sorted(counts, key=lambda key: -sum(counts[key].values()))
    shown, rest = order[:SHOWN_SERIES], order[SHOWN_SERIES:]
    series = [charts.Series(labels.get(key, str(key)), [counts[key].get(day, 0) for day in days]) for key in shown]
    if rest:
        series.append(charts.Series("other", [sum(counts[key].get(day, 0) for key in rest) for day in days]))
    return series


def _per_day(rows: Any, key: str) -> dict[Any, dict[date, float]]:
    counts: dict[Any, dict[date, float]] = defaultdict(dict)
    for row in rows.values("day", key).annotate(n=Sum("calls")).order_by():
        counts[row[key]][row["day"]] = row["n"]
    return counts


def client_labels(ids: Any) -> dict[Any, str]:
    return {
        application.pk: display.client_label(application, 40)
        for application in get_application_model().objects.filter(pk__in=list(ids))
    }


@dataclass
class ToolLine:
    """One tool's last 30 days."""

    tool: str
    calls: int
    ok: int
    tool_errors: int
    failed: int
    refused: int
    p50: str
    p95: str
    last_call: datetime | None


def per_tool(rows: Any) -> list[ToolLine]:
    grouped: dict[str, dict[str, Any]] = {}
    for row in rows.values("tool", "outcome").annotate(n=Sum("calls"), last=Max("last_call"), **_SUMS).order_by():
        entry = grouped.setdefault(row["tool"], {"outcomes": defaultdict(int), "buckets": [0] * len(BUCKET_FIELDS)})
        entry["outcomes"][row["outcome"]] += row["n"]
        entry["last"] = max(filter(None, [entry.get("last"), row["last"]]), default=None)
        if row["outcome"] != Outcome.REFUSED:
            entry["buckets"] = [a + (row[name] or 0) for a, name in zip(entry["buckets"], BUCKET_FIELDS, strict=True)]
    lines = [
        ToolLine(
            tool=tool,
            calls=sum(entry["outcomes"].values()),
            ok=entry["outcomes"][Outcome.OK],
            tool_errors=entry["outcomes"][Outcome.TOOL_ERROR],
            failed=entry["outcomes"][Outcome.FAILED],
            refused=entry["outcomes"][Outcome.REFUSED],
            p50=duration_text(percentile(entry["buckets"], 0.5)),
            p95=duration_text(percentile(entry["buckets"], 0.95)),
            last_call=entry.get("last"),
        )
        for tool, entry in grouped.items()
    ]
    return sorted(lines, key=lambda line: -line.calls)


def _health(days: list[date], rows: Any) -> tuple[list[charts.Series], list[charts.Series], dict[str, Any]]:
    """Per day: error and refusal rates (percent), p50 and p95 (ms); and the 30 days' totals."""
    calls: dict[date, int] = defaultdict(int)
    errors: dict[date, int] = defaultdict(int)
    refused: dict[date, int] = defaultdict(int)
    buckets: dict[date, list[int]] = defaultdict(lambda: [0] * len(BUCKET_FIELDS))
    for row in rows.values("day", "outcome").annotate(n=Sum("calls"), **_SUMS).order_by():
        day = row["day"]
        calls[day] += row["n"]
        if row["outcome"] in ERRORS:
            errors[day] += row["n"]
        if row["outcome"] == Outcome.REFUSED:
            refused[day] += row["n"]
        else:
            buckets[day] = [a + (row[name] or 0) for a, name in zip(buckets[day], BUCKET_FIELDS, strict=True)]

    def rate(part: dict[date, int], day: date) -> float | None:
        return 100.0 * part[day] / calls[day] if calls.get(day) else None

    rates = [
        charts.Series("errors", [rate(errors, day) for day in days]),
        charts.Series("refused", [rate(refused, day) for day in days]),
    ]
    durations = [
        charts.Series("median (p50)", [percentile(buckets[day], 0.5) if day in buckets else None for day in days]),
        charts.Series("95th percentile", [percentile(buckets[day], 0.95) if day in buckets else None for day in days]),
    ]
    total = sum(calls.values())
    every = [sum(column) for column in zip(*buckets.values(), strict=True)] if buckets else []
    totals = {
        "calls": total,
        "error_rate": percent_text(100.0 * sum(errors.values()) / total if total else None),
        "refused": sum(refused.values()),
        "p50": duration_text(percentile(every, 0.5)) if every else "–",
        "p95": duration_text(percentile(every, 0.95)) if every else "–",
    }
    return rates, durations, totals


def _charts(prefix: str, days: list[date], rows: Any, with_clients: bool) -> list[dict[str, Any]]:
    by_tool = _per_day(rows, "tool")
    tool_series = _series(days, by_tool, {})
    rates, durations, _totals = _health(days, rows)
    shown = [
        {
            "svg": charts.stacked_bars(
                f"{prefix}-tools",
                "Calls per day by tool",
                "Calls per day over the last 30 days, stacked by tool.",
                days,
                tool_series,
            ),
            "legend": charts.legend(tool_series),
            "table": charts.table("Calls per day by tool, as a table", days, tool_series, lambda v: f"{v or 0:.0f}"),
            "title": "Calls per day by tool",
        }
    ]
    if with_clients:
        by_client = _per_day(rows, "application")
        client_series = _series(days, by_client, client_labels(by_client))
        shown.append(
            {
                "svg": charts.stacked_bars(
                    f"{prefix}-clients",
                    "Calls per day by client",
                    "Calls per day over the last 30 days, stacked by client (application).",
                    days,
                    client_series,
                ),
                "legend": charts.legend(client_series),
                "table": charts.table(
                    "Calls per day by client, as a table", days, client_series, lambda v: f"{v or 0:.0f}"
                ),
                "title": "Calls per day by client",
            }
        )
    shown += [
        {
            "svg": charts.lines(
                f"{prefix}-errors",
                "Error rate per day",
                "Share of calls per day that ended in a tool error or a failure, and that were refused.",
                days,
                rates,
                axis_percent,
            ),
            "legend": charts.legend(rates),
            "table": charts.table("Error rate per day, as a table", days, rates, percent_text),
            "title": "Error rate per day",
        },
        {
            "svg": charts.lines(
                f"{prefix}-durations",
                "Duration per day",
                "Median and 95th percentile duration of the calls per day.",
                days,
                durations,
                axis_duration,
            ),
            "legend": charts.legend(durations),
            "table": charts.table("Duration per day, as a table", days, durations, duration_text),
            "title": "Duration per day (p50, p95)",
        },
    ]
    return shown


def dashboard(now: datetime | None = None) -> dict[str, Any]:
    """The usage page: totals, the four charts and the per-tool table."""
    days, rows = _window(now)
    _rates, _durations, totals = _health(days, rows)
    return {
        "days": DAYS,
        "first_day": days[0],
        "last_day": days[-1],
        "totals": totals,
        "users": rows.values("user").distinct().count(),
        "clients": rows.values("application").distinct().count(),
        "charts": _charts("usage", days, rows, with_clients=True) if totals["calls"] else [],
        "tools": per_tool(rows),
    }


def recent_use(now: datetime | None = None, **filters: Any) -> dict[str, Any]:
    """One user's or one client's page (``user=…`` or ``application=…``): last activity, 30 days per tool."""
    days, rows = _window(now, **filters)
    _rates, _durations, totals = _health(days, rows)
    last = ToolUsage.objects.filter(**filters).aggregate(last=Max("last_call"))["last"]
    return {
        "usage_days": DAYS,
        "usage_totals": totals,
        "usage_last_activity": last,
        "usage_tools": per_tool(rows),
        "usage_chart": _charts("recent", days, rows, with_clients=False)[0] if totals["calls"] else None,
    }
