"""Who may read /metrics: allowed networks (with a Host that rebinding cannot produce), or the bearer secret."""

from __future__ import annotations

from typing import Any

import pytest

from mcpdemo.metrics_access import address_allowed, allowed, direct_host, invalid_networks, parse_networks

SECRET = "s" * 40


def scope(client: str = "10.1.2.3", host: str = "10.0.0.7:8000", method: str = "GET", **headers: str) -> dict[str, Any]:
    raw = [(b"host", host.encode())] + [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return {"type": "http", "method": method, "path": "/metrics", "headers": raw, "client": (client, 40000)}


@pytest.fixture
def networks(settings: Any) -> None:
    settings.MCPDEMO_METRICS_ENABLED = True
    settings.MCPDEMO_METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]
    settings.MCPDEMO_METRICS_TOKEN = ""


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("10.200.0.1", True),
        ("192.0.2.7", True),
        ("192.0.2.8", False),
        ("::ffff:10.0.0.1", True),  # an IPv4 client on a dual-stack socket
        ("2001:db8:1::1", True),
        ("2001:db9::1", False),
        ("127.0.0.1", False),
        ("not an address", False),
        ("", False),
    ],
)
def test_addresses_in_the_networks(address: str, expected: bool) -> None:
    assert address_allowed(address, parse_networks(("10.0.0.0/8", "192.0.2.7", "2001:db8::/32"))) is expected


def test_invalid_entries_are_ignored_and_reported() -> None:
    entries = ("10.0.0.0/8", "ten.0.0.0/8", "10.0.0.0/33", " 192.0.2.1 ")
    assert [str(n) for n in parse_networks(entries)] == ["10.0.0.0/8", "192.0.2.1/32"]
    assert invalid_networks(entries) == ["ten.0.0.0/8", "10.0.0.0/33"]


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("10.0.0.7:8000", True),
        ("10.0.0.7", True),
        ("[fd00::7]:8000", True),
        ("127.0.0.1:8000", True),
        ("localhost:8000", True),  # in ALLOWED_HOSTS (development settings)
        ("attacker.example", False),
        ("attacker.example:8000", False),
        ("", False),
    ],
)
def test_hosts_that_rebinding_cannot_produce(host: str, expected: bool) -> None:
    assert direct_host(host) is expected


def test_an_allowed_address_is_served(networks: None) -> None:
    assert allowed(scope())
    assert not allowed(scope(client="172.16.0.1"))
    assert not allowed(scope(host="attacker.example"))
    assert not allowed(scope(method="POST"))
    assert not allowed({**scope(), "client": None})


def test_nobody_while_metrics_are_off(networks: None, settings: Any) -> None:
    settings.MCPDEMO_METRICS_ENABLED = False
    settings.MCPDEMO_METRICS_TOKEN = SECRET
    assert not allowed(scope())
    assert not allowed(scope(Authorization=f"Bearer {SECRET}"))


def test_the_secret_lets_in_any_address_under_any_host(networks: None, settings: Any) -> None:
    settings.MCPDEMO_METRICS_TOKEN = SECRET
    assert allowed(scope(client="203.0.113.9", host="mcp.example.com", Authorization=f"Bearer {SECRET}"))
    assert allowed(scope(client="203.0.113.9", Authorization=f"bearer {SECRET}"))
    assert not allowed(scope(client="203.0.113.9", Authorization=f"Bearer {SECRET[:-1]}"))
    assert not allowed(scope(client="203.0.113.9", Authorization=f"Bearer {SECRET}x"))
    assert not allowed(scope(client="203.0.113.9", Authorization="Bearer "))
    assert not allowed(scope(client="203.0.113.9"))


def test_no_secret_configured_lets_no_bearer_in(networks: None, settings: Any) -> None:
    settings.MCPDEMO_METRICS_ALLOWED_NETWORKS = []
    assert not allowed(scope(Authorization="Bearer "))
    assert not allowed(scope(Authorization="Bearer anything"))
