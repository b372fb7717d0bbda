"""What DOT's app_authorized signal leads to here: the audit event and the tokens-issued metric, by grant."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import RequestFactory

from oauthapp.signals import record_token_issued
from oauthapp.tokens import DEVICE_CODE
from tests.support.metrics import Samples, value


@pytest.mark.django_db
def test_tokens_issued_are_counted_by_grant_with_short_names(metrics_on: Callable[[], Samples], user: Any) -> None:
    token = type("Token", (), {"user": user, "application": None, "scope": "mcp"})()
    for grant_type in ("authorization_code", "refresh_token", DEVICE_CODE, DEVICE_CODE, "made-up"):
        record_token_issued(None, RequestFactory().post("/token", {"grant_type": grant_type}), token)

    samples = metrics_on()
    assert value(samples, "mcpdemo_oauth_tokens_issued_total", grant_type="authorization_code") == 1
    assert value(samples, "mcpdemo_oauth_tokens_issued_total", grant_type="refresh_token") == 1
    assert value(samples, "mcpdemo_oauth_tokens_issued_total", grant_type="device_code") == 2
    assert value(samples, "mcpdemo_oauth_tokens_issued_total", grant_type="other") == 1
