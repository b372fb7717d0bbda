"""The deployment's system checks: an http public URL, several processes without a shared cache, metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mcpdemo.checks import (
    check_metrics_access,
    check_metrics_across_workers,
    check_metrics_directory,
    check_public_url_is_https,
    check_shared_cache_for_several_processes,
)


def test_an_http_public_url_in_production_warns(settings: Any) -> None:
    settings.DEBUG = False
    settings.MCPDEMO_PUBLIC_URL = "http://mcp.example.com"
    assert [message.id for message in check_public_url_is_https()] == ["mcpdemo.W002"]

    settings.MCPDEMO_PUBLIC_URL = "https://mcp.example.com"
    assert check_public_url_is_https() == []


@pytest.mark.parametrize(
    ("workers", "stateless", "redis_url", "expected"),
    [
        ("4", False, "", ["mcpdemo.W003"]),
        ("1", True, "", ["mcpdemo.W003"]),
        ("4", True, "redis://127.0.0.1:6379/0", []),
        ("1", False, "", []),
    ],
)
def test_several_processes_without_redis_warn(
    settings: Any, monkeypatch: pytest.MonkeyPatch, workers: str, stateless: bool, redis_url: str, expected: list[str]
) -> None:
    settings.DEBUG = False
    settings.MCPDEMO_MCP_STATELESS = stateless
    settings.REDIS_URL = redis_url
    monkeypatch.setenv("MCPDEMO_WORKERS", workers)

    assert [message.id for message in check_shared_cache_for_several_processes()] == expected


@pytest.fixture
def metrics_settings(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    settings.MCPDEMO_METRICS_ENABLED = True
    settings.MCPDEMO_METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    settings.MCPDEMO_METRICS_TOKEN = ""
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.setenv("MCPDEMO_WORKERS", "1")
    return settings


def test_metrics_with_a_reader_pass(metrics_settings: Any) -> None:
    assert check_metrics_access() == [] and check_metrics_directory() == [] and check_metrics_across_workers() == []


def test_metrics_nobody_can_read_warn(metrics_settings: Any) -> None:
    metrics_settings.MCPDEMO_METRICS_ALLOWED_NETWORKS = []
    assert [m.id for m in check_metrics_access()] == ["mcpdemo.W004"]
    metrics_settings.MCPDEMO_METRICS_TOKEN = "x" * 32
    assert check_metrics_access() == []


def test_a_short_metrics_token_warns_and_a_bad_network_is_an_error(metrics_settings: Any) -> None:
    metrics_settings.MCPDEMO_METRICS_TOKEN = "short"
    metrics_settings.MCPDEMO_METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8", "10.0.0.0/40"]
    assert sorted(m.id for m in check_metrics_access()) == ["mcpdemo.E001", "mcpdemo.W005"]
    metrics_settings.MCPDEMO_METRICS_ENABLED = False  # a bad entry is reported even while off
    assert [m.id for m in check_metrics_access()] == ["mcpdemo.E001"]


def test_several_workers_need_the_multiprocess_directory(
    metrics_settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MCPDEMO_WORKERS", "2")
    assert [m.id for m in check_metrics_across_workers()] == ["mcpdemo.E002"]
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "not-yet"))  # prestart creates it
    assert check_metrics_across_workers() == [] and check_metrics_directory() == []
    metrics_settings.MCPDEMO_METRICS_ENABLED = False
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    assert check_metrics_across_workers() == []


def test_a_multiprocess_directory_that_cannot_be_used_is_an_error(
    metrics_settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    afile = tmp_path / "a-file"
    afile.write_text("")
    for path in (afile, afile / "below"):
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(path))
        assert [m.id for m in check_metrics_directory()] == ["mcpdemo.E003"]
