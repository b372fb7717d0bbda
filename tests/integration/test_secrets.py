"""Secrets never reach error reports or logs."""

from __future__ import annotations

import logging
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.utils.log import AdminEmailHandler

from oauthapp.tokens import DEVICE_CODE
from tests.support.device import DEVICE_REGISTRATION, device_tokens, poll, start
from tests.support.oauth import CodeRequest, exchange_code, obtain_code, refresh, register

pytestmark = pytest.mark.django_db


@pytest.fixture
def error_mail(settings) -> Any:
    """Django's standard error e-mails, as an operator would receive them."""
    settings.ADMINS = [("ops", "ops@example.com")]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    handler = AdminEmailHandler(include_html=True)
    handler.setLevel(logging.ERROR)
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    yield mail.outbox
    logger.removeHandler(handler)


def test_token_endpoint_error_report_masks_every_credential(
    error_mail: list, signed_in: Client, vscode: dict[str, Any], tokens: dict[str, Any]
) -> None:
    request = CodeRequest(vscode["client_id"])
    code = obtain_code(signed_in, request)["code"]
    secrets = [code, request.verifier, tokens["refresh_token"], "s3cret-client-secret", tokens["access_token"]]
    quiet = Client(raise_request_exception=False)

    with mock.patch("oauthapp.views.token.dot_views.TokenView.post", side_effect=RuntimeError("boom")):
        response = quiet.post(
            "/token",
            {
                "grant_type": "authorization_code",
                "code": code,
                "code_verifier": request.verifier,
                "refresh_token": tokens["refresh_token"],
                "client_secret": "s3cret-client-secret",
                "client_id": vscode["client_id"],
            },
            HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}",
        )

    assert response.status_code == 500
    assert error_mail
    text = "".join(m.body + "".join(content for content, _type in m.alternatives) for m in error_mail)
    assert "boom" in text  # the report is real
    assert [secret for secret in secrets if secret in text] == []


def test_logs_of_a_whole_flow_hold_no_credential(
    caplog: pytest.LogCaptureFixture, signed_in: Client, vscode: dict[str, Any]
) -> None:
    caplog.set_level(logging.DEBUG)
    request = CodeRequest(vscode["client_id"])
    code = obtain_code(signed_in, request)["code"]
    issued = exchange_code(signed_in, request, code).json()
    rotated = refresh(signed_in, vscode["client_id"], issued["refresh_token"]).json()
    exchange_code(signed_in, request, code)  # a replay, which is logged as an error path
    secrets = [code, request.verifier, issued["access_token"], issued["refresh_token"], rotated["refresh_token"]]

    assert caplog.records  # DEBUG logging was on
    assert [secret for secret in secrets if secret in caplog.text] == []


def test_logs_and_error_reports_of_a_device_flow_hold_no_credential(
    caplog: pytest.LogCaptureFixture, error_mail: list, signed_in: Client
) -> None:
    caplog.set_level(logging.DEBUG)
    client_id = register(signed_in, DEVICE_REGISTRATION)["client_id"]
    device = Client()
    codes = start(device, client_id).json()
    poll(device, client_id, codes["device_code"])  # slow_down: an error path
    quiet = Client(raise_request_exception=False)
    quiet.force_login(get_user_model().objects.get())
    with mock.patch("oauthapp.views.device.UserCodeForm.clean_user_code", side_effect=RuntimeError("boom")):
        assert quiet.post("/device", {"user_code": codes["user_code"]}).status_code == 500
    with mock.patch(
        "oauthapp.views.token.TokenView.authorization_flow_token_response", side_effect=RuntimeError("boom")
    ):
        assert (
            quiet.post(
                "/token", {"grant_type": DEVICE_CODE, "client_id": client_id, "device_code": codes["device_code"]}
            ).status_code
            == 500
        )
    tokens = device_tokens(signed_in, client_id)
    secrets = [codes["device_code"], codes["user_code"], tokens["access_token"], tokens["refresh_token"]]

    text = "".join(m.body + "".join(content for content, _type in m.alternatives) for m in error_mail)
    assert "boom" in text and "/device" in text and "/token" in text  # the reports are real
    assert [secret for secret in secrets if secret in caplog.text + text] == []
