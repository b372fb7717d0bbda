"""The device authorization grant (RFC 8628) through Django: endpoint, /device page, token polling."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client, override_settings
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_device_grant_model, get_refresh_token_model

from oauthapp.models import AuditEvent, Consent
from oauthapp.tokens import DEVICE_CODE, checksum
from tests.support.device import DEVICE_REGISTRATION, decide, enter_code, poll, start
from tests.support.oauth import BASE, MCP_URL, PASSWORD, refresh, register

pytestmark = pytest.mark.django_db

DeviceGrant = get_device_grant_model()
AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()


@pytest.fixture
def device_client(client: Client) -> dict[str, Any]:
    return register(client, DEVICE_REGISTRATION)


@pytest.fixture
def device() -> Client:
    """The headless client's own HTTP client (no session)."""
    return Client()


def started(device: Client, client_id: str) -> dict[str, Any]:
    response = start(device, client_id)
    assert response.status_code == 200, response.content
    return response.json()


def on_time(device_code: str) -> None:
    """As if the interval had passed since the last poll."""
    DeviceGrant.objects.filter(device_code=device_code).update(last_checked=timezone.now() - timedelta(seconds=60))


def approved(device: Client, signed_in: Client, client_id: str, allow: bool = True) -> dict[str, Any]:
    codes = started(device, client_id)
    page = enter_code(signed_in, codes["user_code"])
    assert page.status_code == 200, page.content
    assert decide(signed_in, page, allow).status_code == 200
    on_time(codes["device_code"])
    return codes


def test_device_authorization_answers_rfc8628_fields(device: Client, device_client: dict[str, Any]) -> None:
    response = start(device, device_client["client_id"])

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["verification_uri"] == f"{BASE}/device"
    assert body["verification_uri_complete"] == f"{BASE}/device?user_code={body['user_code']}"
    assert body["expires_in"] == 600
    assert body["interval"] == 5
    assert len(body["device_code"]) >= 30
    grant = DeviceGrant.objects.get(device_code=body["device_code"])
    assert grant.resource == [MCP_URL]
    assert grant.scope == "mcp"
    assert grant.user is None


@pytest.mark.parametrize(
    ("overrides", "status", "error"),
    [
        ({"resource": "https://other.example/api"}, 400, "invalid_target"),
        ({"scope": "admin"}, 400, "invalid_scope"),
        ({"client_id": "no-such-client"}, 401, "invalid_client"),
        ({"client_id": None}, 400, "invalid_request"),
    ],
    ids=["other-resource", "unknown-scope", "unknown-client", "no-client-id"],
)
def test_device_authorization_refusals_are_oauth_json(
    device: Client, device_client: dict[str, Any], overrides: dict[str, Any], status: int, error: str
) -> None:
    client_id = overrides.pop("client_id", device_client["client_id"])
    response = start(device, client_id, **overrides)

    assert response.status_code == status
    assert response.json()["error"] == error
    assert not DeviceGrant.objects.exists()


def test_a_client_that_did_not_register_the_grant_may_not_start_it(device: Client, vscode: dict[str, Any]) -> None:
    response = start(device, vscode["client_id"])

    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


def test_a_repeated_parameter_is_refused(device: Client, device_client: dict[str, Any]) -> None:
    response = device.post("/device-authorization", {"client_id": [device_client["client_id"]] * 2})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_polling_before_approval_is_pending(device: Client, device_client: dict[str, Any]) -> None:
    codes = started(device, device_client["client_id"])
    on_time(codes["device_code"])

    response = poll(device, device_client["client_id"], codes["device_code"])

    assert response.status_code == 400
    assert response.json()["error"] == "authorization_pending"


def test_polling_too_fast_is_slow_down_and_raises_the_interval(device: Client, device_client: dict[str, Any]) -> None:
    codes = started(device, device_client["client_id"])

    first = poll(device, device_client["client_id"], codes["device_code"])
    assert first.status_code == 400
    assert first.json()["error"] == "slow_down"
    assert DeviceGrant.objects.get(device_code=codes["device_code"]).interval == 10

    # Five seconds later is on time for the old interval, too soon for the raised one.
    DeviceGrant.objects.filter(device_code=codes["device_code"]).update(
        last_checked=timezone.now() - timedelta(seconds=6)
    )
    second = poll(device, device_client["client_id"], codes["device_code"])
    assert second.json()["error"] == "slow_down"
    assert DeviceGrant.objects.get(device_code=codes["device_code"]).interval == 15

    on_time(codes["device_code"])
    assert poll(device, device_client["client_id"], codes["device_code"]).json()["error"] == "authorization_pending"


def test_denied_sign_in_polls_as_access_denied(
    device: Client, signed_in: Client, device_client: dict[str, Any]
) -> None:
    codes = approved(device, signed_in, device_client["client_id"], allow=False)

    response = poll(device, device_client["client_id"], codes["device_code"])

    assert response.status_code == 400
    assert response.json()["error"] == "access_denied"
    assert not Consent.objects.exists()
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.CONSENT_DENIED, detail__flow="device").exists()


def test_expired_device_code_polls_as_expired_token(device: Client, device_client: dict[str, Any]) -> None:
    codes = started(device, device_client["client_id"])
    DeviceGrant.objects.filter(device_code=codes["device_code"]).update(expires=timezone.now() - timedelta(seconds=1))

    response = poll(device, device_client["client_id"], codes["device_code"])

    assert response.status_code == 400
    assert response.json()["error"] == "expired_token"


def test_an_unknown_device_code_is_refused(device: Client, device_client: dict[str, Any]) -> None:
    codes = started(device, device_client["client_id"])
    on_time(codes["device_code"])

    response = poll(device, device_client["client_id"], "not-a-code")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert DeviceGrant.objects.get(device_code=codes["device_code"]).status == DeviceGrant.AUTHORIZATION_PENDING


def test_another_clients_device_code_is_refused(
    device: Client, signed_in: Client, device_client: dict[str, Any]
) -> None:
    other = register(Client(), DEVICE_REGISTRATION)["client_id"]
    codes = approved(device, signed_in, device_client["client_id"])

    response = poll(device, other, codes["device_code"])

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert poll(device, device_client["client_id"], codes["device_code"]).status_code == 200  # still its own


def test_disconnect_before_the_device_collects_its_token_leaves_nothing_to_collect(
    device: Client, signed_in: Client, device_client: dict[str, Any], user: Any
) -> None:
    codes = approved(device, signed_in, device_client["client_id"])

    signed_in.post(f"/connected-apps/{Consent.objects.get(user=user).pk}/disconnect")
    response = poll(device, device_client["client_id"], codes["device_code"])

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert not AccessToken.objects.filter(user=user).exists()


def test_a_deactivated_account_gets_no_device_token(
    device: Client, signed_in: Client, device_client: dict[str, Any], user: Any
) -> None:
    codes = approved(device, signed_in, device_client["client_id"])
    user.is_active = False
    user.save(update_fields=["is_active"])

    response = poll(device, device_client["client_id"], codes["device_code"])

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_device_authorization_requests_are_rate_limited_per_address(
    settings: Any, device: Client, device_client: dict[str, Any]
) -> None:
    settings.MCPDEMO_RATE_LIMITS = {**settings.MCPDEMO_RATE_LIMITS, "token": "2/m"}

    answers = [start(device, device_client["client_id"]) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert answers[2].json()["error"] and int(answers[2]["Retry-After"]) > 0


def test_missing_device_code_is_invalid_request(device: Client, device_client: dict[str, Any]) -> None:
    response = device.post("/token", {"grant_type": DEVICE_CODE, "client_id": device_client["client_id"]})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_approved_sign_in_gives_a_token_bound_to_the_resource(
    device: Client, signed_in: Client, device_client: dict[str, Any], user: Any
) -> None:
    codes = approved(device, signed_in, device_client["client_id"])

    response = poll(device, device_client["client_id"], codes["device_code"])

    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    tokens = response.json()
    assert tokens["scope"] == "mcp"
    assert tokens["refresh_token"]
    token = AccessToken.objects.get(token_checksum=checksum(tokens["access_token"]))
    assert token.user == user
    assert token.resource == [MCP_URL]
    assert token.application.client_id == device_client["client_id"]
    # Redeemed once: the grant is gone, a second poll gets nothing.
    assert not DeviceGrant.objects.filter(device_code=codes["device_code"]).exists()
    assert poll(device, device_client["client_id"], codes["device_code"]).json()["error"] == "invalid_grant"
    for kind in (AuditEvent.Kind.CONSENT_GRANTED, AuditEvent.Kind.TOKEN_ISSUED):
        event = AuditEvent.objects.get(kind=kind)
        assert (event.user, event.detail["flow"], event.detail["scope"]) == (user, "device", "mcp")
    assert codes["device_code"] not in str(list(AuditEvent.objects.values_list("detail", flat=True)))


def test_device_tokens_refresh_and_rotate_like_code_flow_tokens(
    device: Client, signed_in: Client, device_client: dict[str, Any]
) -> None:
    codes = approved(device, signed_in, device_client["client_id"])
    tokens = poll(device, device_client["client_id"], codes["device_code"]).json()

    renewed = refresh(device, device_client["client_id"], tokens["refresh_token"])

    assert renewed.status_code == 200, renewed.content
    new = renewed.json()
    assert new["refresh_token"] != tokens["refresh_token"]
    assert AccessToken.objects.get(token_checksum=checksum(new["access_token"])).resource == [MCP_URL]
    assert RefreshToken.objects.get(token_checksum=checksum(tokens["refresh_token"])).revoked is not None


def test_device_connection_appears_in_connected_apps_and_disconnect_revokes(
    device: Client, signed_in: Client, device_client: dict[str, Any], user: Any
) -> None:
    codes = approved(device, signed_in, device_client["client_id"])
    tokens = poll(device, device_client["client_id"], codes["device_code"]).json()
    consent = Consent.objects.get(user=user)

    page = signed_in.get("/connected-apps/")
    assert "Visual Studio Code" in page.content.decode()
    signed_in.post(f"/connected-apps/{consent.pk}/disconnect")

    assert not AccessToken.objects.filter(token_checksum=checksum(tokens["access_token"])).exists()
    assert refresh(device, device_client["client_id"], tokens["refresh_token"]).status_code == 400


def test_a_blocked_client_gets_no_device_token(
    device: Client, signed_in: Client, device_client: dict[str, Any]
) -> None:
    from oauthapp.models import Application

    codes = approved(device, signed_in, device_client["client_id"])
    Application.objects.filter(client_id=device_client["client_id"]).update(blocked_at=timezone.now())

    response = poll(device, device_client["client_id"], codes["device_code"])

    assert response.status_code in (400, 401)
    assert "access_token" not in response.json()


# --- The /device page ------------------------------------------------------------------


def test_device_page_needs_sign_in_and_keeps_the_code(client: Client) -> None:
    response = client.get("/device?user_code=BCDF-GHJK")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/device")
    login = client.get(response["Location"])
    assert "A device sign-in: sign in here, then enter the code" in login.content.decode()


def test_a_link_fills_in_the_code_but_never_approves(
    device: Client, signed_in: Client, device_client: dict[str, Any]
) -> None:
    codes = started(device, device_client["client_id"])

    page = signed_in.get(f"/device?user_code={codes['user_code']}")

    assert page.status_code == 200
    html = page.content.decode()
    assert f'value="{codes["user_code"]}"' in html
    assert "Continue only if it matches the code on your device" in html
    grant = DeviceGrant.objects.get(device_code=codes["device_code"])
    assert grant.status == grant.AUTHORIZATION_PENDING
    assert grant.user is None


@pytest.mark.parametrize(
    "typed", ["{}", "{lower}", "{nodash}", " {spaced} "], ids=["as-shown", "lower", "no-dash", "spaces"]
)
def test_codes_match_whatever_the_case_dashes_and_spaces(
    device: Client, signed_in: Client, device_client: dict[str, Any], typed: str
) -> None:
    code = started(device, device_client["client_id"])["user_code"]
    entered = typed.format(code, lower=code.lower(), nodash=code.replace("-", ""), spaced=code.replace("-", " "))

    page = enter_code(signed_in, entered)

    assert page.status_code == 200
    assert page.context["device_flow"] is True


def test_consent_page_is_the_code_flows_page_saying_it_is_a_device_sign_in(
    device: Client, signed_in: Client, device_client: dict[str, Any]
) -> None:
    code = started(device, device_client["client_id"])["user_code"]

    page = enter_code(signed_in, code)

    assert [t.name for t in page.templates][0] == "oauth2_provider/authorize.html"
    html = page.content.decode()
    assert "Device sign-in" in html
    assert "Visual Studio Code" in html
    assert code in html
    assert "If someone sent you this code or a link to it, choose Deny." in html
    assert 'action="/device/confirm"' in html
    assert "Until you disconnect it" in html


def test_wrong_code_says_so_and_approves_nothing(signed_in: Client) -> None:
    page = enter_code(signed_in, "BCDF-GHJK")

    assert page.status_code == 200
    assert "That code is not valid" in page.content.decode()


def test_expired_code_says_so(device: Client, signed_in: Client, device_client: dict[str, Any]) -> None:
    codes = started(device, device_client["client_id"])
    DeviceGrant.objects.filter(device_code=codes["device_code"]).update(expires=timezone.now() - timedelta(seconds=1))

    page = enter_code(signed_in, codes["user_code"])

    assert "That code has expired" in page.content.decode()


def test_a_code_entered_by_one_account_is_unknown_to_another(
    device: Client, signed_in: Client, device_client: dict[str, Any], other_user: Any
) -> None:
    codes = started(device, device_client["client_id"])
    first_page = enter_code(signed_in, codes["user_code"])
    intruder = Client()
    intruder.force_login(other_user)

    attempt = enter_code(intruder, codes["user_code"])
    stolen = decide(intruder, first_page)  # the first account's consent request, posted by another

    assert "That code is not valid" in attempt.content.decode()
    assert stolen.status_code == 400
    assert DeviceGrant.objects.get(device_code=codes["device_code"]).status == DeviceGrant.AUTHORIZATION_PENDING
    # The first account can still approve; the token is theirs.
    assert decide(signed_in, first_page).status_code == 200
    on_time(codes["device_code"])
    tokens = poll(device, device_client["client_id"], codes["device_code"]).json()
    assert AccessToken.objects.get(token_checksum=checksum(tokens["access_token"])).user != other_user


def test_a_decision_is_applied_once(device: Client, signed_in: Client, device_client: dict[str, Any]) -> None:
    codes = started(device, device_client["client_id"])
    page = enter_code(signed_in, codes["user_code"])
    assert decide(signed_in, page, allow=False).status_code == 200

    again = decide(signed_in, page, allow=True)

    assert again.status_code == 400
    assert DeviceGrant.objects.get(device_code=codes["device_code"]).status == DeviceGrant.DENIED


def test_a_code_flow_consent_request_is_no_device_decision(signed_in: Client, vscode: dict[str, Any]) -> None:
    from tests.support.oauth import CodeRequest

    page = signed_in.get("/authorize", CodeRequest(vscode["client_id"]).params())

    response = signed_in.post(
        "/device/confirm", {"request_id": page.context["form"].initial["request_id"], "allow": "Authorize"}
    )

    assert response.status_code == 400
    assert not Consent.objects.exists()


@override_settings(MCPDEMO_RATE_LIMITS={"device": "3/m", "device_account": "100/h"})
def test_guessing_codes_is_limited_per_address(signed_in: Client) -> None:
    answers = [enter_code(signed_in, "BCDF-GHJK").status_code for _ in range(4)]

    assert answers == [200, 200, 200, 429]


@override_settings(MCPDEMO_RATE_LIMITS={"device": "100/m", "device_account": "2/h"})
def test_guessing_codes_is_limited_per_account(signed_in: Client, user: Any) -> None:
    for address in ("198.51.100.1", "198.51.100.2"):
        assert signed_in.post("/device", {"user_code": "BCDF-GHJK"}, REMOTE_ADDR=address).status_code == 200

    refused = signed_in.post("/device", {"user_code": "BCDF-GHJK"}, REMOTE_ADDR="198.51.100.3")

    assert refused.status_code == 429
    assert refused["Retry-After"]
    assert "Too many wrong codes" in refused.content.decode()


@override_settings(MCPDEMO_RATE_LIMITS={"device": "2/m", "device_account": "2/h"})
def test_right_codes_do_not_count_as_guesses(device: Client, signed_in: Client, device_client: dict[str, Any]) -> None:
    for _ in range(3):
        code = started(device, device_client["client_id"])["user_code"]
        assert enter_code(signed_in, code).status_code == 200


def test_the_device_page_signs_in_with_the_password_and_comes_back(client: Client, user: Any) -> None:
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": PASSWORD, "next": "/device?user_code=BCDF-GHJK"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/device?user_code=BCDF-GHJK"


def test_the_device_authorization_endpoint_opened_in_a_browser_says_what_it_is(client: Client) -> None:
    response = client.get("/device-authorization", headers={"Accept": "text/html"})

    assert response.status_code == 405
    assert "the code you then enter on the device page" in response.content.decode()


def test_a_device_only_client_signs_in_and_refreshes_but_has_no_code_flow(device: Client, signed_in: Client) -> None:
    registered = register(
        Client(),
        {
            "client_name": "Build agent",
            "grant_types": [DEVICE_CODE, "refresh_token"],
            "token_endpoint_auth_method": "none",
        },
    )
    client_id = registered["client_id"]
    codes = approved(device, signed_in, client_id)

    tokens = poll(device, client_id, codes["device_code"]).json()
    refreshed = refresh(device, client_id, tokens["refresh_token"])

    assert tokens["scope"] == "mcp"
    assert refreshed.status_code == 200, refreshed.content
    assert refreshed.json()["refresh_token"] != tokens["refresh_token"]  # rotated
    code_flow = signed_in.get(
        "/authorize",
        {"response_type": "code", "client_id": client_id, "redirect_uri": "http://127.0.0.1:33418/",
         "code_challenge": "x" * 43, "code_challenge_method": "S256", "scope": "mcp", "resource": MCP_URL},
    )  # fmt: skip
    assert code_flow.status_code == 400  # never a redirect with a code
