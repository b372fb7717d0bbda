"""Who may read ``/metrics``: a client address in ``MCPDEMO_METRICS_ALLOWED_NETWORKS``, or the
bearer secret ``MCPDEMO_METRICS_TOKEN`` (compared in constant time). Nobody while metrics are off.

The client address is the one the rate limits count (``oauthapp.ratelimit.address_key``):
uvicorn's peer, or the client a trusted proxy reported (``--proxy-headers`` with
``--forwarded-allow-ips``, scripts/run-production), never a header anyone can send.

An address alone is trusted only with a Host that cannot come from DNS rebinding: one of
``ALLOWED_HOSTS`` or an IP literal (a scraper addressing the node directly). A page in a
browser on an allowed network reaches the node under the attacker's host name, which is
neither. The bearer secret needs no such rule: a browser does not have it.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
from collections.abc import Iterable

from django.conf import settings
from django.http.request import split_domain_port, validate_host
from oauth2_provider.utils import parse_bearer_token
from starlette.datastructures import Headers
from starlette.types import Scope

from . import metrics
from .conf import conf

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _network(entry: str) -> Network | None:
    try:
        return ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError:
        return None


@functools.lru_cache(maxsize=8)
def parse_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """The valid entries as networks (``10.0.0.0/8``, ``192.0.2.7``, ``2001:db8::/32``); E001 reports the rest."""
    return tuple(network for entry in entries if (network := _network(entry)) is not None)


def invalid_networks(entries: Iterable[str]) -> list[str]:
    return [entry for entry in entries if _network(entry) is None]


def address_allowed(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


def direct_host(host: str) -> bool:
    """A Host a rebinding attack cannot produce: one of ``ALLOWED_HOSTS``, or an IP address."""
    domain, _port = split_domain_port(host)
    if domain and validate_host(domain, settings.ALLOWED_HOSTS):
        return True
    try:
        ipaddress.ip_address(domain.strip("[]"))
    except ValueError:
        return False
    return True


def token_matches(authorization: str | None, secret: str) -> bool:
    presented = parse_bearer_token(authorization) if authorization else None
    return bool(presented) and hmac.compare_digest(str(presented).encode(), secret.encode())


def allowed(scope: Scope) -> bool:
    """Whether this request may read ``/metrics`` (only ``GET``, only while metrics are on)."""
    if scope.get("method") != "GET" or not metrics.enabled():
        return False
    headers = Headers(scope=scope)
    secret = conf.METRICS_TOKEN
    if secret and token_matches(headers.get("authorization"), secret):
        return True
    networks = parse_networks(conf.METRICS_ALLOWED_NETWORKS)
    client = scope.get("client")
    if not networks or not client or not direct_host(headers.get("host", "")):
        return False
    return address_allowed(str(client[0]), networks)
