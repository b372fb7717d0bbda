"""The deployment's system checks: an http public URL, several processes without a shared cache."""

from __future__ import annotations

from typing import Any

import pytest

from mcpdemo.checks import check_public_url_is_https, check_shared_cache_for_several_processes


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
