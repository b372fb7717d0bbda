"""Test helpers for the device flow (RFC 8628): a headless client and the person at /device."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.test import Client

from oauthapp.tokens import DEVICE_CODE
from tests.support.oauth import MCP_URL, VSCODE_REGISTRATION

FORM = "application/x-www-form-urlencoded"  # RFC 8628 §3.1 (oauthlib refuses anything else)
# VS Code's registration body when the server advertises the device grant.
DEVICE_REGISTRATION = {**VSCODE_REGISTRATION, "grant_types": ["authorization_code", "refresh_token", DEVICE_CODE]}


def start(client: Client, client_id: str | None, **overrides: str | None) -> Any:
    """POST /device-authorization as the headless client."""
    data: dict[str, str | None] = {"client_id": client_id, "scope": "mcp", "resource": MCP_URL}
    data.update(overrides)
    body = urlencode({k: v for k, v in data.items() if v is not None})
    return client.post("/device-authorization", body, content_type=FORM)


def poll(client: Client, client_id: str, device_code: str, **overrides: str) -> Any:
    data = {"grant_type": DEVICE_CODE, "client_id": client_id, "device_code": device_code}
    data.update(overrides)
    return client.post("/token", data)


def enter_code(browser: Client, user_code: str) -> Any:
    """The signed-in person types the code on /device; the consent page (or the form again)."""
    return browser.post("/device", {"user_code": user_code})


def decide(browser: Client, consent_page: Any, allow: bool = True) -> Any:
    data = {"request_id": consent_page.context["form"].initial["request_id"]}
    if allow:
        data["allow"] = "Authorize"
    return browser.post("/device/confirm", data)


def device_tokens(browser: Client, client_id: str) -> dict[str, Any]:
    """The whole device flow for the signed-in ``browser``'s account; the token response (and ``client_id``)."""
    from datetime import timedelta

    from django.utils import timezone
    from oauth2_provider.models import get_device_grant_model

    device = Client()
    codes = start(device, client_id).json()
    decide(browser, enter_code(browser, codes["user_code"]))
    get_device_grant_model().objects.filter(device_code=codes["device_code"]).update(
        last_checked=timezone.now() - timedelta(seconds=60)
    )
    response = poll(device, client_id, codes["device_code"])
    assert response.status_code == 200, response.content
    return {**response.json(), "client_id": client_id}
