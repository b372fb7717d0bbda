"""The admin of tools and usage: restricting and granting a tool, the usage page, each user's and client's use."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import get_application_model

from mcpapp.models import Outcome, Tool, ToolPolicy, ToolUsage

pytestmark = pytest.mark.django_db

TOOLS = "/admin/mcpapp/tool/"
USAGE = "/admin/mcpapp/toolusage/"


@pytest.fixture
def client_app() -> Any:
    return get_application_model().objects.create(
        name="Visual Studio Code",
        client_type="public",
        authorization_grant_type="authorization-code",
        redirect_uris="http://127.0.0.1/",
    )


def usage_row(user: Any, application: Any, tool: str, outcome: str, calls: int, days_ago: int = 0, **buckets: int):
    hour = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(days=days_ago)
    return ToolUsage.objects.create(
        hour=hour,
        user=user,
        application=application,
        tool=tool,
        outcome=outcome,
        calls=calls,
        total_ms=calls * 2.0,
        last_call=hour + timedelta(minutes=5),
        **buckets,
    )


def version() -> int:
    row = ToolPolicy.objects.first()
    return row.version if row else 0


def test_every_registered_tool_is_listed_open_to_everyone(admin_client: Client) -> None:
    page = admin_client.get(TOOLS).content.decode()

    assert {"slugify", "countdown"} <= set(Tool.objects.values_list("name", flat=True))
    assert page.count("every active user") == 2


def test_restricting_and_granting_in_the_tool_page_raises_the_policy_version(admin_client: Client, user: Any) -> None:
    tool = Tool.objects.get(name="slugify")
    group = Group.objects.create(name="editors")
    before = version()

    response = admin_client.post(
        f"{TOOLS}{tool.pk}/change/", {"restricted": "on", "users": [user.pk], "groups": [group.pk]}
    )

    assert response.status_code == 302, response.content
    tool.refresh_from_db()
    assert tool.restricted
    user.refresh_from_db()
    assert user.has_perm("mcpapp.use_slugify")
    assert group.permissions.filter(codename="use_slugify").exists()
    assert version() > before
    listed = admin_client.get(TOOLS).content.decode()
    assert "superusers, 1 user, 1 group" in listed


def test_tools_are_neither_added_nor_deleted_while_registered(admin_client: Client) -> None:
    tool = Tool.objects.get(name="slugify")

    assert admin_client.get(f"{TOOLS}add/").status_code == 403
    assert admin_client.get(f"{TOOLS}{tool.pk}/delete/").status_code == 403


def test_the_usage_page_is_linked_from_the_index_and_says_when_there_is_nothing(admin_client: Client) -> None:
    index = admin_client.get("/admin/").content.decode()
    page = admin_client.get(USAGE)

    assert f'href="{USAGE}"' in index
    assert page.status_code == 200
    assert "No tool calls in the last 30 days." in page.content.decode()
    assert '<svg class="chart"' not in page.content.decode()


def test_the_usage_page_charts_and_tabulates_the_calls(
    admin_client: Client, admin_user: Any, user: Any, client_app: Any
) -> None:
    usage_row(user, client_app, "slugify", Outcome.OK, 8, le_1ms=6, le_5ms=2)
    usage_row(user, client_app, "slugify", Outcome.TOOL_ERROR, 2, le_1ms=2)
    usage_row(admin_user, client_app, "countdown", Outcome.REFUSED, 1, days_ago=3, le_1ms=1)
    usage_row(user, client_app, "slugify", Outcome.OK, 5, days_ago=40, le_1ms=5)  # outside the 30 days

    html = admin_client.get(USAGE).content.decode()

    assert html.count('<svg class="chart"') == 4
    for title in ("Calls per day by tool", "Calls per day by client", "Error rate per day", "Duration per day"):
        assert title in html
    assert re.search(r"<dt>Calls</dt><dd>11</dd>", html)
    assert re.search(r"<dt>Error rate</dt><dd>18.2 %</dd>", html)  # 2 of 11
    assert "Visual Studio Code" in html  # the client's series
    row = re.search(r"<tr><th scope=\"row\">slugify</th>(.*?)</tr>", html)
    assert row is not None
    assert re.findall(r"<td>(.*?)</td>", row.group(1))[:5] == ["10", "8", "2", "0", "0"]


def test_a_client_name_is_escaped_in_the_charts(admin_client: Client, user: Any, client_app: Any) -> None:
    client_app.name = '<script>alert("x")</script>'
    client_app.save()
    usage_row(user, client_app, "slugify", Outcome.OK, 1, le_1ms=1)

    html = admin_client.get(USAGE).content.decode()

    assert "<script>alert" not in html


def test_a_users_page_shows_their_recent_use_and_last_activity(
    admin_client: Client, user: Any, client_app: Any
) -> None:
    row = usage_row(user, client_app, "slugify", Outcome.OK, 3, le_1ms=3)

    html = admin_client.get(f"/admin/auth/user/{user.pk}/change/").content.decode()

    assert f"Last tool call: {timezone.localtime(row.last_call):%Y-%m-%d %H:%M}" in html
    assert "Last 30 days: 3 calls" in html
    assert '<svg class="chart"' in html


def test_a_clients_page_shows_its_recent_use(admin_client: Client, user: Any, client_app: Any) -> None:
    usage_row(user, client_app, "slugify", Outcome.FAILED, 4, le_10ms=4)

    html = admin_client.get(f"/admin/oauthapp/application/{client_app.pk}/change/").content.decode()

    assert "Last 30 days: 4 calls, error rate 100.0 %" in html


def test_a_user_without_use_says_so(admin_client: Client, user: Any) -> None:
    html = admin_client.get(f"/admin/auth/user/{user.pk}/change/").content.decode()

    assert "No tool call recorded." in html


def test_a_restricted_tool_granted_to_nobody_is_for_superusers_only(admin_client: Client) -> None:
    tool = Tool.objects.get(name="countdown")
    tool.restricted = True
    tool.save()

    assert "superusers only" in admin_client.get(TOOLS).content.decode()
