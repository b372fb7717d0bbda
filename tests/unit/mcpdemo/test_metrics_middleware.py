"""Django's requests by URL name: never the raw path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client, RequestFactory

from mcpdemo import metrics
from mcpdemo.metrics_middleware import route_of
from tests.support.metrics import Samples, value


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/token", "oauth2_provider:token"),
        ("/register/some-client-id", "oauth2_provider:dcr-register-management"),
        ("/connected-apps/12/disconnect", "disconnect"),
        ("/favicon.ico", "mcpdemo.views.favicon"),  # unnamed: the view's import path
        ("/static/style.css", "static"),
        ("/wp-login.php", "unmatched"),
    ],
)
def test_requests_not_yet_resolved_are_resolved_or_named_by_kind(path: str, route: str) -> None:
    assert route_of(RequestFactory().get(path)) == route


@pytest.mark.django_db
def test_a_request_is_counted_under_the_url_name_that_answered(
    client: Client, metrics_on: Callable[[], Samples]
) -> None:
    for client_id in ("a", "b", "c"):
        client.get(f"/register/{client_id}")
    client.get("/.well-known/oauth-protected-resource/mcp")

    samples = metrics_on()
    route = "oauth2_provider:dcr-register-management"
    assert value(samples, "mcpdemo_http_requests_total", route=route, method="GET", status="401") == 3
    assert value(samples, "mcpdemo_http_request_duration_seconds_count", route=route) == 3
    meta = "oauth2_provider:oauth-resource-metadata"
    assert value(samples, "mcpdemo_http_requests_total", route=meta, method="GET", status="200") == 1


@pytest.mark.django_db
def test_off_nothing_is_counted(client: Client, settings: Any) -> None:
    settings.MCPDEMO_METRICS_ENABLED = False
    metrics._metrics = None  # noqa: SLF001 - our own module's state
    client.get("/healthz")
    assert metrics._metrics is None  # noqa: SLF001
