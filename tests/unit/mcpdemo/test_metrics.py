"""The metric definitions and recording functions: exact values, nothing at all while off, the multiprocess files."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mcpdemo import metrics
from tests.support.metrics import Samples, names, value

EXPORTED = {
    metrics.HTTP_REQUESTS,
    metrics.HTTP_DURATION + "_bucket",
    metrics.TOKEN_CHECKS,
    metrics.TOOL_CALLS,
    metrics.TOOL_DURATION + "_count",
    metrics.OPEN_STREAMS,
    metrics.TOKENS_ISSUED,
    metrics.REGISTRATIONS,
    metrics.RATE_LIMIT_REFUSALS,
    metrics.OUTAGES,
    metrics.WORKERS,
}


def record_one_of_each() -> None:
    metrics.record_http_request("oauth2_provider:token", "POST", 200, 0.003)
    metrics.record_token_check("valid")
    metrics.observe_tool_call("slugify", "ok", 0.0004)
    metrics.stream_opened()
    metrics.record_token_issued("authorization_code")
    metrics.record_registration("public")
    metrics.record_rate_limit_refusal("token")
    metrics.record_outage("cache", "ratelimit:ConnectionError")


def test_off_records_nothing_and_builds_nothing(settings: Any) -> None:
    settings.MCPDEMO_METRICS_ENABLED = False
    metrics._metrics = None  # noqa: SLF001 - our own module's state: nothing built yet

    record_one_of_each()
    metrics.worker_started()
    metrics.worker_stopped()

    assert metrics.active() is None
    assert metrics._metrics is None  # noqa: SLF001
    assert metrics.exposition() == b""


def test_every_metric_is_exported_with_the_values_recorded(metrics_on: Callable[[], Samples]) -> None:
    record_one_of_each()
    record_one_of_each()
    metrics.stream_closed()

    samples = metrics_on()
    assert names(samples) >= EXPORTED
    assert value(samples, metrics.HTTP_REQUESTS, route="oauth2_provider:token", method="POST", status="200") == 2
    assert value(samples, metrics.HTTP_DURATION + "_count", route="oauth2_provider:token") == 2
    assert value(samples, metrics.HTTP_DURATION + "_bucket", route="oauth2_provider:token", le="0.0025") == 0
    assert value(samples, metrics.HTTP_DURATION + "_bucket", route="oauth2_provider:token", le="0.005") == 2
    assert value(samples, metrics.TOKEN_CHECKS, result="valid") == 2
    assert value(samples, metrics.TOOL_CALLS, tool="slugify", outcome="ok") == 2
    assert value(samples, metrics.TOOL_DURATION + "_bucket", tool="slugify", le="0.0005") == 2
    assert value(samples, metrics.OPEN_STREAMS) == 1
    assert value(samples, metrics.TOKENS_ISSUED, grant_type="authorization_code") == 2
    assert value(samples, metrics.REGISTRATIONS, client_type="public") == 2
    assert value(samples, metrics.RATE_LIMIT_REFUSALS, limit="token") == 2
    assert value(samples, metrics.OUTAGES, service="cache", kind="ratelimit:ConnectionError") == 2
    assert not any(name.endswith("_created") for name in names(samples))


def test_labels_stay_in_their_small_sets(metrics_on: Callable[[], Samples]) -> None:
    metrics.record_http_request("mcp", "BREW", 418, None)
    metrics.record_token_check("something new")

    samples = metrics_on()
    assert value(samples, metrics.HTTP_REQUESTS, route="mcp", method="other", status="418") == 1
    assert value(samples, metrics.HTTP_DURATION + "_count", route="mcp") == 0  # no latency given: none observed
    assert value(samples, metrics.TOKEN_CHECKS, result="invalid_token") == 1


def test_prestart_empties_the_multiprocess_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "prometheus"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    assert metrics.prepare_multiprocess_dir() == str(directory)  # created
    (directory / "counter_123.db").write_bytes(b"old")
    (directory / "keep.txt").write_text("not ours")

    metrics.prepare_multiprocess_dir()

    assert sorted(p.name for p in directory.iterdir()) == ["keep.txt"]
    assert directory.stat().st_mode & 0o777 == 0o700


def test_without_a_multiprocess_directory_there_is_nothing_to_prepare(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    assert metrics.prepare_multiprocess_dir() is None


def test_a_starting_worker_drops_the_live_gauges_of_dead_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, metrics_on: Any
) -> None:
    dead = 2**22 + 12345  # above the default pid_max: no such process
    files = [f"gauge_livesum_{dead}.db", f"counter_{dead}.db", f"gauge_livesum_{os.getpid()}.db"]
    for name in files:
        (tmp_path / name).write_bytes(b"")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    metrics.worker_started()

    # A dead worker's counters stay (a counter never goes down); its live gauges go.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files[1:])
    metrics.worker_stopped()
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"counter_{dead}.db"]


def test_a_worker_counts_itself_while_it_serves(metrics_on: Callable[[], Samples]) -> None:
    metrics.worker_started()
    assert value(metrics_on(), metrics.WORKERS) == 1
    metrics.worker_stopped()
    assert value(metrics_on(), metrics.WORKERS) == 0
