from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from oauthapp import connections
from tests.oauth import CodeRequest, exchange_code, obtain_code, register

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Rate-limit counters and use throttles live in the cache (and the process); every test starts with none."""
    cache.clear()
    connections.forget_local_use_marks()


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
