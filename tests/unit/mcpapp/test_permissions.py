"""Tool permissions: the rows and permissions per tool, the policy version every change raises,
the version read along with the token, and the per-process grants it keeps fresh.

Runs on SQLite and on PostgreSQL (``scripts/test``): the version is read in the token's own query."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.signals import user_logged_in
from django.db import connection as db_connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model, set_token_value

from mcpapp import permissions
from mcpapp.auth import POLICY_VERSION_ATTRIBUTE, UserAccessToken
from mcpapp.models import CODENAME_LIMIT, Tool, ToolPolicy, permission_codename
from oauthapp import token_lookup
from tests.support.oauth import MCP_URL

pytestmark = pytest.mark.django_db(transaction=True)


def version() -> int:
    row = ToolPolicy.objects.first()
    return row.version if row else 0


def restrict(name: str, restricted: bool = True) -> Tool:
    tool = Tool.objects.get(name=name)
    tool.restricted = restricted
    tool.save()
    return tool


def use(name: str) -> Permission:
    return Permission.objects.get(codename=permission_codename(name))


def token_of(user: Any, superuser: bool = False) -> UserAccessToken:
    return UserAccessToken(
        token="t",
        client_id="c",
        scopes=["mcp"],
        user_id=user.pk,
        is_superuser=superuser,
        tool_policy_version=version(),
    )


def access(user: Any, **kwargs: Any) -> permissions.ToolAccess:
    return async_to_sync(permissions.access_for)(token_of(user, **kwargs))


# --- Rows and permissions -----------------------------------------------------------------


def test_every_registered_tool_has_a_row_and_a_permission_after_migrate() -> None:
    for name in ("slugify", "countdown"):
        tool = Tool.objects.get(name=name)
        assert tool.registered and not tool.restricted
        assert tool.summary
        assert use(name).name == f"Can use the tool {name}"


def test_a_tool_no_longer_offered_keeps_its_row_and_grants_and_comes_back(user: Any) -> None:
    user.user_permissions.add(use("countdown"))

    permissions.sync_tools([("slugify", "Turn text into a slug.")])
    assert not Tool.objects.get(name="countdown").registered
    permissions.sync_tools([("slugify", "Turn text into a slug."), ("countdown", "Count down.")])

    assert Tool.objects.get(name="countdown").registered
    assert user.user_permissions.filter(codename="use_countdown").exists()


def test_a_very_long_tool_name_still_gets_a_unique_codename() -> None:
    long_a, long_b = "a" * 127 + "x", "a" * 127 + "y"

    codenames = {permission_codename(long_a), permission_codename(long_b)}

    assert len(codenames) == 2
    assert all(len(codename) <= CODENAME_LIMIT for codename in codenames)
    permissions.sync_tools([(long_a, ""), (long_b, "")])
    assert Permission.objects.filter(codename__in=codenames).count() == 2


# --- The version ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda user, group: restrict("slugify"), id="a tool restricted"),
        pytest.param(lambda user, group: user.user_permissions.add(use("slugify")), id="a user granted"),
        pytest.param(lambda user, group: user.user_permissions.clear(), id="a user's permissions cleared"),
        pytest.param(lambda user, group: group.permissions.add(use("slugify")), id="a group granted"),
        pytest.param(lambda user, group: user.groups.add(group), id="a user joins a group"),
        pytest.param(lambda user, group: group.user_set.remove(user), id="a group loses a member"),
        pytest.param(lambda user, group: group.delete(), id="a group deleted"),
        pytest.param(lambda user, group: use("slugify").delete(), id="a permission deleted"),
        pytest.param(lambda user, group: setattr(user, "is_superuser", True) or user.save(), id="a user saved"),
    ],
)
def test_every_change_that_can_alter_a_grant_raises_the_version(user: Any, change: Any) -> None:
    group = Group.objects.create(name="g")
    group.user_set.add(user)
    before = version()

    change(user, group)

    assert version() > before


def test_signing_in_does_not_raise_the_version(user: Any) -> None:
    before = version()

    user_logged_in.send(sender=type(user), request=RequestFactory().get("/"), user=user)

    assert version() == before


def test_the_token_lookup_reads_the_version_with_the_token(user: Any) -> None:
    restrict("slugify")
    application = get_application_model().objects.create(
        name="c", client_type="public", authorization_grant_type="authorization-code", redirect_uris="http://x/"
    )
    raw = secrets.token_urlsafe(24)
    token = get_access_token_model()(
        user=user, application=application, scope="mcp", resource=[MCP_URL], expires=timezone.now() + timedelta(hours=1)
    )
    set_token_value(token, raw)
    token.save()

    async def on_the_loop() -> Any:
        async with token_lookup.reading():
            return await token_lookup.aload(raw)

    loads = [token_lookup.load(raw), token_lookup.load_with_orm(raw), async_to_sync(on_the_loop)()]

    assert [getattr(load, POLICY_VERSION_ATTRIBUTE) for load in loads] == [version()] * 3
    assert version() > 0
    # In the token's own query, not a second one (the event-loop readers run load's SQL text).
    for reader in (token_lookup.load, token_lookup.load_with_orm):
        with CaptureQueriesContext(db_connection) as queries:
            reader(raw)
        assert len(queries) == 1, [query["sql"] for query in queries]


def test_read_along_takes_integers_only() -> None:
    with pytest.raises(TypeError):
        token_lookup.read_along(token_lookup.ReadAlong("x", ToolPolicy, "version", "1 OR 1=1"))  # type: ignore[arg-type]


# --- Who may use what ------------------------------------------------------------------------


def test_nothing_restricted_means_every_tool_for_everyone_without_reading_a_users_grants(
    user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(permissions, "read_hidden", lambda *args: pytest.fail("read the user's grants"))

    assert access(user) is permissions.EVERY_TOOL


def test_a_restricted_tool_is_hidden_from_a_user_without_its_permission(user: Any, other_user: Any) -> None:
    restrict("slugify")
    other_user.user_permissions.add(use("slugify"))

    assert access(user).hidden == {"slugify"}
    assert access(other_user).allows("slugify")


def test_a_superuser_gets_every_tool_and_an_inactive_user_none(user: Any, other_user: Any) -> None:
    restrict("slugify")
    other_user.is_active = False
    other_user.save()

    assert access(user, superuser=True) is permissions.EVERY_TOOL
    assert access(other_user).hidden == {"slugify"}


def test_the_grants_are_read_once_per_version(user: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    restrict("slugify")
    reads: list[int] = []
    read_hidden = permissions.read_hidden

    def counting(user_id: int, restricted: frozenset[str]) -> frozenset[str]:
        reads.append(user_id)
        return read_hidden(user_id, restricted)

    monkeypatch.setattr(permissions, "read_hidden", counting)
    assert not access(user).allows("slugify")
    assert not access(user).allows("slugify")
    user.user_permissions.add(use("slugify"))  # a new version

    assert access(user).allows("slugify")
    assert reads == [user.pk, user.pk]


def test_grants_older_than_the_cache_period_are_read_again(user: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    restrict("slugify")
    assert not access(user).allows("slugify")
    # A change behind Django's back (no signal, so the same version), e.g. another backend's groups.
    user.user_permissions.through.objects.bulk_create(
        [user.user_permissions.through(user_id=user.pk, permission_id=use("slugify").pk)]
    )
    assert not access(user).allows("slugify")

    monkeypatch.setattr(permissions, "CACHE_SECONDS", 0.0)

    assert access(user).allows("slugify")


def test_a_request_without_our_token_gets_no_restricted_tool() -> None:
    restrict("slugify")

    assert async_to_sync(permissions.access_for)(None).hidden == {"slugify"}


def test_with_permissions_off_every_tool_is_for_everyone(settings: Any, user: Any) -> None:
    restrict("slugify")
    settings.MCPDEMO_TOOL_PERMISSIONS = False

    assert access(user) is permissions.EVERY_TOOL


class GrantsSlugify:
    """An authentication backend that grants one tool (as an LDAP or SSO backend might)."""

    def authenticate(self, request: Any, **credentials: Any) -> None:
        return None

    def has_perm(self, user: Any, perm: str, obj: Any = None) -> bool:
        return perm == "mcpapp.use_slugify"


def test_the_grants_are_asked_of_every_authentication_backend(settings: Any, user: Any) -> None:
    settings.AUTHENTICATION_BACKENDS = [*settings.AUTHENTICATION_BACKENDS, f"{__name__}.GrantsSlugify"]
    restrict("slugify")
    restrict("countdown")

    assert access(user).hidden == {"countdown"}
