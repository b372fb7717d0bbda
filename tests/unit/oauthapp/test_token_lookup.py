"""The fast token lookup gives the validator exactly what the ORM gives it, for every kind of token.

A differential test: hypothesis generates token states (valid, expired, revoked, wrong
scope, another resource, unbound, inactive user, blocked client, no user, registration
token) and the same validator decides each one twice, once on the plain-ORM load
(``load_with_orm``, what DOT's own validator does) and once on the fast path (the raw read
on this thread, and on the event loop through the database's loop reader). Both the
loaded instances and the decisions must agree. The suite runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Model
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oauth2_provider.models import get_access_token_model, get_application_model, set_token_value
from oauth2_provider.settings import oauth2_settings
from oauthlib.common import Request as OAuthRequest

from oauthapp import token_lookup
from oauthapp.token_lookup import postgres
from oauthapp.validator import MCPOAuth2Validator
from tests.support.oauth import MCP_URL

pytestmark = pytest.mark.django_db(transaction=True)

AccessToken = get_access_token_model()
Application = get_application_model()


@dataclass(frozen=True)
class TokenState:
    stored: bool  # False: revoked (DOT deletes a revoked access token) or never issued
    expired: bool
    scope: str
    resource: tuple[str, ...]
    user: str  # "active", "inactive", "none"
    client: str  # "usable", "blocked", "none"


token_states = st.builds(
    TokenState,
    stored=st.booleans(),
    expired=st.booleans(),
    scope=st.sampled_from(["mcp", "mcp read", "read", "", "dcr"]),
    resource=st.sampled_from([(MCP_URL,), (), ("https://other.example/mcp",), (MCP_URL + "/",), (MCP_URL, "x:y")]),
    user=st.sampled_from(["active", "inactive", "none"]),
    client=st.sampled_from(["usable", "blocked", "none"]),
)
REGISTRATION_TOKEN = TokenState(True, False, "dcr", (), "none", "usable")


@pytest.fixture
def world(django_user_model: Any) -> dict[str, Any]:
    """The users and clients tokens may belong to."""
    users = {
        "active": django_user_model.objects.create_user("active"),
        "inactive": django_user_model.objects.create_user("inactive", is_active=False),
        "none": None,
    }
    client = {"client_type": "public", "authorization_grant_type": "authorization-code", "redirect_uris": "http://x/"}
    clients = {
        "usable": Application.objects.create(name="usable", **client),
        "blocked": Application.objects.create(name="blocked", blocked_at=timezone.now(), **client),
        "none": None,
    }
    return {"users": users, "clients": clients}


def make_token(state: TokenState, world: dict[str, Any]) -> str:
    raw = secrets.token_urlsafe(24)
    if state.stored:
        token = AccessToken(
            user=world["users"][state.user],
            application=world["clients"][state.client],
            expires=timezone.now() + (timedelta(hours=-1) if state.expired else timedelta(hours=1)),
            scope=oauth2_settings.DCR_REGISTRATION_SCOPE if state.scope == "dcr" else state.scope,
            resource=list(state.resource),
        )
        set_token_value(token, raw)
        token.save()
    return raw


def values(instance: Model | None) -> list[Any] | None:
    if instance is None:
        return None
    return [getattr(instance, field.attname) for field in instance._meta.concrete_fields]


def decide(access_token: Any) -> tuple[bool, Any]:
    request = OAuthRequest(MCP_URL, http_method="POST")
    accepted = MCPOAuth2Validator().accept_bearer_token(access_token, ["mcp"], request)
    return accepted, getattr(request, "oauth2_error", None)


def assert_same_load(fast: Any, orm: Any) -> None:
    assert values(fast) == values(orm)
    if orm is not None:
        assert values(fast.application) == values(orm.application)
        assert values(fast.user) == values(orm.user)
        # What other apps read along (mcpapp's tool policy version), as the ORM annotates it.
        for extra in token_lookup.token_query().extras:
            assert getattr(fast, extra.attribute) == getattr(orm, extra.attribute)


async def load_on_the_loop(token: str) -> Any:
    async with token_lookup.reading():
        return await token_lookup.aload(token)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(state=token_states)
def test_the_fast_path_and_the_orm_agree(world: dict[str, Any], state: TokenState) -> None:
    token = make_token(state, world)
    orm = token_lookup.load_with_orm(token)
    on_this_thread = token_lookup.load(token)
    on_the_loop = async_to_sync(load_on_the_loop)(token)

    assert_same_load(on_this_thread, orm)
    assert_same_load(on_the_loop, orm)
    assert decide(on_this_thread) == decide(on_the_loop) == decide(orm)


def test_the_registration_token_is_loaded_alike_and_refused(world: dict[str, Any]) -> None:
    token = make_token(REGISTRATION_TOKEN, world)
    orm = token_lookup.load_with_orm(token)

    assert_same_load(token_lookup.load(token), orm)
    assert decide(token_lookup.load(token)) == decide(orm)
    assert decide(orm)[0] is False


def test_the_loop_path_needs_no_thread(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    token = make_token(TokenState(True, False, "mcp", (MCP_URL,), "active", "usable"), world)
    monkeypatch.setattr(token_lookup, "run_on_lookup_thread", lambda *args: pytest.fail("read on a thread"))

    loaded = async_to_sync(load_on_the_loop)(token)

    assert loaded is not None and decide(loaded)[0] is True


def test_a_reader_that_cannot_answer_hands_the_read_to_a_thread(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = make_token(TokenState(True, False, "mcp", (MCP_URL,), "active", "usable"), world)

    class Locked:
        async def fetchone(self, sql: str, token_checksum: str) -> Any:
            raise token_lookup.Unavailable("locked")

    monkeypatch.setattr(token_lookup, "loop_reader", Locked)

    loaded = async_to_sync(token_lookup.aload)(token)

    assert values(loaded) == values(token_lookup.load_with_orm(token))


def test_an_engine_without_raw_sql_reads_through_the_orm(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = make_token(TokenState(True, False, "mcp", (MCP_URL,), "active", "usable"), world)
    monkeypatch.setattr(token_lookup, "RAW_SQL_VENDORS", frozenset())
    monkeypatch.setattr(token_lookup, "token_query", lambda *args: pytest.fail("wrote raw SQL"))

    assert values(token_lookup.load(token)) == values(token_lookup.load_with_orm(token))


def test_the_postgresql_reader_exists_only_on_postgresql() -> None:
    async def reader_while_serving() -> Any:
        async with token_lookup.reading():
            return postgres.loop_reader()

    assert (async_to_sync(reader_while_serving)() is not None) == (connection.vendor == "postgresql")


def test_the_query_reads_every_column_of_the_three_models() -> None:
    query = token_lookup.token_query()
    names = [set(part.names) for part in query.parts]

    assert names == [
        {field.attname for field in model._meta.concrete_fields}
        for model in (AccessToken, Application, get_user_model())
    ]
