"""Secrets never reach error reports or logs."""

from __future__ import annotations

import logging
from typing import Any
from unittest import mock

import pytest
from django.core import mail
from django.test import Client
from django.utils.log import AdminEmailHandler

from tests.support.oauth import CodeRequest, exchange_code, obtain_code, refresh

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
