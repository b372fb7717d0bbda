"""The authorization endpoint: login, consent, PKCE, resource binding, and where users are sent."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from oauth2_provider.models import get_grant_model

from oauthapp import consent_requests
from tests.support.oauth import (
    BASE,
    LOOPBACK_REDIRECT,
    MCP_URL,
    OTHER_RESOURCES,
    CodeRequest,
    consent_form_data,
    query_of,
    register,
)

pytestmark = pytest.mark.django_db
Grant = get_grant_model()


def test_anonymous_user_is_sent_to_login_and_back(client: Client, vscode: dict[str, Any]) -> None:
    response = client.get("/authorize", CodeRequest(vscode["client_id"]).params())

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/authorize%3F")


def test_consent_page_names_client_redirect_host_scope_and_user(signed_in: Client, vscode: dict[str, Any]) -> None:
    response = signed_in.get("/authorize", CodeRequest(vscode["client_id"]).params())

    assert response.status_code == 200
    html = response.content.decode()
    assert "Visual Studio Code" in html
    assert "unverified" in html  # registered itself: nobody vouched for the name
    assert "An app on this computer (port 33418)" in html
    assert "<bdi>127.0.0.1:33418</bdi>" in html
    assert "Use this server&#x27;s MCP tools on your behalf" in html
    assert "alice" in html
    assert 'id="not-you"' in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_consent_page_cannot_be_framed(signed_in: Client, vscode: dict[str, Any]) -> None:
    response = signed_in.get("/authorize", CodeRequest(vscode["client_id"]).params())

    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_consent_page_escapes_what_the_client_supplied(signed_in: Client) -> None:
    hostile = register(
        signed_in,
        {
            "client_name": "<script>alert(1)</script>",
            "redirect_uris": [LOOPBACK_REDIRECT],
            "token_endpoint_auth_method": "none",
        },
    )
    request = CodeRequest(hostile["client_id"], state='"><script>alert(2)</script>')

    html = signed_in.get("/authorize", request.params()).content.decode()

    assert "<script>alert(" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_allow_redirects_with_code_state_and_issuer(signed_in: Client, vscode: dict[str, Any]) -> None:
    request = CodeRequest(vscode["client_id"])
    page = signed_in.get("/authorize", request.params())

    response = signed_in.post("/authorize", consent_form_data(page, allow=True))

    assert response.status_code == 302
    assert response["Location"].startswith(LOOPBACK_REDIRECT + "?")
    query = query_of(response["Location"])
    assert query["state"] == "state-123"
    assert query["iss"] == BASE
    assert len(query["code"]) >= 22  # ≥128 bits of entropy


def test_deny_redirects_with_access_denied_state_and_issuer(signed_in: Client, vscode: dict[str, Any]) -> None:
    request = CodeRequest(vscode["client_id"])
    page = signed_in.get("/authorize", request.params())

    response = signed_in.post("/authorize", consent_form_data(page, allow=False))

    query = query_of(response["Location"])
    assert query == {"error": "access_denied", "state": "state-123", "iss": BASE}
    assert not Grant.objects.exists()


def test_loopback_redirect_may_use_any_port(signed_in: Client, vscode: dict[str, Any]) -> None:
    request = CodeRequest(vscode["client_id"], redirect_uri="http://127.0.0.1:59656/")
    page = signed_in.get("/authorize", request.params())

    response = signed_in.post("/authorize", consent_form_data(page))

    assert response["Location"].startswith("http://127.0.0.1:59656/?")


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://evil.example/",
        "http://localhost:33418/",  # registered 127.0.0.1, not localhost
        "http://127.0.0.1:33418/cb",
        "http://127.0.0.1:33418/?x=1",
        "http://127.0.0.1:33418/#x",
        "https://127.0.0.1:33418/",
        "http://127.0.0.1@evil.example/",
        "HTTP://127.0.0.1:33418/",  # re-cased scheme: not the registered string
        "https://VSCODE.dev/redirect",  # re-cased host
        "https://vscode.dev/redirect/",
    ],
)
def test_unregistered_redirect_uri_gets_an_error_page_not_a_redirect(
    signed_in: Client, vscode: dict[str, Any], redirect_uri: str
) -> None:
    response = signed_in.get("/authorize", CodeRequest(vscode["client_id"], redirect_uri=redirect_uri).params())

    assert response.status_code == 400
    assert "Location" not in response
    assert "cannot be completed" in response.content.decode()


@pytest.mark.parametrize("redirect_uri", ["HTTPS://app.example.test/cb", "https://APP.example.test/cb"])
def test_recased_redirect_uri_gets_an_error_page_that_says_why(signed_in: Client, redirect_uri: str) -> None:
    client_id = register(signed_in, {"client_name": "web app", "redirect_uris": ["https://app.example.test/cb"]})[
        "client_id"
    ]

    response = signed_in.get("/authorize", CodeRequest(client_id, redirect_uri=redirect_uri).params())

    assert response.status_code == 400
    assert "Location" not in response
    assert "letter case" in response.content.decode()
    assert not Grant.objects.exists()


def test_registration_with_an_upper_case_host_is_refused(client: Client) -> None:
    response = client.post(
        "/register",
        {"client_name": "web app", "redirect_uris": ["https://APP.example.test/cb"]},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_redirect_uri"
    assert "lower case" in response.json()["error_description"]


@pytest.mark.parametrize("name", ["code_challenge", "code_challenge_method", "response_type", "nonce", "prompt"])
def test_a_repeated_parameter_is_refused_with_invalid_request_by_redirect(
    signed_in: Client, vscode: dict[str, Any], name: str
) -> None:
    request = CodeRequest(vscode["client_id"])
    params = request.params()
    first = params.get(name, "x")
    params[name] = [first, first if name != "code_challenge" else request.challenge[::-1]]

    response = signed_in.get("/authorize", params)

    if name == "response_type":  # oauthlib treats it as fatal: an error page
        assert response.status_code == 400
        assert "Location" not in response
    else:
        query = _error_redirect(response)
        assert query["error"] == "invalid_request"
        assert name in query["error_description"]
        assert query["state"] == "state-123"
    assert not Grant.objects.exists()


@pytest.mark.parametrize("name", ["client_id", "redirect_uri", "state"])
def test_a_repeated_client_redirect_or_state_gets_an_error_page(
    signed_in: Client, vscode: dict[str, Any], name: str
) -> None:
    params = CodeRequest(vscode["client_id"]).params()
    params[name] = [params[name], params[name]]

    response = signed_in.get("/authorize", params)

    assert response.status_code == 400
    assert "Location" not in response
    assert "cannot be completed" in response.content.decode()


def test_resource_may_be_repeated_at_authorize(signed_in: Client, vscode: dict[str, Any]) -> None:
    params = CodeRequest(vscode["client_id"]).params()
    params["resource"] = [MCP_URL, MCP_URL]

    assert signed_in.get("/authorize", params).status_code == 200


def test_unknown_client_gets_an_error_page(signed_in: Client) -> None:
    response = signed_in.get("/authorize", CodeRequest("no-such-client").params())

    assert response.status_code == 400
    assert "Location" not in response


def _error_redirect(response: Any) -> dict[str, str]:
    assert response.status_code == 302
    assert response["Location"].startswith(LOOPBACK_REDIRECT)
    return query_of(response["Location"])


@pytest.mark.parametrize(
    "overrides",
    [
        {"code_challenge": None, "code_challenge_method": None},
        {"code_challenge_method": "plain"},
        {"code_challenge_method": None},
        {"code_challenge": "a"},
        {"code_challenge": "A" * 300},
        {"code_challenge": "!" * 43},
    ],
    ids=["missing", "plain", "method-missing", "too-short", "too-long", "bad-characters"],
)
def test_pkce_must_be_s256_with_a_wellformed_challenge(
    signed_in: Client, vscode: dict[str, Any], overrides: dict[str, str | None]
) -> None:
    request = CodeRequest(vscode["client_id"])

    query = _error_redirect(signed_in.get("/authorize", request.params(**overrides)))

    assert query["error"] == "invalid_request"
    assert query["state"] == "state-123"
    assert query["iss"] == BASE
    assert "code" not in query


def test_tampered_consent_form_cannot_downgrade_pkce(signed_in: Client, vscode: dict[str, Any]) -> None:
    request = CodeRequest(vscode["client_id"])
    page = signed_in.get("/authorize", request.params())
    data = consent_form_data(page) | {"code_challenge_method": "plain", "code_challenge": "x" * 50}

    response = signed_in.post("/authorize", data)

    assert "code" in query_of(response["Location"])
    grant = Grant.objects.get()
    assert (grant.code_challenge, grant.code_challenge_method) == (request.challenge, "S256")


def test_consent_form_carries_only_the_decision_and_a_signed_request_id(
    signed_in: Client, vscode: dict[str, Any]
) -> None:
    page = signed_in.get("/authorize", CodeRequest(vscode["client_id"]).params())

    assert set(consent_form_data(page)) == {"request_id", "allow"}
    assert 'name="client_id"' not in page.content.decode()


TAMPERED_FIELDS = {
    "client_id": None,  # another registered client, filled in below
    "redirect_uri": "http://127.0.0.1:4444/",
    "scope": "mcp admin",
    "state": "other-state",
    "code_challenge": "B" * 43,
    "code_challenge_method": "plain",
    "resource": "https://other.example/api",
    "response_type": "token",
}


@pytest.mark.parametrize("field", TAMPERED_FIELDS)
def test_a_tampered_consent_post_approves_only_the_request_that_was_shown(
    signed_in: Client, vscode: dict[str, Any], field: str
) -> None:
    other = register(signed_in, {"client_name": "Other", "redirect_uris": ["http://127.0.0.1:4444/"]})
    request = CodeRequest(vscode["client_id"])
    page = signed_in.get("/authorize", request.params())
    value = TAMPERED_FIELDS[field] or other["client_id"]

    response = signed_in.post("/authorize", consent_form_data(page) | {field: value})

    assert response["Location"].startswith(LOOPBACK_REDIRECT + "?")
    assert query_of(response["Location"])["state"] == "state-123"
    grant = Grant.objects.get()
    assert grant.application.client_id == vscode["client_id"]
    assert grant.redirect_uri == LOOPBACK_REDIRECT
    assert (grant.scope, grant.code_challenge, grant.resource) == ("mcp", request.challenge, [MCP_URL])


def test_a_consent_post_to_a_tampered_url_approves_only_the_request_that_was_shown(
    signed_in: Client, vscode: dict[str, Any]
) -> None:
    other = register(signed_in, {"client_name": "Other", "redirect_uris": ["http://127.0.0.1:4444/"]})
    request = CodeRequest(vscode["client_id"])
    page = signed_in.get("/authorize", request.params())
    forged = CodeRequest(other["client_id"], redirect_uri="http://127.0.0.1:4444/", state="forged")

    response = signed_in.post("/authorize?" + urlencode(forged.params()), consent_form_data(page))

    assert response["Location"].startswith(LOOPBACK_REDIRECT + "?")
    grant = Grant.objects.get()
    assert (grant.application.client_id, grant.code_challenge) == (vscode["client_id"], request.challenge)


def test_a_consent_page_is_answered_once(signed_in: Client, vscode: dict[str, Any]) -> None:
    page = signed_in.get("/authorize", CodeRequest(vscode["client_id"]).params())
    signed_in.post("/authorize", consent_form_data(page))

    again = signed_in.post("/authorize", consent_form_data(page))

    assert again.status_code == 400
    assert "Location" not in again
    assert "expired" in again.content.decode()
    assert Grant.objects.count() == 1


@pytest.mark.parametrize("request_id", ["", "forged", "abc:def:ghi"])
def test_a_consent_post_without_a_stored_request_is_refused(
    signed_in: Client, vscode: dict[str, Any], request_id: str
) -> None:
    page = signed_in.get("/authorize", CodeRequest(vscode["client_id"]).params())

    response = signed_in.post("/authorize", consent_form_data(page) | {"request_id": request_id})

    assert response.status_code == 400
    assert "Location" not in response
    assert not Grant.objects.exists()


def test_a_consent_page_expires(signed_in: Client, vscode: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    page = signed_in.get("/authorize", CodeRequest(vscode["client_id"]).params())
    later = time.time() + consent_requests.MAX_AGE_SECONDS + 1
    monkeypatch.setattr(time, "time", lambda: later)

    response = signed_in.post("/authorize", consent_form_data(page))

    assert response.status_code == 400
    assert not Grant.objects.exists()


def test_a_consent_page_shown_to_one_person_cannot_be_answered_by_another(
    client: Client, user: Any, other_user: Any, vscode: dict[str, Any]
) -> None:
    client.force_login(user)
    page = client.get("/authorize", CodeRequest(vscode["client_id"]).params())
    session = client.session
    pending = session[consent_requests.SESSION_KEY]
    for entry in pending.values():
        entry["user"] = other_user.pk
    session[consent_requests.SESSION_KEY] = pending
    session.save()

    response = client.post("/authorize", consent_form_data(page))

    assert response.status_code == 400
    assert not Grant.objects.exists()


def test_several_consent_pages_may_be_open_at_once(signed_in: Client, vscode: dict[str, Any]) -> None:
    first = CodeRequest(vscode["client_id"], state="first")
    second = CodeRequest(vscode["client_id"], state="second")
    first_page = signed_in.get("/authorize", first.params())
    second_page = signed_in.get("/authorize", second.params())

    answers = [
        query_of(signed_in.post("/authorize", consent_form_data(page))["Location"])["state"]
        for page in (second_page, first_page)
    ]

    assert answers == ["second", "first"]


def test_resource_defaults_to_the_mcp_endpoint(signed_in: Client, vscode: dict[str, Any]) -> None:
    request = CodeRequest(vscode["client_id"], resource=None)
    page = signed_in.get("/authorize", request.params())

    signed_in.post("/authorize", consent_form_data(page))

    assert Grant.objects.get().resource == [MCP_URL]


@pytest.mark.parametrize("resource", ["HTTP://TESTSERVER/mcp", "http://TestServer/mcp"])
def test_resource_with_upper_case_scheme_or_host_is_the_mcp_endpoint(
    signed_in: Client, vscode: dict[str, Any], resource: str
) -> None:
    request = CodeRequest(vscode["client_id"], resource=resource)
    page = signed_in.get("/authorize", request.params())

    signed_in.post("/authorize", consent_form_data(page))

    assert Grant.objects.get().resource == [MCP_URL]


@pytest.mark.parametrize("resource", OTHER_RESOURCES)
def test_any_other_resource_is_refused_with_invalid_target(
    signed_in: Client, vscode: dict[str, Any], resource: str
) -> None:
    query = _error_redirect(signed_in.get("/authorize", CodeRequest(vscode["client_id"], resource=resource).params()))

    assert query["error"] == "invalid_target"
    assert query["state"] == "state-123"


def test_tampered_consent_form_cannot_change_the_resource(signed_in: Client, vscode: dict[str, Any]) -> None:
    request = CodeRequest(vscode["client_id"])
    page = signed_in.get("/authorize", request.params())

    signed_in.post("/authorize", consent_form_data(page) | {"resource": "https://other.example/api"})

    assert Grant.objects.get().resource == [MCP_URL]


def test_client_cannot_skip_consent_with_approval_prompt(
    signed_in: Client, vscode: dict[str, Any], tokens: dict[str, Any]
) -> None:
    """DOT honours ?approval_prompt=auto from the client; we always ask the user."""
    request = CodeRequest(vscode["client_id"])

    response = signed_in.get("/authorize", request.params(approval_prompt="auto"))

    assert response.status_code == 200
    assert "Allow" in response.content.decode()


def test_implicit_response_type_is_refused(signed_in: Client, vscode: dict[str, Any]) -> None:
    query = _error_redirect(signed_in.get("/authorize", CodeRequest(vscode["client_id"]).params(response_type="token")))

    # RFC 6749 §4.1.2.1: either code fits; what matters is that no token is issued.
    assert query["error"] in {"unsupported_response_type", "unauthorized_client"}
    assert "access_token" not in query


def test_consent_post_requires_csrf_token(user: Any, vscode: dict[str, Any]) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    page = browser.get("/authorize", CodeRequest(vscode["client_id"]).params())
    data = consent_form_data(page)

    response = browser.post("/authorize", data)

    assert response.status_code == 403
    assert not Grant.objects.exists()
