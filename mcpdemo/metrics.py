"""Prometheus metrics for operators: every metric this service exports, and the functions that record them.

Off unless ``MCPDEMO_METRICS_ENABLED``: each ``record_*`` function then returns at once and
nothing of prometheus-client is built. On, the metrics are built on first use, and each
labelled child is kept in a dict, so that recording costs a dict lookup and an increment
(prometheus-client's ``labels()`` validates and locks on every call).

Several uvicorn workers add up through prometheus-client's multiprocess mode: with
``PROMETHEUS_MULTIPROC_DIR`` set before the workers start (``scripts/run-production`` sets
it and ``manage.py prestart`` empties it), every worker writes its values to files there and
``/metrics`` merges them, whichever worker answers. A worker that stops gracefully takes its
live gauges with it (:func:`worker_stopped`); one that died is swept at the next worker's
start (:func:`worker_started`). docs/monitoring.md lists the metrics and how to use them.

Labels are bounded: routes are URL names (never raw paths), tools are the configured ones,
results and outcomes are small fixed sets.
"""

from __future__ import annotations

import glob
import os
import re
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from .conf import conf

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
# Latencies of quick requests (a tool call is about a millisecond) up to slow token requests.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
TOOL_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 300.0)

# The exported names (the Grafana dashboard and the alerts in docs/ use exactly these).
HTTP_REQUESTS = "mcpdemo_http_requests_total"
HTTP_DURATION = "mcpdemo_http_request_duration_seconds"
TOKEN_CHECKS = "mcpdemo_token_checks_total"  # noqa: S105 - a metric name
TOOL_CALLS = "mcpdemo_tool_calls_total"
TOOL_DURATION = "mcpdemo_tool_call_duration_seconds"
OPEN_STREAMS = "mcpdemo_mcp_open_streams"
TOKENS_ISSUED = "mcpdemo_oauth_tokens_issued_total"
REGISTRATIONS = "mcpdemo_oauth_registrations_total"
RATE_LIMIT_REFUSALS = "mcpdemo_rate_limit_refusals_total"
OUTAGES = "mcpdemo_outages_total"
WORKERS = "mcpdemo_workers"

TOKEN_CHECK_RESULTS = ("valid", "invalid_token", "insufficient_scope", "outage")
TOOL_OUTCOMES = ("ok", "error", "invalid_arguments", "cancelled")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_LIVE_GAUGE_FILE = re.compile(r"gauge_live[a-z]+_(\d+)\.db$")


def _counter_name(name: str) -> str:
    return name.removesuffix("_total")  # prometheus-client adds it back


class Metrics:
    """The metric objects, in their own registry (one per process; tests build fresh ones)."""

    def __init__(self) -> None:
        disable_created_metrics()  # no ``*_created`` series: they double the output for nothing here
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter(
            _counter_name(HTTP_REQUESTS), "HTTP requests answered, by route (URL name), method and status.",
            ["route", "method", "status"], registry=r,
        )  # fmt: skip
        self.http_duration = Histogram(
            HTTP_DURATION, "Time to answer an HTTP request, by route (the GET /mcp stream is left out).",
            ["route"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.token_checks = Counter(
            _counter_name(TOKEN_CHECKS), "Bearer token checks at /mcp, by result.", ["result"], registry=r
        )
        self.tool_calls = Counter(
            _counter_name(TOOL_CALLS), "MCP tool calls, by tool and outcome.", ["tool", "outcome"], registry=r
        )
        self.tool_duration = Histogram(
            TOOL_DURATION, "Time a tool call took, by tool.", ["tool"], buckets=TOOL_BUCKETS, registry=r
        )
        self.open_streams = Gauge(
            OPEN_STREAMS, "MCP responses open as server-sent event streams.", registry=r, multiprocess_mode="livesum"
        )
        self.tokens_issued = Counter(
            _counter_name(TOKENS_ISSUED), "Access tokens issued by /token, by grant type.", ["grant_type"], registry=r
        )
        self.registrations = Counter(
            _counter_name(REGISTRATIONS), "Clients registered at /register (RFC 7591), by client type.",
            ["client_type"], registry=r,
        )  # fmt: skip
        self.rate_limit_refusals = Counter(
            _counter_name(RATE_LIMIT_REFUSALS), "Requests refused with 429, by limit.", ["limit"], registry=r
        )
        self.outages = Counter(
            _counter_name(OUTAGES), "Failures of the database or the cache (Redis), by service and kind.",
            ["service", "kind"], registry=r,
        )  # fmt: skip
        self.workers = Gauge(WORKERS, "Worker processes serving.", registry=r, multiprocess_mode="livesum")
        self._children: dict[tuple[Any, ...], Any] = {}

    def child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, built once."""
        key = (id(metric), *labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found


_metrics: Metrics | None = None


def enabled() -> bool:
    return conf.METRICS_ENABLED


def active() -> Metrics | None:
    """The metrics when enabled (built on first use), else ``None``."""
    global _metrics
    if not conf.METRICS_ENABLED:
        return None
    if _metrics is None:
        _metrics = Metrics()
    return _metrics


def reset() -> Metrics:
    """Fresh metrics (in-memory values start again at zero; tests measure from a known start)."""
    global _metrics
    _metrics = Metrics()
    return _metrics


# Recording ---------------------------------------------------------------------------------


def record_http_request(route: str, method: str, status: int, seconds: float | None) -> None:
    """One answered request; ``seconds`` is ``None`` for a response that is not a latency (a stream)."""
    m = active()
    if m is None:
        return
    m.child(m.http_requests, route, method if method in METHODS else "other", str(status)).inc()
    if seconds is not None:
        m.child(m.http_duration, route).observe(seconds)


def record_token_check(result: str) -> None:
    """``valid``, ``invalid_token``, ``insufficient_scope`` or ``outage`` (the database failed)."""
    m = active()
    if m is not None:
        m.child(m.token_checks, result if result in TOKEN_CHECK_RESULTS else "invalid_token").inc()


def observe_tool_call(tool: str, outcome: str, seconds: float) -> None:
    """One tool call: ``ok``, ``error`` (the tool failed), ``invalid_arguments`` or ``cancelled``."""
    m = active()
    if m is None:
        return
    m.child(m.tool_calls, tool, outcome).inc()
    m.child(m.tool_duration, tool).observe(seconds)


def stream_opened() -> None:
    m = active()
    if m is not None:
        m.open_streams.inc()


def stream_closed() -> None:
    m = active()
    if m is not None:
        m.open_streams.dec()


def record_token_issued(grant_type: str) -> None:
    m = active()
    if m is not None:
        m.child(m.tokens_issued, grant_type).inc()


def record_registration(client_type: str) -> None:
    m = active()
    if m is not None:
        m.child(m.registrations, client_type).inc()


def record_rate_limit_refusal(limit: str) -> None:
    m = active()
    if m is not None:
        m.child(m.rate_limit_refusals, limit).inc()


def record_outage(service: str, kind: str) -> None:
    """A failure of ``service`` (``database`` or ``cache``), as :data:`mcpdemo.logs.OUTAGES` reports it."""
    m = active()
    if m is not None:
        m.child(m.outages, service, kind).inc()


# Workers and the multiprocess directory ------------------------------------------------------


def prepare_multiprocess_dir() -> str | None:
    """Before the workers start: create ``PROMETHEUS_MULTIPROC_DIR`` and empty it (values of
    an earlier run would be added to this one's). Its path, or ``None`` when unset."""
    path = conf.MULTIPROC_DIR
    if not path:
        return None
    os.makedirs(path, mode=0o700, exist_ok=True)
    for name in glob.glob(os.path.join(path, "*.db")):
        os.remove(name)
    return path


def worker_started() -> None:
    """A worker is serving: count it, and drop the live gauges of workers that died without stopping."""
    m = active()
    if m is None:
        return
    if path := conf.MULTIPROC_DIR:
        for name in glob.glob(os.path.join(path, "gauge_live*_*.db")):
            match = _LIVE_GAUGE_FILE.search(name)
            if match and not _alive(int(match.group(1))):
                mark_process_dead(int(match.group(1)), path)
    m.workers.set(1)


def worker_stopped() -> None:
    """A worker stops (the ASGI lifespan's shutdown): its live gauges (workers, open streams) go with it."""
    m = active()
    if m is None:
        return
    if path := conf.MULTIPROC_DIR:
        mark_process_dead(os.getpid(), path)
    else:
        m.workers.set(0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# Exposition ----------------------------------------------------------------------------------


def exposition() -> bytes:
    """The text format of every metric: this node's workers merged in multiprocess mode, else this process's."""
    m = active()
    if m is None:
        return b""
    if path := conf.MULTIPROC_DIR:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=path)
        return generate_latest(registry)
    return generate_latest(m.registry)
