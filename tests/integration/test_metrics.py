"""/metrics after known traffic through the real ASGI application: exact values, and who may read them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from unittest import mock

import httpx
import pytest
from django.db import OperationalError
from django.test import Client

from mcpdemo.asgi import build_application
from mcpdemo.logs import OUTAGES
from oauthapp import token_lookup
from tests.support.mcp import BASE, LEGACY_VERSION, alter_access_token, post_mcp, serving
from tests.support.metrics import Samples, names, parse, value
from tests.support.oauth import refresh, register

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "metrics-secret-" + "x" * 32


def call(tool: str, arguments: dict[str, Any], request_id: int = 1) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments},
    }


@pytest.fixture
def stateless(settings: Any) -> None:
    settings.MCPDEMO_MCP_STATELESS = True


async def scrape(http: httpx.AsyncClient) -> Samples:
    response = await http.get("/metrics", headers={"Authorization": f"Bearer {SECRET}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert response.headers["cache-control"] == "no-store"
    return parse(response.text)


async def test_mcp_traffic_is_counted_exactly(
    settings: Any, stateless: None, metrics_on: Callable[[], Samples], tokens: dict[str, Any]
) -> None:
    settings.MCPDEMO_METRICS_TOKEN = SECRET
    token = tokens["access_token"]
    headers = {"MCP-Protocol-Version": LEGACY_VERSION}
    async with serving(build_application()) as http:
        for i in range(3):  # the quick path
            assert (await post_mcp(http, call("slugify", {"text": f"Hello {i}"}), token, **headers)).status_code == 200
        bad = await post_mcp(http, call("slugify", {"length": "x"}), token, **headers)
        assert bad.status_code == 200 and bad.json()["result"]["isError"] is True
        # Through the SDK's transport (a progress token leaves the quick path): counted alike.
        progress = call("slugify", {"text": "sdk"})
        progress["params"]["_meta"] = {"progressToken": "p"}
        assert (await post_mcp(http, progress, token, **headers)).status_code == 200
        assert (await post_mcp(http, call("slugify", {"text": "x"}))).status_code == 401  # no token: no check
        assert (await post_mcp(http, call("slugify", {"text": "x"}), "not-a-token")).status_code == 401
        await alter_access_token(token, scope="other")
        assert (await post_mcp(http, call("slugify", {"text": "x"}), token)).status_code == 403
        samples = await scrape(http)

    assert value(samples, "mcpdemo_tool_calls_total", tool="slugify", outcome="ok") == 4
    assert value(samples, "mcpdemo_tool_calls_total", tool="slugify", outcome="invalid_arguments") == 1
    assert value(samples, "mcpdemo_tool_call_duration_seconds_count", tool="slugify") == 5
    assert 0 < value(samples, "mcpdemo_tool_call_duration_seconds_sum", tool="slugify") < 5
    assert value(samples, "mcpdemo_token_checks_total", result="valid") == 5
    assert value(samples, "mcpdemo_token_checks_total", result="invalid_token") == 1
    assert value(samples, "mcpdemo_token_checks_total", result="insufficient_scope") == 1
    assert value(samples, "mcpdemo_http_requests_total", route="mcp", method="POST", status="200") == 5
    assert value(samples, "mcpdemo_http_requests_total", route="mcp", method="POST", status="401") == 2
    assert value(samples, "mcpdemo_http_requests_total", route="mcp", method="POST", status="403") == 1
    assert value(samples, "mcpdemo_http_request_duration_seconds_count", route="mcp") == 8
    # The SSE answer of the SDK's transport was a stream while it lasted; none is open now.
    assert value(samples, "mcpdemo_mcp_open_streams") == 0
    # Not one label carries a raw path or a token.
    assert "not-a-token" not in repr(samples)


def test_oauth_traffic_is_counted_exactly(
    settings: Any, client: Client, metrics_on: Callable[[], Samples], tokens: dict[str, Any]
) -> None:
    settings.MCPDEMO_RATE_LIMITS = {**settings.MCPDEMO_RATE_LIMITS, "register": "2/h"}
    # The fixture registered VS Code (one registration) and exchanged one code.
    assert register(client)["client_id"]  # the second registration from this address
    assert (
        client.post("/register", json.dumps({"redirect_uris": ["http://127.0.0.1/"]}), "application/json").status_code
        == 429
    )
    assert refresh(client, tokens["client_id"], tokens["refresh_token"]).status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get("/no/such/page/4711").status_code == 404

    samples = metrics_on()

    assert value(samples, "mcpdemo_oauth_registrations_total", client_type="public") == 2
    assert value(samples, "mcpdemo_oauth_tokens_issued_total", grant_type="authorization_code") == 1
    assert value(samples, "mcpdemo_oauth_tokens_issued_total", grant_type="refresh_token") == 1
    assert value(samples, "mcpdemo_rate_limit_refusals_total", limit="register") == 1
    assert (
        value(samples, "mcpdemo_http_requests_total", route="oauth2_provider:dcr-register", method="POST", status="201")
        == 2
    )
    # Refused before URL resolution, still counted under its route.
    assert (
        value(samples, "mcpdemo_http_requests_total", route="oauth2_provider:dcr-register", method="POST", status="429")
        == 1
    )
    assert (
        value(samples, "mcpdemo_http_requests_total", route="oauth2_provider:token", method="POST", status="200") == 2
    )
    assert value(samples, "mcpdemo_http_requests_total", route="healthz", method="GET", status="200") == 1
    assert value(samples, "mcpdemo_http_requests_total", route="unmatched", method="GET", status="404") == 1
    assert value(samples, "mcpdemo_http_request_duration_seconds_count", route="healthz") == 1
    assert not any("4711" in str(labels) for _name, labels in samples)


async def test_a_database_outage_counts_as_an_outage_and_a_failed_check(
    settings: Any, stateless: None, metrics_on: Callable[[], Samples], access_token: str
) -> None:
    settings.MCPDEMO_METRICS_TOKEN = SECRET
    OUTAGES.reset()

    async def down(token: str) -> Any:
        raise OperationalError("database is down")

    async with serving(build_application()) as http:
        with mock.patch.object(token_lookup, "aload", down):
            for _ in range(2):
                response = await post_mcp(http, call("slugify", {"text": "x"}), access_token)
                assert response.status_code == 503
        samples = await scrape(http)

    assert value(samples, "mcpdemo_token_checks_total", result="outage") == 2
    # Logged once per interval, counted every time.
    assert value(samples, "mcpdemo_outages_total", service="database", kind="mcp-token-check") == 2
    assert value(samples, "mcpdemo_http_requests_total", route="mcp", method="POST", status="503") == 2


# Who may read /metrics ---------------------------------------------------------------------


async def get(path: str, client: tuple[str, int] = ("127.0.0.1", 5000), **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=build_application(), client=client)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        return await http.get(path, headers=headers)


async def assert_refused(response: httpx.Response, status: int = 404, **headers: str) -> None:
    """Exactly the site's answer for a page that does not exist: nothing tells that /metrics is there."""
    unknown = await get("/no-such-page", **headers)
    assert response.status_code == unknown.status_code == status
    assert response.text.replace("/metrics", "") == unknown.text.replace("/no-such-page", "")
    assert "mcpdemo_" not in response.text


async def test_metrics_off_is_404_for_everyone(settings: Any) -> None:
    settings.MCPDEMO_METRICS_ENABLED = False
    settings.MCPDEMO_METRICS_TOKEN = SECRET
    settings.MCPDEMO_METRICS_ALLOWED_NETWORKS = ["0.0.0.0/0"]
    await assert_refused(await get("/metrics", Authorization=f"Bearer {SECRET}"))


async def test_other_addresses_are_refused_and_allowed_ones_served(settings: Any, metrics_on: Any) -> None:
    settings.MCPDEMO_METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8", "2001:db8::/32"]

    await assert_refused(await get("/metrics", ("127.0.0.1", 5000)))
    await assert_refused(await get("/metrics", ("192.0.2.10", 5000)))
    served = await get("/metrics", ("10.1.2.3", 5000))
    assert served.status_code == 200
    assert "mcpdemo_workers" in names(parse(served.text))
    assert (await get("/metrics", ("2001:db8::5", 5000))).status_code == 200


async def test_an_allowed_address_under_a_foreign_host_name_is_refused(settings: Any, metrics_on: Any) -> None:
    """DNS rebinding: a browser on the allowed network, sent to the node under the attacker's name."""
    settings.MCPDEMO_METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]

    # Django's answer to any page under a Host it does not serve.
    await assert_refused(
        await get("/metrics", ("10.1.2.3", 5000), Host="attacker.example"), 400, Host="attacker.example"
    )
    assert (await get("/metrics", ("10.1.2.3", 5000), Host="10.0.0.7:8000")).status_code == 200
    assert (await get("/metrics", ("10.1.2.3", 5000), Host="[fd00::7]:8000")).status_code == 200


async def test_the_bearer_secret_is_needed_from_other_addresses(settings: Any, metrics_on: Any) -> None:
    settings.MCPDEMO_METRICS_TOKEN = SECRET

    await assert_refused(await get("/metrics"))
    await assert_refused(await get("/metrics", Authorization="Bearer wrong-" + SECRET))
    await assert_refused(await get("/metrics", Authorization=f"Basic {SECRET}"))
    ok = await get("/metrics", ("198.51.100.9", 5000), Authorization=f"Bearer {SECRET}", Host="any.example")
    assert ok.status_code == 200
    assert ok.text.startswith("# HELP")


async def test_only_get_is_served(settings: Any, metrics_on: Any) -> None:
    settings.MCPDEMO_METRICS_TOKEN = SECRET
    transport = httpx.ASGITransport(app=build_application())
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        response = await http.post("/metrics", headers={"Authorization": f"Bearer {SECRET}"})
    assert response.status_code in (403, 404)  # Django's answer (CSRF or no such page), not the metrics
    assert "mcpdemo_" not in response.text


async def test_scrapes_are_counted_under_their_own_route(settings: Any, metrics_on: Callable[[], Samples]) -> None:
    settings.MCPDEMO_METRICS_TOKEN = SECRET
    for _ in range(2):
        assert (await get("/metrics", Authorization=f"Bearer {SECRET}")).status_code == 200

    assert value(metrics_on(), "mcpdemo_http_requests_total", route="metrics", method="GET", status="200") == 2
