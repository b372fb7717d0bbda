"""Browser pages: home, sign-in, the consent page's details, and the result and error pages."""

from __future__ import annotations

import re
from typing import Any
from unittest import mock
from urllib.parse import unquote

import pytest
from django.test import Client
from oauth2_provider.models import get_application_model

from tests.support.oauth import (
    CURSOR_REGISTRATION,
    LOOPBACK_REDIRECT,
    PASSWORD,
    CodeRequest,
    consent_form_data,
    register,
)

pytestmark = pytest.mark.django_db
Application = get_application_model()

# Every src/href/action a page may point at: same origin, or a fragment.
_URL_ATTRIBUTE = re.compile(r'\b(?:src|href|action)="([^"]*)"')


def assert_same_origin_only(html: str) -> None:
    """The page loads nothing from another origin (no CDN, no fonts, no trackers)."""
    for url in _URL_ATTRIBUTE.findall(html):
        assert not url.startswith(("http:", "https:", "//")), url


def assert_not_frameable(response: Any) -> None:
    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


# --- Home page ----------------------------------------------------------------------


def test_home_page_shows_the_mcp_url_and_the_vscode_snippet(client: Client) -> None:
    response = client.get("/")

    html = response.content.decode()
    assert response.status_code == 200
    assert '<code id="mcp-url">http://testserver/mcp</code>' in html
    assert ".vscode/mcp.json" in html
    assert "&quot;url&quot;: &quot;http://testserver/mcp&quot;" in html  # the snippet, escaped JSON
    assert 'data-copy-target="mcp-url"' in html
    assert_same_origin_only(html)


def test_home_page_copy_button_script_is_a_same_origin_file(client: Client) -> None:
    html = client.get("/").content.decode()
    script = client.get("/static/js/copy.js")

    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/js/copy.js" defer>']  # nothing inline
    assert script.status_code == 200
    assert b"navigator.clipboard" in b"".join(script.streaming_content)
    assert "script-src 'self'" in client.get("/")["Content-Security-Policy"]


def test_home_page_invites_an_anonymous_visitor_to_sign_in(client: Client) -> None:
    html = client.get("/").content.decode()

    assert 'href="/accounts/login/"' in html
    assert "/connected-apps/" not in html
    assert "/admin/" not in html


def test_home_page_links_a_signed_in_user_to_connected_apps_but_not_admin(signed_in: Client) -> None:
    html = signed_in.get("/").content.decode()

    assert 'href="/connected-apps/"' in html
    assert 'href="/admin/"' not in html


def test_home_page_links_staff_to_the_admin(admin_client: Client) -> None:
    html = admin_client.get("/").content.decode()

    assert 'href="/admin/"' in html


def test_favicon_is_served_from_our_static_files(client: Client) -> None:
    response = client.get("/favicon.ico")

    assert response.status_code == 302
    assert response["Location"] == "/static/favicon.svg"
    static = client.get(response["Location"])
    static.close()  # a file response: close it, as a server would
    assert static.status_code == 200


# --- Sign-in ------------------------------------------------------------------------


def test_login_page_keeps_next_and_links_home(client: Client) -> None:
    response = client.get("/accounts/login/", {"next": "/authorize?client_id=x"})

    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="next" value="/authorize?client_id=x"' in html
    assert "An application asked to connect" in html
    assert 'href="/"' in html
    assert_same_origin_only(html)
    assert_not_frameable(response)


def test_wrong_password_shows_a_clear_error(client: Client, user: Any) -> None:
    response = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})

    assert response.status_code == 200
    assert "did not match" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_returns_to_next(client: Client, user: Any) -> None:
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD, "next": "/connected-apps/"})

    assert response.status_code == 302
    assert response["Location"] == "/connected-apps/"


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/", "http://testserver.evil.example/"])
def test_login_never_sends_the_user_off_site(client: Client, user: Any, next_url: str) -> None:
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD, "next": next_url})

    assert response.status_code == 302
    assert response["Location"] == "/"


# --- Consent page -------------------------------------------------------------------


def _consent_html(client: Client, client_id: str, redirect_uri: str = LOOPBACK_REDIRECT) -> str:
    response = client.get("/authorize", CodeRequest(client_id, redirect_uri=redirect_uri).params())
    assert response.status_code == 200, response.content
    return response.content.decode()


def test_consent_page_flags_a_self_registered_client_as_unverified(signed_in: Client, vscode: dict) -> None:
    html = _consent_html(signed_in, vscode["client_id"])

    assert '<span class="badge warn"' in html
    assert ">unverified</span>" in html
    assert "nobody has checked" in html
    assert_same_origin_only(html)


def test_consent_page_names_the_domain_of_a_metadata_document_client(signed_in: Client) -> None:
    Application.objects.create(
        client_id="https://tools.example.com/oauth/client.json",
        name="Example Tools",
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=LOOPBACK_REDIRECT,
        registration_source=Application.RegistrationSource.CIMD,
    )

    html = _consent_html(signed_in, "https://tools.example.com/oauth/client.json")

    assert ">tools.example.com</span>" in html
    assert "unverified" not in html


def test_consent_page_calls_an_admin_created_client_trusted(signed_in: Client) -> None:
    application = Application.objects.create(
        name="In-house agent",
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=LOOPBACK_REDIRECT,
    )

    html = _consent_html(signed_in, application.client_id)

    assert '<span class="badge ok"' in html
    assert ">trusted</span>" in html


def test_not_you_signs_out_and_comes_back_to_the_same_request_after_sign_in(
    signed_in: Client, vscode: dict, other_user: Any
) -> None:
    request = CodeRequest(vscode["client_id"])
    html = _consent_html(signed_in, vscode["client_id"])
    form = re.search(r'<form method="post" action="/accounts/logout/".*?name="next" value="([^"]+)"', html, re.S)
    assert form and 'id="not-you"' in html

    signed_out = signed_in.post("/accounts/logout/", {"next": form.group(1).replace("&amp;", "&")})
    assert "_auth_user_id" not in signed_in.session
    assert signed_out.status_code == 302
    login_page = signed_out["Location"]
    assert login_page.startswith("/accounts/login/?next=/authorize")

    back = signed_in.post(
        login_page, {"username": "bob", "password": PASSWORD, "next": unquote(login_page.split("next=", 1)[1])}
    )
    consent = signed_in.get(back["Location"])
    assert consent.status_code == 200
    assert "<strong>bob</strong>" in consent.content.decode()
    assert consent.context["state"] == request.state


def test_consent_page_allows_the_redirect_to_a_private_use_scheme(signed_in: Client) -> None:
    cursor = register(signed_in, CURSOR_REGISTRATION)

    response = signed_in.get(
        "/authorize",
        CodeRequest(cursor["client_id"], redirect_uri="cursor://anysphere.cursor-mcp/oauth/callback").params(),
    )
    loopback = signed_in.get(
        "/authorize", CodeRequest(cursor["client_id"], redirect_uri="http://localhost:8787/callback").params()
    )

    # Chromium applies form-action to the redirect after the form: cursor: must be allowed.
    form_action = re.search(r"form-action ([^;]+)", response["Content-Security-Policy"]).group(1)
    assert "cursor:" in form_action.split()
    assert "cursor:" not in loopback["Content-Security-Policy"]


def test_consent_page_has_a_link_to_connected_apps(signed_in: Client, vscode: dict) -> None:
    html = _consent_html(signed_in, vscode["client_id"])

    assert 'href="/connected-apps/"' in html


# --- Result pages -------------------------------------------------------------------


def test_a_blocked_client_gets_an_access_denied_page_not_a_redirect(signed_in: Client, vscode: dict) -> None:
    Application.objects.filter(client_id=vscode["client_id"]).update(blocked_at="2026-01-01T00:00:00Z")

    response = signed_in.get("/authorize", CodeRequest(vscode["client_id"]).params())

    assert response.status_code == 403
    assert "Location" not in response
    html = response.content.decode()
    assert "Access denied" in html
    assert "blocked this application" in html
    assert_not_frameable(response)


def test_the_invalid_request_page_escapes_what_the_client_sent(signed_in: Client, vscode: dict) -> None:
    hostile = 'http://127.0.0.1:1/"><svg onload=alert(1)>'

    response = signed_in.get("/authorize", CodeRequest(vscode["client_id"], redirect_uri=hostile).params())

    html = response.content.decode()
    assert response.status_code == 400
    assert "<svg" not in html
    assert "cannot be completed" in html
    assert_not_frameable(response)


def test_a_consent_form_for_a_client_deleted_meanwhile_is_a_bad_request(
    signed_in: Client, vscode: dict, settings: Any
) -> None:
    settings.DEBUG = False
    page = signed_in.get("/authorize", CodeRequest(vscode["client_id"]).params())
    get_application_model().objects.filter(client_id=vscode["client_id"]).delete()

    response = signed_in.post("/authorize", consent_form_data(page))

    assert response.status_code == 400
    assert "Location" not in response
    assert "expired" in response.content.decode()


def test_unknown_client_page_explains_and_links_home(signed_in: Client) -> None:
    response = signed_in.get("/authorize", CodeRequest("no-such-client").params())

    html = response.content.decode()
    assert response.status_code == 400
    assert "This server does not know the application that sent you here." in html
    assert "Remove Dynamic Authentication Providers" in html  # VS Code re-registers itself then
    assert "<code>invalid_request</code>" in html
    assert 'href="/"' in html


def test_missing_page_uses_our_404_page(client: Client, settings: Any) -> None:
    settings.DEBUG = False

    response = client.get("/no-such-page/")

    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html
    assert "/static/css/site.css" in html


def test_a_crash_shows_our_500_page_without_a_traceback(settings: Any) -> None:
    settings.DEBUG = False
    browser = Client(raise_request_exception=False)

    with mock.patch("mcpdemo.views.HomeView.get", side_effect=RuntimeError("secret internals")):
        response = browser.get("/")

    html = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in html
    assert "secret internals" not in html
    assert "Traceback" not in html


def test_a_form_without_csrf_token_gets_a_friendly_403(user: Any, settings: Any) -> None:
    settings.DEBUG = False
    browser = Client(enforce_csrf_checks=True)

    response = browser.post("/accounts/login/", {"username": "alice", "password": PASSWORD})

    assert response.status_code == 403
    assert "Please try again" in response.content.decode()


@pytest.mark.parametrize(("path", "purpose"), [("/token", "access tokens"), ("/register", "register themselves")])
def test_an_api_endpoint_opened_in_a_browser_explains_itself(client: Client, path: str, purpose: str) -> None:
    response = client.get(path, HTTP_ACCEPT="text/html,application/xhtml+xml")

    html = response.content.decode()
    assert response.status_code == 405
    assert "POST" in response["Allow"]
    assert "This address is for applications" in html and purpose in html


def test_an_api_endpoint_answers_a_client_get_with_a_plain_405(client: Client) -> None:
    response = client.get("/token", HTTP_ACCEPT="application/json")

    assert response.status_code == 405
    assert b"This address" not in response.content
