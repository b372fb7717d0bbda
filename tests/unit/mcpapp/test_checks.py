"""mcpapp's system checks for the tool permissions and usage settings."""

from __future__ import annotations

from typing import Any

import pytest

from mcpapp.checks import check_tool_permissions_freshness, check_usage_settings


@pytest.mark.parametrize(
    ("days", "seconds", "expected"),
    [(90, 5.0, []), (0, 5.0, ["mcpapp.E005"]), (90, 0, ["mcpapp.E005"]), ("90", True, ["mcpapp.E005"] * 2)],
)
def test_the_usage_retention_and_flush_interval_are_positive_numbers(
    settings: Any, days: Any, seconds: Any, expected: list[str]
) -> None:
    settings.MCPDEMO_USAGE_RETENTION_DAYS = days
    settings.MCPDEMO_USAGE_FLUSH_SECONDS = seconds

    assert [message.id for message in check_usage_settings()] == expected


def test_introspected_tokens_carry_no_policy_version_so_changes_take_a_minute(settings: Any) -> None:
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "RESOURCE_SERVER_INTROSPECTION_URL": "https://as/intro"}
    assert [message.id for message in check_tool_permissions_freshness()] == ["mcpapp.W003"]

    settings.MCPDEMO_TOOL_PERMISSIONS = False
    assert check_tool_permissions_freshness() == []
