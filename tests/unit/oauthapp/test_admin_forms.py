"""The admin's application form: an administrator allows device sign-in for a public client."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from oauth2_provider.models import get_application_model

from oauthapp.tokens import DEVICE_CODE
from tests.support.device import DEVICE_REGISTRATION, device_tokens, start
from tests.support.mcp import accepted_at_mcp
from tests.support.oauth import LOOPBACK_REDIRECT, register

pytestmark = pytest.mark.django_db
Application = get_application_model()
ADD_PAGE = "/admin/oauthapp/application/add/"


def change_page(application: Any) -> str:
    return f"/admin/oauthapp/application/{application.pk}/change/"


def form_data(admin_client: Client, url: str, **changes: Any) -> dict[str, Any]:
    """The form as the admin page fills it in, with ``changes`` (a checkbox left out is unticked)."""
    initial = {**admin_client.get(url).context["adminform"].form.initial, **changes}
    return {key: value for key, value in initial.items() if value not in (None, False)}


def add_client(admin_client: Client, **changes: Any) -> Any:
    data = {
        "name": "Build agent",
        "client_type": Application.CLIENT_PUBLIC,
        "authorization_grant_type": Application.GRANT_AUTHORIZATION_CODE,
        "redirect_uris": LOOPBACK_REDIRECT,
        "client_id": "build-agent",
        **changes,
    }
    return admin_client.post(ADD_PAGE, {key: value for key, value in data.items() if value is not False})


def test_a_public_client_allowed_device_sign_in_gets_through_the_device_flow(
    admin_client: Client, signed_in: Client
) -> None:
    response = add_client(admin_client, device_sign_in="on")

    assert response.status_code == 302, response.context["adminform"].form.errors
    application = Application.objects.get(client_id="build-agent")
    assert DEVICE_CODE in application.client_metadata["grant_types"]
    tokens = device_tokens(signed_in, application.client_id)
    assert accepted_at_mcp(tokens["access_token"])


def test_without_the_box_a_created_client_is_refused_the_device_grant(admin_client: Client) -> None:
    add_client(admin_client)

    response = start(Client(), "build-agent")

    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


def test_unticking_takes_device_sign_in_away(admin_client: Client) -> None:
    add_client(admin_client, device_sign_in="on")
    application = Application.objects.get(client_id="build-agent")
    assert admin_client.get(change_page(application)).context["adminform"].form.initial["device_sign_in"] is True

    data = form_data(admin_client, change_page(application), device_sign_in=False)
    response = admin_client.post(change_page(application), data)

    assert response.status_code == 302
    application.refresh_from_db()
    assert not application.allows_device_grant
    assert start(Client(), "build-agent").json()["error"] == "unauthorized_client"


def test_device_sign_in_is_refused_for_a_confidential_client(admin_client: Client) -> None:
    response = add_client(admin_client, client_type=Application.CLIENT_CONFIDENTIAL, device_sign_in="on")

    assert response.status_code == 200  # the form again, with the error
    assert response.context["adminform"].form.errors["device_sign_in"] == ["Device sign-in is for public clients only."]
    assert not Application.objects.filter(client_id="build-agent").exists()


def test_a_self_registered_client_shows_what_it_declared_read_only(admin_client: Client) -> None:
    client_id = register(Client(), DEVICE_REGISTRATION)["client_id"]
    application = Application.objects.get(client_id=client_id)

    page = admin_client.get(change_page(application))

    assert "device_sign_in" not in page.context["adminform"].form.fields
    assert "Device sign-in" in page.content.decode()
    assert application.allows_device_grant


def test_a_device_only_client_is_listed_and_saved_without_redirect_uris(admin_client: Client) -> None:
    body = {"client_name": "Build agent", "grant_types": [DEVICE_CODE], "token_endpoint_auth_method": "none"}
    application = Application.objects.get(client_id=register(Client(), body)["client_id"])

    listing = admin_client.get("/admin/oauthapp/application/")
    saved = admin_client.post(change_page(application), form_data(admin_client, change_page(application)))

    assert listing.status_code == 200 and "Build agent" in listing.content.decode()
    assert saved.status_code == 302, saved.context["adminform"].form.errors
    application.refresh_from_db()
    assert application.authorization_grant_type == DEVICE_CODE and application.redirect_uris == ""


def test_the_device_grant_alone_is_refused_for_a_confidential_client(admin_client: Client) -> None:
    response = add_client(
        admin_client,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=DEVICE_CODE,
        redirect_uris="",
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["authorization_grant_type"] == [
        "The device grant is for public clients only."
    ]


def test_an_admin_created_device_only_client_declares_no_code_grant(admin_client: Client) -> None:
    response = add_client(admin_client, authorization_grant_type=DEVICE_CODE, redirect_uris="")

    assert response.status_code == 302, response.context["adminform"].form.errors
    application = Application.objects.get(client_id="build-agent")
    assert application.client_metadata["grant_types"] == [DEVICE_CODE, "refresh_token"]
    assert application.allows_device_grant and not application.allows_grant_type("authorization-code")
