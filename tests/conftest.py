from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from mcpapp import permissions, usage
from mcpdemo import metrics
from oauthapp import consents
from tests.support.mcp import tokens_for
from tests.support.metrics import Samples, parse
from tests.support.oauth import PASSWORD, CodeRequest, exchange_code, obtain_code, register


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """pytest-django's test database, and at the end no connection left that keeps it from being dropped.

    The token lookup threads keep their connections between reads (by design), so on PostgreSQL
    the test database is still in use when pytest-django drops it.
    """
    yield
    from django.db import connection

    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Rate-limit counters and use throttles live in the cache (and the process); every test starts with none."""
    cache.clear()
    consents.forget_local_use_marks()
    permissions.forget()
    usage.BUFFER.take()


@pytest.fixture
def metrics_on(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[[], Samples]:
    """Metrics enabled, from zero, in this process's memory; returns a function reading them all."""
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    settings.MCPDEMO_METRICS_ENABLED = True
    metrics.reset()
    return lambda: parse(metrics.exposition().decode())


@pytest.fixture
def user(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("alice", "alice@example.com", PASSWORD)


@pytest.fixture
def other_user(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("bob", "bob@example.com", PASSWORD)


@pytest.fixture
def vscode(client: Client) -> dict[str, Any]:
    """VS Code's dynamic registration (its exact body)."""
    return register(client)


@pytest.fixture
def signed_in(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


@pytest.fixture
def tokens(signed_in: Client, vscode: dict[str, Any]) -> dict[str, Any]:
    """A token response for alice and VS Code, obtained through the real endpoints."""
    request = CodeRequest(vscode["client_id"])
    code = obtain_code(signed_in, request)["code"]
    response = exchange_code(signed_in, request, code)
    assert response.status_code == 200, response.content
    return {**response.json(), "client_id": vscode["client_id"]}


@pytest.fixture
def access_token(tokens: dict[str, Any]) -> str:
    return tokens["access_token"]


@pytest.fixture
def bob_tokens(other_user: Any, vscode: dict[str, Any], tokens: dict[str, Any]) -> dict[str, Any]:
    """Bob's tokens for the same VS Code client alice uses."""
    return tokens_for(other_user, vscode["client_id"])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/e2e starts a real server: mark it so the fast loop can leave it out."""
    for item in items:
        if "/tests/e2e/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.e2e)
