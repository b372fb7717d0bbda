"""The Django admin: inspecting clients and tokens, revoking, blocking, and the read-only audit log."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection as db_connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_refresh_token_model,
)

from oauthapp.models import AuditEvent, Consent
from tests.support.mcp import accepted_at_mcp
from tests.support.oauth import (
    CLAUDE_REGISTRATION,
    LOOPBACK_REDIRECT,
    MCP_URL,
    CodeRequest,
    consent_form_data,
    exchange_code,
    obtain_code,
    refresh,
    register,
)

pytestmark = pytest.mark.django_db
Application = get_application_model()
AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
Grant = get_grant_model()

APPLICATIONS = "/admin/oauthapp/application/"
ACCESS_TOKENS = "/admin/oauth2_provider/accesstoken/"
REFRESH_TOKENS = "/admin/oauth2_provider/refreshtoken/"
GRANTS = "/admin/oauth2_provider/grant/"
AUDIT_LOG = "/admin/oauthapp/auditevent/"
CONNECTIONS = "/admin/oauthapp/consent/"


def usable(token: str) -> bool:
    return accepted_at_mcp(token)


def authorize(client: Client, client_id: str) -> dict[str, Any]:
    request = CodeRequest(client_id)
    response = exchange_code(client, request, obtain_code(client, request)["code"])
    assert response.status_code == 200, response.content
    return response.json()


def run_action(admin_client: Client, url: str, action: str, *objects: Any) -> Any:
    """Run an admin action, answering "yes" on its confirmation page if it has one."""
    selected = {"action": action, "_selected_action": [obj.pk for obj in objects], "post": "yes"}
    response = admin_client.post(url, selected, follow=True)
    assert response.status_code == 200
    return response


def vscode_application(tokens: dict[str, Any]) -> Any:
    return Application.objects.get(client_id=tokens["client_id"])


# --- Applications list ----------------------------------------------------------------


def test_application_list_shows_how_each_client_is_known_and_used(admin_client: Client, tokens: dict[str, Any]) -> None:
    response = admin_client.get(APPLICATIONS)

    html = response.content.decode()
    assert response.status_code == 200
    for column in ["Name", "Client ID", "Registered", "Redirect hosts", "Created"]:
        assert column in html
    assert "Last token" in html and "Live tokens" in html
    assert "Visual Studio Code" in html
    assert tokens["client_id"] in html
    assert "dynamic (unverified)" in html
    assert "vscode.dev, 127.0.0.1, 127.0.0.1:33418" in html
    row = response.context["cl"].result_list[0]
    assert row.active_tokens == 2  # one access and one refresh token; not the registration token
    assert row.last_token_issued is not None


def test_application_list_runs_a_fixed_number_of_queries(admin_client: Client, client: Client, signed_in: Any) -> None:
    def queries_for_list() -> int:
        with CaptureQueriesContext(db_connection) as queries:
            assert admin_client.get(APPLICATIONS).status_code == 200
        return len(queries)

    authorize(signed_in, register(client)["client_id"])
    with_one = queries_for_list()
    for _ in range(4):
        authorize(signed_in, register(client)["client_id"])

    assert queries_for_list() == with_one


def test_applications_can_be_searched_by_name_and_client_id(admin_client: Client, tokens: dict[str, Any]) -> None:
    claude = register(admin_client, CLAUDE_REGISTRATION)

    by_name = admin_client.get(APPLICATIONS, {"q": "Claude"}).context["cl"].result_list
    by_client_id = admin_client.get(APPLICATIONS, {"q": tokens["client_id"]}).context["cl"].result_list

    assert [app.client_id for app in by_name] == [claude["client_id"]]
    assert [app.client_id for app in by_client_id] == [tokens["client_id"]]


def test_applications_can_be_filtered_by_registration_kind(admin_client: Client, tokens: dict[str, Any]) -> None:
    manual = Application.objects.create(
        name="In-house",
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=LOOPBACK_REDIRECT,
    )

    dynamic = admin_client.get(APPLICATIONS, {"registration": "dcr"}).context["cl"].result_list
    by_admin = admin_client.get(APPLICATIONS, {"registration": "manual"}).context["cl"].result_list

    assert [app.client_id for app in dynamic] == [tokens["client_id"]]
    assert [app.pk for app in by_admin] == [manual.pk]
    assert "admin (trusted)" in admin_client.get(APPLICATIONS).content.decode()


def test_applications_can_be_filtered_by_activity(admin_client: Client, tokens: dict[str, Any]) -> None:
    idle = register(admin_client, CLAUDE_REGISTRATION)
    blocked = Application.objects.get(client_id=register(admin_client, CLAUDE_REGISTRATION)["client_id"])
    run_action(admin_client, APPLICATIONS, "block", blocked)

    def listed(activity: str) -> set[str]:
        return {
            app.client_id for app in admin_client.get(APPLICATIONS, {"activity": activity}).context["cl"].result_list
        }

    assert listed("active") == {tokens["client_id"]}
    assert listed("idle") == {idle["client_id"]}
    assert listed("blocked") == {blocked.client_id}


def test_application_list_escapes_client_supplied_names(admin_client: Client) -> None:
    register(
        admin_client,
        {
            "client_name": "<script>alert(1)</script>",
            "redirect_uris": [LOOPBACK_REDIRECT],
            "token_endpoint_auth_method": "none",
        },
    )

    html = admin_client.get(APPLICATIONS).content.decode()

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_staff_without_admin_rights_and_users_cannot_open_the_admin(signed_in: Client) -> None:
    response = signed_in.get(APPLICATIONS)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


# --- Application actions -----------------------------------------------------------------


def test_revoke_all_tokens_signs_the_client_out_but_lets_it_sign_in_again(
    admin_client: Client, signed_in: Client, tokens: dict[str, Any]
) -> None:
    application = vscode_application(tokens)

    response = run_action(admin_client, APPLICATIONS, "revoke_all_tokens", application)

    assert "Revoked 2 tokens of 1 application." in response.content.decode()
    assert not usable(tokens["access_token"])
    assert refresh(signed_in, tokens["client_id"], tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert AccessToken.objects.filter(user__isnull=True).count() == 1  # still registered (RFC 7592 token)
    assert not Consent.objects.exists()
    assert usable(authorize(signed_in, tokens["client_id"])["access_token"])


def test_block_revokes_the_tokens_and_refuses_new_authorizations_and_refreshes(
    admin_client: Client, signed_in: Client, tokens: dict[str, Any]
) -> None:
    application = vscode_application(tokens)

    response = run_action(admin_client, APPLICATIONS, "block", application)

    assert "Blocked 1 application and revoked 2 tokens." in response.content.decode()
    application.refresh_from_db()
    assert application.is_blocked
    assert not usable(tokens["access_token"])
    authorize_page = signed_in.get("/authorize", CodeRequest(tokens["client_id"]).params())
    assert authorize_page.status_code == 403
    assert "Access denied" in authorize_page.content.decode()
    refreshed = refresh(signed_in, tokens["client_id"], tokens["refresh_token"])
    assert refreshed.status_code == 401
    assert refreshed.json()["error"] == "invalid_client"


def test_a_client_blocked_while_the_user_reads_the_consent_page_gets_access_denied(
    admin_client: Client, signed_in: Client, vscode: dict[str, Any]
) -> None:
    page = signed_in.get("/authorize", CodeRequest(vscode["client_id"]).params())

    run_action(admin_client, APPLICATIONS, "block", Application.objects.get(client_id=vscode["client_id"]))
    response = signed_in.post("/authorize", consent_form_data(page))

    assert response.status_code == 403
    assert "Location" not in response
    assert "Access denied" in response.content.decode()
    assert not Grant.objects.exists()


def test_a_blocked_client_cannot_exchange_a_code_it_got_before(
    admin_client: Client, signed_in: Client, vscode: dict[str, Any]
) -> None:
    request = CodeRequest(vscode["client_id"])
    code = obtain_code(signed_in, request)["code"]

    run_action(admin_client, APPLICATIONS, "block", Application.objects.get(client_id=vscode["client_id"]))
    response = exchange_code(signed_in, request, code)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_a_token_of_a_blocked_client_is_refused_even_if_it_survived(tokens: dict[str, Any]) -> None:
    Application.objects.filter(client_id=tokens["client_id"]).update(blocked_at="2026-01-01T00:00:00Z")

    assert not usable(tokens["access_token"])


def test_unblock_lets_the_client_ask_again(admin_client: Client, signed_in: Client, tokens: dict[str, Any]) -> None:
    application = vscode_application(tokens)
    run_action(admin_client, APPLICATIONS, "block", application)

    response = run_action(admin_client, APPLICATIONS, "unblock", application)

    assert "Unblocked 1 application." in response.content.decode()
    application.refresh_from_db()
    assert not application.is_blocked
    assert usable(authorize(signed_in, tokens["client_id"])["access_token"])


def test_delete_removes_the_client_and_its_tokens(admin_client: Client, tokens: dict[str, Any]) -> None:
    application = vscode_application(tokens)

    admin_client.post(APPLICATIONS, {"action": "delete_selected", "_selected_action": [application.pk], "post": "yes"})

    assert not Application.objects.filter(pk=application.pk).exists()
    assert not usable(tokens["access_token"])
    assert not RefreshToken.objects.exists()


def test_application_actions_are_audited_with_the_administrator(
    admin_client: Client, admin_user: Any, tokens: dict[str, Any]
) -> None:
    application = vscode_application(tokens)

    run_action(admin_client, APPLICATIONS, "revoke_all_tokens", application)
    run_action(admin_client, APPLICATIONS, "block", application)
    run_action(admin_client, APPLICATIONS, "unblock", application)

    events = AuditEvent.objects.filter(actor=AuditEvent.Actor.ADMIN).order_by("created", "pk")
    assert [event.kind for event in events] == ["token_revoked", "token_revoked", "client_blocked", "client_unblocked"]
    assert {event.actor_user for event in events} == {admin_user}
    assert {event.client_id for event in events} == {tokens["client_id"]}
    assert events[0].detail["tokens"] == 2


# --- Tokens -------------------------------------------------------------------------


def test_access_token_list_shows_who_what_and_until_when_but_never_the_token(
    admin_client: Client, user: Any, tokens: dict[str, Any]
) -> None:
    response = admin_client.get(ACCESS_TOKENS)

    html = response.content.decode()
    token = AccessToken.objects.get(user=user)
    for column in ["User", "Application", "Scope", "Resource", "Created", "Expires", "Status"]:
        assert column in html
    assert MCP_URL in html
    assert "active" in html
    assert tokens["access_token"] not in html
    assert token.token_checksum not in html
    assert [row.pk for row in response.context["cl"].result_list] == [token.pk]  # no registration token


def test_registration_tokens_are_listed_only_when_asked_for_and_labelled(
    admin_client: Client, tokens: dict[str, Any]
) -> None:
    response = admin_client.get(ACCESS_TOKENS, {"kind": "registration"})

    rows = response.context["cl"].result_list
    assert len(rows) == 1 and rows[0].user is None
    assert "client registration token" in response.content.decode()


def test_access_token_page_is_read_only_and_hides_the_checksum(
    admin_client: Client, user: Any, tokens: dict[str, Any]
) -> None:
    token = AccessToken.objects.get(user=user)

    page = admin_client.get(f"{ACCESS_TOKENS}{token.pk}/change/")
    saved = admin_client.post(f"{ACCESS_TOKENS}{token.pk}/change/", {"scope": "mcp admin"})

    assert page.status_code == 200
    assert token.token_checksum not in page.content.decode()
    assert 'name="_save"' not in page.content.decode()
    assert saved.status_code == 403
    assert admin_client.get(f"{ACCESS_TOKENS}add/").status_code == 403


def test_revoking_selected_access_tokens_takes_effect_at_once(
    admin_client: Client, signed_in: Client, user: Any, tokens: dict[str, Any]
) -> None:
    token = AccessToken.objects.get(user=user)

    response = run_action(admin_client, ACCESS_TOKENS, "revoke_selected", token)

    assert "Revoked 1 access token." in response.content.decode()
    assert not usable(tokens["access_token"])
    # DOT's revoke path: the bound refresh token goes too.
    assert refresh(signed_in, tokens["client_id"], tokens["refresh_token"]).json()["error"] == "invalid_grant"
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.TOKEN_REVOKED)
    assert (event.actor, event.user, event.detail["token_type"]) == ("admin", user, "access")


def test_refresh_token_list_shows_status_and_never_the_token(
    admin_client: Client, signed_in: Client, tokens: dict[str, Any]
) -> None:
    rotated = refresh(signed_in, tokens["client_id"], tokens["refresh_token"]).json()

    response = admin_client.get(REFRESH_TOKENS)

    html = response.content.decode()
    assert "revoked" in html and "active" in html
    assert tokens["refresh_token"] not in html and rotated["refresh_token"] not in html
    for token in RefreshToken.objects.all():
        assert token.token_checksum not in html
    active = admin_client.get(REFRESH_TOKENS, {"status": "active"}).context["cl"].result_list
    assert len(active) == 1 and active[0].revoked is None


def test_revoking_selected_refresh_tokens_ends_access_too(
    admin_client: Client, signed_in: Client, tokens: dict[str, Any]
) -> None:
    token = RefreshToken.objects.get()

    response = run_action(admin_client, REFRESH_TOKENS, "revoke_selected", token)

    assert "Revoked 1 refresh token." in response.content.decode()
    token.refresh_from_db()
    assert token.revoked is not None
    assert not usable(tokens["access_token"])


def test_grant_list_never_shows_the_code(admin_client: Client, signed_in: Client, vscode: dict[str, Any]) -> None:
    code = obtain_code(signed_in, CodeRequest(vscode["client_id"]))["code"]

    html = admin_client.get(GRANTS).content.decode()

    assert "Visual Studio Code" in html
    assert code not in html
    assert code[-4:] not in html


# --- Connections and the audit log ---------------------------------------------------


def test_connections_are_listed_read_only(admin_client: Client, tokens: dict[str, Any]) -> None:
    response = admin_client.get(CONNECTIONS)

    assert "alice" in response.content.decode()
    assert admin_client.get(f"{CONNECTIONS}add/").status_code == 403


def test_audit_log_is_read_only(admin_client: Client, tokens: dict[str, Any]) -> None:
    event = AuditEvent.objects.first()

    listing = admin_client.get(AUDIT_LOG)
    page = admin_client.get(f"{AUDIT_LOG}{event.pk}/change/")

    assert listing.status_code == 200
    assert "consent granted" in listing.content.decode()
    assert 'name="_save"' not in page.content.decode()
    assert admin_client.post(f"{AUDIT_LOG}{event.pk}/change/", {"kind": "client_blocked"}).status_code == 403
    assert admin_client.get(f"{AUDIT_LOG}add/").status_code == 403
    assert admin_client.post(f"{AUDIT_LOG}{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_audit_log_filters_by_event_type_client_and_user(
    admin_client: Client, user: Any, tokens: dict[str, Any]
) -> None:
    application = vscode_application(tokens)

    by_kind = admin_client.get(AUDIT_LOG, {"kind__exact": "consent_granted"}).context["cl"].result_list
    by_client = admin_client.get(AUDIT_LOG, {"application__id__exact": application.pk}).context["cl"].result_list
    by_user = admin_client.get(AUDIT_LOG, {"user__id__exact": user.pk}).context["cl"].result_list

    assert {event.kind for event in by_kind} == {"consent_granted"}
    assert {event.kind for event in by_client} >= {"client_registered", "consent_granted", "token_issued"}
    assert {event.user for event in by_user} == {user}
