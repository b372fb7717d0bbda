"""The admin signs people out for real: Disconnect instead of delete, confirmations, object actions,
refusals logged as refusals, and no admin page that fails."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from oauth2_provider.models import get_access_token_model, get_application_model, get_refresh_token_model

from oauthapp.models import AuditEvent, Consent, RefreshReplay
from tests.support.device import DEVICE_REGISTRATION, device_tokens
from tests.support.mcp import accepted_at_mcp, tokens_for
from tests.support.oauth import LOOPBACK_REDIRECT, VSCODE_REGISTRATION, refresh, register

pytestmark = pytest.mark.django_db
Application = get_application_model()
AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()

APPLICATIONS = "/admin/oauthapp/application/"
CONNECTIONS = "/admin/oauthapp/consent/"
AUDIT_LOG = "/admin/oauthapp/auditevent/"


def application_of(tokens: dict[str, Any]) -> Any:
    return Application.objects.get(client_id=tokens["client_id"])


def change_page(application: Any) -> str:
    return f"{APPLICATIONS}{application.pk}/change/"


# --- Connections: Disconnect, never a bare delete -------------------------------------


def test_connections_cannot_be_deleted_only_disconnected(admin_client: Client, tokens: dict[str, Any]) -> None:
    consent = Consent.objects.get()

    listing = admin_client.get(CONNECTIONS)

    actions = [name for name, _label in listing.context["action_form"].fields["action"].choices]
    assert "delete_selected" not in actions and "disconnect_selected" in actions
    assert admin_client.post(f"{CONNECTIONS}{consent.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Consent.objects.filter(pk=consent.pk).exists()
    assert f'formaction="{CONNECTIONS}{consent.pk}/disconnect/"' in listing.content.decode()


def test_disconnect_in_the_admin_signs_the_user_out_as_their_own_disconnect_does(
    admin_client: Client, admin_user: Any, signed_in: Client, user: Any, tokens: dict[str, Any]
) -> None:
    consent = Consent.objects.get()

    response = admin_client.post(f"{CONNECTIONS}{consent.pk}/disconnect/", follow=True)

    assert response.status_code == 200
    assert "Signed alice out of Visual Studio Code" in response.content.decode()
    assert not accepted_at_mcp(tokens["access_token"])
    assert refresh(signed_in, tokens["client_id"], tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert not Consent.objects.exists()
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.TOKEN_REVOKED)
    assert (event.actor, event.actor_user, event.user) == ("admin", admin_user, user)
    assert event.detail == {"tokens": 2, "reason": "disconnected by an administrator"}


@pytest.mark.parametrize("action", ["revoke_all_tokens", "block"])
def test_admin_actions_sign_out_a_device_sign_in_too(admin_client: Client, signed_in: Client, action: str) -> None:
    tokens = device_tokens(signed_in, register(signed_in, DEVICE_REGISTRATION)["client_id"])
    assert accepted_at_mcp(tokens["access_token"])

    admin_client.post(APPLICATIONS, {"action": action, "_selected_action": [application_of(tokens).pk], "post": "yes"})

    assert not accepted_at_mcp(tokens["access_token"])
    assert refresh(signed_in, tokens["client_id"], tokens["refresh_token"]).status_code in (400, 401)


def test_disconnect_is_post_only(admin_client: Client, tokens: dict[str, Any]) -> None:
    consent = Consent.objects.get()

    response = admin_client.get(f"{CONNECTIONS}{consent.pk}/disconnect/")

    assert response.status_code == 302
    assert accepted_at_mcp(tokens["access_token"])


def test_the_connection_page_has_a_disconnect_button(admin_client: Client, tokens: dict[str, Any]) -> None:
    consent = Consent.objects.get()

    html = admin_client.get(f"{CONNECTIONS}{consent.pk}/change/").content.decode()

    assert f'action="{CONNECTIONS}{consent.pk}/disconnect/"' in html
    assert "Delete" not in html


def test_disconnect_action_on_several_connections(
    admin_client: Client, bob_tokens: dict[str, Any], tokens: dict[str, Any]
) -> None:
    response = admin_client.post(
        CONNECTIONS,
        {"action": "disconnect_selected", "_selected_action": list(Consent.objects.values_list("pk", flat=True))},
        follow=True,
    )

    assert "Disconnected 2 connections and revoked 4 tokens." in response.content.decode()
    assert not accepted_at_mcp(tokens["access_token"]) and not accepted_at_mcp(bob_tokens["access_token"])


# --- A refused refresh is not an attack --------------------------------------------------


def test_refresh_after_an_admin_revoked_is_logged_as_refused_not_reuse(
    admin_client: Client, signed_in: Client, tokens: dict[str, Any]
) -> None:
    admin_client.post(f"{CONNECTIONS}{Consent.objects.get().pk}/disconnect/")

    response = refresh(signed_in, tokens["client_id"], tokens["refresh_token"])

    assert response.json()["error"] == "invalid_grant"
    assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.REFRESH_REUSE_DETECTED).exists()
    refused = AuditEvent.objects.get(kind=AuditEvent.Kind.REFRESH_REFUSED)
    assert refused.detail == {"reason": "revoked by an administrator"}


def test_refresh_after_an_admin_revoked_the_access_token_is_refused(
    admin_client: Client, signed_in: Client, user: Any, tokens: dict[str, Any]
) -> None:
    token = AccessToken.objects.get(user=user)
    admin_client.post(
        "/admin/oauth2_provider/accesstoken/", {"action": "revoke_selected", "_selected_action": [token.pk]}
    )

    refresh(signed_in, tokens["client_id"], tokens["refresh_token"])

    refused = AuditEvent.objects.get(kind=AuditEvent.Kind.REFRESH_REFUSED)
    assert refused.detail == {"reason": "revoked by an administrator"}
    assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.REFRESH_REUSE_DETECTED).exists()


def test_refresh_by_a_blocked_client_is_refused_as_blocked(
    admin_client: Client, signed_in: Client, tokens: dict[str, Any]
) -> None:
    application = application_of(tokens)
    admin_client.post(APPLICATIONS, {"action": "block", "_selected_action": [application.pk], "post": "yes"})

    refresh(signed_in, tokens["client_id"], tokens["refresh_token"])

    assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.REFRESH_REUSE_DETECTED).exists()
    assert AuditEvent.objects.get(kind=AuditEvent.Kind.REFRESH_REFUSED).detail == {"reason": "client blocked"}


def test_refresh_after_the_user_disconnected_is_logged_as_refused(signed_in: Client, tokens: dict[str, Any]) -> None:
    signed_in.post(reverse("disconnect", args=[Consent.objects.get().pk]))

    refresh(signed_in, tokens["client_id"], tokens["refresh_token"])

    assert AuditEvent.objects.get(kind=AuditEvent.Kind.REFRESH_REFUSED).detail == {"reason": "disconnected by the user"}


def test_a_rotated_refresh_token_presented_again_is_still_reuse(signed_in: Client, tokens: dict[str, Any]) -> None:
    assert refresh(signed_in, tokens["client_id"], tokens["refresh_token"]).status_code == 200
    RefreshReplay.objects.all().delete()  # past the race window

    refresh(signed_in, tokens["client_id"], tokens["refresh_token"])

    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.REFRESH_REUSE_DETECTED).exists()
    assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.REFRESH_REFUSED).exists()


def test_reuse_alarms_stand_out_in_the_audit_log(admin_client: Client, tokens: dict[str, Any]) -> None:
    AuditEvent.objects.create(kind=AuditEvent.Kind.REFRESH_REUSE_DETECTED, actor="client", client_id="x")

    html = admin_client.get(AUDIT_LOG).content.decode()

    assert '<span class="alarm">⚠ refresh token reuse detected</span>' in html


# --- Confirmations and plurals -------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "question"),
    [("block", "Block this application?"), ("revoke_all_tokens", "Revoke every token of this application?")],
)
def test_block_and_revoke_all_ask_first(
    admin_client: Client, tokens: dict[str, Any], action: str, question: str
) -> None:
    application = application_of(tokens)

    response = admin_client.post(APPLICATIONS, {"action": action, "_selected_action": [application.pk]})

    html = response.content.decode()
    assert response.status_code == 200
    assert question in html
    assert 'name="post" value="yes"' in html
    assert accepted_at_mcp(tokens["access_token"])
    application.refresh_from_db()
    assert not application.is_blocked


def test_the_confirmation_counts_in_words(admin_client: Client, tokens: dict[str, Any]) -> None:
    other = register(admin_client)
    selected = [application_of(tokens).pk, Application.objects.get(client_id=other["client_id"]).pk]

    asked = admin_client.post(APPLICATIONS, {"action": "block", "_selected_action": selected})
    confirmed = {"action": "block", "_selected_action": selected, "post": "yes"}
    done = admin_client.post(APPLICATIONS, confirmed, follow=True)

    assert "Block these 2 applications?" in asked.content.decode()
    assert "Blocked 2 applications and revoked 2 tokens." in done.content.decode()


# --- The application page ------------------------------------------------------------


def test_the_application_page_offers_only_what_the_server_supports(
    admin_client: Client, tokens: dict[str, Any]
) -> None:
    response = admin_client.get(change_page(application_of(tokens)))

    html = response.content.decode()
    assert response.status_code == 200
    form = response.context["adminform"].form
    choices = [value for value, _label in form.fields["authorization_grant_type"].choices]
    assert choices == ["authorization-code", "urn:ietf:params:oauth:grant-type:device_code"]
    assert "algorithm" not in form.fields and "post_logout_redirect_uris" not in form.fields
    assert "skip_authorization" not in form.fields  # a self-registered client never skips consent
    assert "View on site" not in html


def test_implicit_cannot_be_saved(admin_client: Client) -> None:
    application = Application.objects.create(
        name="In-house",
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=LOOPBACK_REDIRECT,
    )
    page = admin_client.get(change_page(application))
    data = {**page.context["adminform"].form.initial, "authorization_grant_type": "implicit"}
    data = {key: ("" if value is None else value) for key, value in data.items()}

    response = admin_client.post(change_page(application), data)

    assert response.status_code == 200  # the form again, with the error
    assert "authorization_grant_type" in response.context["adminform"].form.errors
    application.refresh_from_db()
    assert application.authorization_grant_type == "authorization-code"


def test_skip_authorization_is_explained_for_admin_created_clients(admin_client: Client) -> None:
    html = admin_client.get(f"{APPLICATIONS}add/").content.decode()

    assert "Skip the consent page (trusted in-house clients only)" in html
    assert "Every user is signed in to this client without being asked" in html


def test_the_application_page_shows_users_tokens_and_audit_trail(admin_client: Client, tokens: dict[str, Any]) -> None:
    html = admin_client.get(change_page(application_of(tokens))).content.decode()

    assert "1 user connected" in html and "1 live access token" in html and "1 live refresh token" in html
    assert "Sign alice out" in html
    assert "consent granted" in html and "client registered" in html
    assert "Revoke all tokens" in html and "Block" in html


def test_sign_one_user_out_from_the_application_page(
    admin_client: Client, other_user: Any, bob_tokens: dict[str, Any], tokens: dict[str, Any]
) -> None:
    application = application_of(tokens)

    response = admin_client.post(f"{APPLICATIONS}{application.pk}/disconnect/{other_user.pk}/", follow=True)

    assert "Signed bob out of" in response.content.decode()
    assert not accepted_at_mcp(bob_tokens["access_token"])
    assert accepted_at_mcp(tokens["access_token"])


def test_block_from_the_application_page_asks_then_blocks(admin_client: Client, tokens: dict[str, Any]) -> None:
    application = application_of(tokens)
    url = f"{APPLICATIONS}{application.pk}/block/"

    asked = admin_client.get(url)
    done = admin_client.post(url, {"post": "yes"}, follow=True)

    assert "Block this application?" in asked.content.decode()
    assert "Blocked 1 application and revoked 2 tokens." in done.content.decode()
    application.refresh_from_db()
    assert application.is_blocked
    unblocked = admin_client.post(f"{APPLICATIONS}{application.pk}/unblock/", follow=True)
    assert "Unblocked 1 application." in unblocked.content.decode()


def test_revoke_all_from_the_application_page(admin_client: Client, tokens: dict[str, Any]) -> None:
    application = application_of(tokens)

    done = admin_client.post(f"{APPLICATIONS}{application.pk}/revoke/", {"post": "yes"}, follow=True)

    assert "Revoked 2 tokens of 1 application." in done.content.decode()
    assert not accepted_at_mcp(tokens["access_token"])


# --- Lists: names that cannot blow up the layout, filters that tell clients apart -----------


def test_long_hostile_names_are_cleaned_and_cut_by_css(admin_client: Client) -> None:
    name = "Visual Studio Code\u202e (verified) " + "x" * 200
    register(admin_client, {"client_name": name, "redirect_uris": [LOOPBACK_REDIRECT]})

    html = admin_client.get(APPLICATIONS).content.decode()

    assert "\u202e" not in html
    assert 'class="client-name-cell" dir="auto" title="Visual Studio Code (verified) xxx' in html


def test_audit_details_from_a_client_are_cleaned(admin_client: Client) -> None:
    client_id = register(admin_client, {"client_name": "Evil\u202e name", "redirect_uris": [LOOPBACK_REDIRECT]})[
        "client_id"
    ]
    AuditEvent.objects.filter(client_id=client_id).update(detail={"client_name": "Evil\u202e name"})
    application = Application.objects.get(client_id=client_id)

    listing = admin_client.get(AUDIT_LOG).content.decode()
    page = admin_client.get(change_page(application)).content.decode()

    assert "\u202e" not in listing and "\u202e" not in page
    assert "client_name: Evil name" in listing and "client_name: Evil name" in page


def test_the_application_filter_tells_same_named_clients_apart(admin_client: Client, user: Any) -> None:
    first, second = register(admin_client), register(admin_client)
    for registration in (first, second):
        tokens_for(user, registration["client_id"])

    html = admin_client.get(CONNECTIONS).content.decode()

    assert f"Visual Studio Code · {first['client_id'][:8]}…" in html
    assert f"Visual Studio Code · {second['client_id'][:8]}…" in html


def test_the_application_filter_lists_recent_clients_and_keeps_the_chosen_one(
    admin_client: Client, user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from oauthapp.admin import ApplicationFilter

    monkeypatch.setattr(ApplicationFilter, "limit", 2)
    registrations = [register(admin_client, {**VSCODE_REGISTRATION, "client_name": f"Client {n}"}) for n in range(4)]
    for registration in registrations:
        tokens_for(user, registration["client_id"])
    oldest = Application.objects.get(client_id=registrations[0]["client_id"])

    def offered(**query: Any) -> list[str]:
        changelist = admin_client.get(CONNECTIONS, query).context["cl"]
        spec = next(spec for spec in changelist.filter_specs if isinstance(spec, ApplicationFilter))
        return [label.split(" ·")[0] for _pk, label in spec.lookup_choices]

    assert offered() == ["Client 2", "Client 3"]
    assert offered(application__id__exact=oldest.pk) == ["Client 0", "Client 2", "Client 3"]


def test_revoked_access_tokens_are_explained(admin_client: Client, tokens: dict[str, Any]) -> None:
    html = admin_client.get("/admin/oauth2_provider/accesstoken/").content.decode()

    assert "A revoked access token is deleted at once" in html


# --- The index and every page ----------------------------------------------------------


def test_unused_entries_are_not_on_the_index(admin_client: Client) -> None:
    html = admin_client.get("/admin/").content.decode()

    assert "Id tokens" not in html and "ID tokens" not in html
    assert "Grants" not in html
    assert "Applications" in html and "Connections" in html
    assert "Groups" in html  # a restricted tool may be granted to a group


def test_no_admin_page_fails(admin_client: Client, tokens: dict[str, Any], other_user: Any) -> None:
    """Every changelist, add, change, history and delete page of every model, and the object actions."""
    urls = ["/admin/"]
    for model in admin.site._registry:  # noqa: SLF001 - Django offers no public registry listing
        opts = model._meta
        base = f"/admin/{opts.app_label}/{opts.model_name}/"
        urls += [base, f"{base}add/", f"{base}?q=%E2%80%AE", f"{base}?o=1.2.3"]
        for obj in model.objects.all()[:2]:
            urls += [f"{base}{obj.pk}/change/", f"{base}{obj.pk}/history/", f"{base}{obj.pk}/delete/"]
    application = application_of(tokens)
    urls += [f"{APPLICATIONS}{application.pk}/{action}/" for action in ("block", "unblock", "revoke")]
    urls += [f"{APPLICATIONS}{application.pk}/disconnect/{other_user.pk}/", f"{APPLICATIONS}999999/block/"]

    failures = {url: admin_client.get(url).status_code for url in urls}

    assert {url: status for url, status in failures.items() if status >= 500} == {}
