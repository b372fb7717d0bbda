"""oauthapp's system checks: a rate django-ratelimit cannot read, CIMD fetching from any host."""

from __future__ import annotations

from typing import Any

from oauthapp.checks import check_cimd_outbound_hosts, check_rate_limits


def test_rates_in_django_ratelimits_syntax_pass_and_others_are_errors(settings: Any) -> None:
    settings.MCPDEMO_RATE_LIMITS = {"register": "30/h", "token": "5/10m", "login": ""}
    assert check_rate_limits() == []

    settings.MCPDEMO_RATE_LIMITS = {"register": "thirty an hour", "token": "120/m"}
    (error,) = check_rate_limits()
    assert error.id == "oauthapp.E001"
    assert "'register'" in error.msg


def test_cimd_without_allowed_hosts_warns_and_with_them_or_off_does_not(settings: Any) -> None:
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "CIMD_ENABLED": True, "CIMD_ALLOWED_HOSTS": []}
    assert [message.id for message in check_cimd_outbound_hosts()] == ["oauthapp.W001"]

    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "CIMD_ALLOWED_HOSTS": ["vscode.dev"]}
    assert check_cimd_outbound_hosts() == []

    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "CIMD_ENABLED": False, "CIMD_ALLOWED_HOSTS": []}
    assert check_cimd_outbound_hosts() == []
