"""Bounded fuzzing: whatever a client sends, the answer is a standard error, never a 5xx."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpdemo.asgi import build_application
from oauthapp.registration import RegistrationError, parse_registration
from oauthapp.tokens import DEVICE_CODE
from tests.support.device import DEVICE_REGISTRATION
from tests.support.oauth import register


@pytest.fixture(autouse=True)
def no_rate_limits(settings: Any) -> None:
    settings.MCPDEMO_RATE_LIMITS = {}


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
registration_keys = st.sampled_from(
    ["redirect_uris", "grant_types", "response_types", "token_endpoint_auth_method", "client_name", "scope",
     "client_uri", "logo_uri", "contacts", "application_type", "software_id"]
)  # fmt: skip
uri_like = st.one_of(
    st.text(max_size=60),
    st.builds(
        "{}://{}{}".format,
        st.sampled_from(["http", "https", "javascript", "data", "cursor", "file", ""]),
        st.sampled_from(["127.0.0.1", "localhost", "[::1]", "evil.example", "u:p@127.0.0.1", "*.x.example", ""]),
        st.text(max_size=20),
    ),
)
registration_bodies = st.dictionaries(
    registration_keys, json_values | st.lists(uri_like, max_size=3) | uri_like, max_size=8
)


@given(registration_bodies | json_values)
def test_registration_validator_only_ever_raises_registration_errors(body: Any) -> None:
    try:
        parse_registration(body)
    except RegistrationError as error:
        assert error.error in {"invalid_redirect_uri", "invalid_client_metadata"}
        assert error.description


@pytest.mark.django_db
@FUZZ
@given(body=registration_bodies | json_values)
def test_register_answers_every_body_with_201_or_a_json_error(client: Client, body: Any) -> None:
    response = client.post("/register", json.dumps(body), content_type="application/json")

    assert response.status_code in {201, 400}
    assert "error" in response.json() or "client_id" in response.json()


token_fields = st.dictionaries(
    st.sampled_from(["grant_type", "code", "client_id", "redirect_uri", "code_verifier", "refresh_token",
                     "resource", "scope", "client_secret"]),
    st.one_of(st.sampled_from(["authorization_code", "refresh_token", "password", ""]), st.text(max_size=50)),
    max_size=7,
)  # fmt: skip


@pytest.mark.django_db
@FUZZ
@given(form=token_fields)
def test_token_endpoint_answers_every_form_with_json_and_no_5xx(client: Client, vscode: dict, form: dict) -> None:
    if form.get("client_id") == "vscode":
        form["client_id"] = vscode["client_id"]

    response = client.post("/token", form)

    assert response.status_code < 500
    assert response["Content-Type"] == "application/json"
    assert "error" in response.json() or "access_token" in response.json()


device_fields = st.dictionaries(
    st.sampled_from(["grant_type", "client_id", "device_code", "scope", "resource", "client_secret", "user_code"]),
    st.one_of(st.sampled_from(["device", DEVICE_CODE, "mcp", "", "http://testserver/mcp"]), st.text(max_size=50)),
    max_size=6,
)


@pytest.mark.django_db
@FUZZ
@given(form=device_fields, as_form=st.booleans())
def test_device_authorization_and_polling_answer_json_and_no_5xx(client: Client, form: dict, as_form: bool) -> None:
    device_client = register(client, DEVICE_REGISTRATION)["client_id"]
    form = {key: device_client if value == "device" else value for key, value in form.items()}
    body, content_type = (urlencode(form), "application/x-www-form-urlencoded") if as_form else (form, None)
    started = client.post("/device-authorization", body, **({"content_type": content_type} if content_type else {}))
    polled = client.post("/token", {**form, "grant_type": DEVICE_CODE})

    for response in (started, polled):
        assert response.status_code < 500
        assert response["Content-Type"] == "application/json"


@pytest.mark.django_db
@FUZZ
@given(typed=st.text(max_size=80))
def test_the_device_page_answers_any_typed_code_without_a_5xx(signed_in: Client, typed: str) -> None:
    response = signed_in.post("/device", {"user_code": typed})

    assert response.status_code in {200, 400, 429}  # 400: a NUL (RejectNulMiddleware)


mcp_bodies = st.one_of(
    json_values.map(json.dumps),
    st.builds(
        lambda method, params, ident: json.dumps({"jsonrpc": "2.0", "id": ident, "method": method, "params": params}),
        st.sampled_from(["initialize", "tools/list", "tools/call", "ping", "server/discover"]) | st.text(max_size=9),
        json_values,
        st.integers() | st.text(max_size=5) | st.none(),
    ),
    st.binary(max_size=50).map(lambda raw: raw.decode("latin-1")),
)  # fmt: skip
mcp_headers = st.fixed_dictionaries(
    {},
    optional={
        "MCP-Protocol-Version": st.sampled_from(["2025-11-25", "2026-07-28", "1999-01-01", ""]),
        "Mcp-Session-Id": st.text(alphabet="0123456789abcdef", max_size=32),
        "Content-Type": st.sampled_from(["application/json", "text/plain"]),
        "Mcp-Method": st.sampled_from(["tools/call", "x"]),
    },
)


@pytest.mark.django_db(transaction=True)
@FUZZ
@given(body=mcp_bodies, headers=mcp_headers, authenticated=st.booleans())
async def test_mcp_answers_every_request_without_a_5xx(
    tokens: dict, body: str, headers: dict, authenticated: bool
) -> None:
    app = build_application()
    request_headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json", **headers}
    if authenticated:
        request_headers["Authorization"] = f"Bearer {tokens['access_token']}"
    async with (
        app.mcp_endpoint.lifespan(),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http,
    ):
        response = await http.post("/mcp", content=body.encode("utf-8", "replace"), headers=request_headers)

    assert response.status_code < 500, response.text
