"""Prometheus metrics for operators: every metric this service exports, and the functions that record them.

Off unless ``MCPDEMO_METRICS_ENABLED``: each ``record_*`` function then returns at once and
nothing of prometheus-client is built (the switch is read once, and again when a test
changes the setting). On, the metrics are built on first use. A request does not touch them:
it adds to plain dicts under one lock, and a thread of the process hands the sums to
prometheus-client every :data:`FLUSH_SECONDS` (and before every exposition). Spread over the
request path, each prometheus-client call meets cold caches and costs several times what it
costs in that one loop.

Several uvicorn workers add up through prometheus-client's multiprocess mode: with
``PROMETHEUS_MULTIPROC_DIR`` set before the workers start (``scripts/run-production`` sets
it and ``manage.py prestart`` empties it), every worker writes its values to files there and
``/metrics`` merges them, whichever worker answers (what another worker recorded in the last
:data:`FLUSH_SECONDS` is not there yet). A worker that stops gracefully takes its
live gauges with it (:func:`worker_stopped`); one that died is swept at the next worker's
start (:func:`worker_started`). docs/monitoring.md lists the metrics and how to use them.

Labels are bounded: routes are URL names (never raw paths), tools are the configured ones,
results and outcomes are small fixed sets.
"""

from __future__ import annotations

import glob
import os
import re
import threading
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver
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
FLUSH_SECONDS = 1.0


class Metrics:
    """The metric objects, in their own registry (one per process; tests build fresh ones)."""

    def __init__(self) -> None:
        disable_created_metrics()  # no ``*_created`` series: they double the output for nothing here
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter(
            HTTP_REQUESTS, "HTTP requests answered, by route (URL name), method and status.",
            ["route", "method", "status"], registry=r,
        )  # fmt: skip
        self.http_duration = Histogram(
            HTTP_DURATION, "Time to answer an HTTP request, by route (the GET /mcp stream is left out).",
            ["route"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.token_checks = Counter(TOKEN_CHECKS, "Bearer token checks at /mcp, by result.", ["result"], registry=r)
        self.tool_calls = Counter(TOOL_CALLS, "MCP tool calls, by tool and outcome.", ["tool", "outcome"], registry=r)
        self.tool_duration = Histogram(
            TOOL_DURATION, "Time a tool call took, by tool.", ["tool"], buckets=TOOL_BUCKETS, registry=r
        )
        self.open_streams = Gauge(
            OPEN_STREAMS, "MCP responses open as server-sent event streams.", registry=r, multiprocess_mode="livesum"
        )
        self.tokens_issued = Counter(
            TOKENS_ISSUED, "Access tokens issued by /token, by grant type.", ["grant_type"], registry=r
        )
        self.registrations = Counter(
            REGISTRATIONS, "Clients registered at /register (RFC 7591), by client type.",
            ["client_type"], registry=r,
        )  # fmt: skip
        self.rate_limit_refusals = Counter(
            RATE_LIMIT_REFUSALS, "Requests refused with 429, by limit.", ["limit"], registry=r
        )
        self.outages = Counter(
            OUTAGES, "Failures of the database or the cache (Redis), by service and kind.",
            ["service", "kind"], registry=r,
        )  # fmt: skip
        self.workers = Gauge(WORKERS, "Worker processes serving.", registry=r, multiprocess_mode="livesum")
        # What requests recorded since the last flush: (metric, *labels) → amount, or → observations.
        self._counts: dict[tuple[Any, ...], float] = {}
        self._observations: dict[tuple[Any, ...], list[float]] = {}
        self._pending = threading.Lock()
        self._flushing = threading.Lock()

    def add(self, counted: tuple[Any, ...], observed: tuple[Any, ...] | None = None, value: float = 0.0) -> None:
        """Count one for ``(counter, *labels)`` and, if given, observe ``value`` for ``(histogram, *labels)``."""
        with self._pending:
            self._counts[counted] = self._counts.get(counted, 0.0) + 1.0
            if observed is not None:
                values = self._observations.get(observed)
                if values is None:
                    self._observations[observed] = [value]
                else:
                    values.append(value)

    def flush(self) -> None:
        """Hand what was recorded to prometheus-client (to the files, in multiprocess mode)."""
        with self._flushing:
            with self._pending:
                counts, self._counts = self._counts, {}
                observations, self._observations = self._observations, {}
            for (metric, *labels), amount in counts.items():
                metric.labels(*labels).inc(amount)
            for (metric, *labels), values in observations.items():
                child = metric.labels(*labels)
                for value in values:
                    child.observe(value)


_metrics: Metrics | None = None
_enabled: bool | None = None  # MCPDEMO_METRICS_ENABLED as last read; None: to be read
_flusher: threading.Thread | None = None
_building = threading.RLock()


@receiver(setting_changed)
def _switch_changed(setting: str, **kwargs: Any) -> None:
    global _enabled
    if setting == "MCPDEMO_METRICS_ENABLED":
        _enabled = None


def enabled() -> bool:
    global _enabled
    if _enabled is None:
        _enabled = conf.METRICS_ENABLED
    return _enabled


def active() -> Metrics | None:
    """The metrics when enabled (built on first use), else ``None``."""
    if not (_enabled if _enabled is not None else enabled()):
        return None
    if _metrics is not None:
        return _metrics
    with _building:
        return _metrics if _metrics is not None else reset()


def reset() -> Metrics:
    """Fresh metrics (in-memory values start again at zero; tests measure from a known start)."""
    global _metrics, _flusher
    # Django's threads and the event loop may ask first at once: one set of metrics per process.
    with _building:
        _metrics = Metrics()
        if _flusher is None:
            _flusher = threading.Thread(target=_flush_forever, name="metrics-flush", daemon=True)
            _flusher.start()
        return _metrics


def _flush_forever() -> None:
    tick = threading.Event()
    while not tick.wait(FLUSH_SECONDS):
        if _metrics is not None:
            _metrics.flush()


# Recording ---------------------------------------------------------------------------------


def record_http_request(route: str, method: str, status: int, seconds: float | None) -> None:
    """One answered request; ``seconds`` is ``None`` for a response that is not a latency (a stream)."""
    m = active()
    if m is not None:
        counted = (m.http_requests, route, method if method in METHODS else "other", str(status))
        m.add(counted, None if seconds is None else (m.http_duration, route), seconds or 0.0)


def record_token_check(result: str) -> None:
    """``valid``, ``invalid_token``, ``insufficient_scope`` or ``outage`` (the database failed)."""
    m = active()
    if m is not None:
        m.add((m.token_checks, result if result in TOKEN_CHECK_RESULTS else "invalid_token"))


def observe_tool_call(tool: str, outcome: str, seconds: float) -> None:
    """One tool call: ``ok``, ``error`` (the tool failed), ``invalid_arguments`` or ``cancelled``."""
    m = active()
    if m is not None:
        m.add((m.tool_calls, tool, outcome), (m.tool_duration, tool), seconds)


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
        m.add((m.tokens_issued, grant_type))


def record_registration(client_type: str) -> None:
    m = active()
    if m is not None:
        m.add((m.registrations, client_type))


def record_rate_limit_refusal(limit: str) -> None:
    m = active()
    if m is not None:
        m.add((m.rate_limit_refusals, limit))


def record_outage(service: str, kind: str) -> None:
    """A failure of ``service`` (``database`` or ``cache``), as :data:`mcpdemo.logs.OUTAGES` reports it."""
    m = active()
    if m is not None:
        m.add((m.outages, service, kind))


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
    m.flush()
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
    m.flush()
    if path := conf.MULTIPROC_DIR:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=path)
        return generate_latest(registry)
    return generate_latest(m.registry)
