"""``DOTTokenVerifier``: /mcp asks DOT's configured validator, fast when it can, on a thread when it must."""

from __future__ import annotations

import asyncio
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings

from mcpapp import auth
from mcpapp.auth import DOTTokenVerifier, has_fast_path
from oauthapp import token_lookup
from oauthapp.models import Consent
from oauthapp.validator import MCPOAuth2Validator
from tests.support.mcp import alter_access_token
from tests.support.oauth import BASE, MCP_URL

pytestmark = pytest.mark.django_db(transaction=True)


class RefusingValidator(MCPOAuth2Validator):
    """A deployer's subclass that overrides only the sync method: it must still decide."""

    def validate_bearer_token(self, token: str, scopes: Any, request: Any) -> bool:
        return False


class CountingPlainValidator(OAuth2Validator):
    """DOT's own validator (no fast path), counting its calls."""

    calls = 0

    def validate_bearer_token(self, token: str, scopes: Any, request: Any) -> bool:
        CountingPlainValidator.calls += 1
        return super().validate_bearer_token(token, scopes, request)


def use_validator(settings: Any, path: str) -> None:
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OAUTH2_VALIDATOR_CLASS": path}


def verifier() -> DOTTokenVerifier:
    return DOTTokenVerifier(resource=MCP_URL, issuer=BASE)


async def test_a_valid_token_becomes_the_sdks_access_token(user: Any, tokens: dict[str, Any]) -> None:
    async with token_lookup.reading():
        access = await verifier().verify_token(tokens["access_token"])

    assert access is not None
    assert access.client_id == tokens["client_id"]
    assert access.scopes == ["mcp"]
    assert access.resource == MCP_URL
    assert access.subject == str(user.pk)  # sessions are bound to the person, not just the client
    assert access.claims == {"iss": BASE, "username": "alice"}
    assert access.expires_at is not None


async def test_the_configured_validator_decides(settings: Any, tokens: dict[str, Any]) -> None:
    use_validator(settings, "tests.unit.mcpapp.test_auth.RefusingValidator")

    assert oauth2_settings.OAUTH2_VALIDATOR_CLASS is RefusingValidator
    assert await verifier().verify_token(tokens["access_token"]) is None


async def test_a_validator_without_a_fast_path_is_honoured_on_a_thread(settings: Any, tokens: dict[str, Any]) -> None:
    use_validator(settings, "tests.unit.mcpapp.test_auth.CountingPlainValidator")
    CountingPlainValidator.calls = 0

    access = await verifier().verify_token(tokens["access_token"])

    assert access is not None
    assert CountingPlainValidator.calls == 1


def test_only_an_async_avalidate_counts_as_a_fast_path() -> None:
    assert has_fast_path(MCPOAuth2Validator())
    assert not has_fast_path(OAuth2Validator())


async def test_a_refusal_carries_the_validators_reason(tokens: dict[str, Any]) -> None:
    await alter_access_token(tokens["access_token"], scope="read")

    verdict = await verifier().check(tokens["access_token"])

    assert verdict.access_token is None
    assert verdict.error == "insufficient_scope"


async def test_another_resource_is_refused(tokens: dict[str, Any]) -> None:
    other = DOTTokenVerifier(resource=BASE + "/other", issuer=BASE)

    assert await other.verify_token(tokens["access_token"]) is None


async def test_a_use_is_recorded_on_a_lookup_thread(tokens: dict[str, Any]) -> None:
    last_used = sync_to_async(lambda: Consent.objects.get().last_used_at)
    assert await last_used() is None

    assert await verifier().verify_token(tokens["access_token"]) is not None

    for _ in range(50):  # written in the background, off the request path
        if await last_used() is not None:
            break
        await asyncio.sleep(0.1)
    assert await last_used() is not None


async def test_a_check_during_shutdown_still_answers_without_recording_the_use(tokens: dict[str, Any]) -> None:
    # Inside the server's lifespan, as /mcp is: PostgreSQL's loop reader is open then, so the
    # check itself needs no lookup thread (SQLite's needs no opening).
    async with token_lookup.reading():
        access, submit = await _check_while_the_lookup_threads_refuse_work(tokens["access_token"])

    assert access is not None
    submit.assert_called_once()


async def _check_while_the_lookup_threads_refuse_work(token: str) -> tuple[Any, mock.MagicMock]:
    with (
        mock.patch.object(auth.token_lookup, "submit", wraps=token_lookup.submit) as submit,
        mock.patch.object(token_lookup._threads, "submit", side_effect=RuntimeError("shut down")),
    ):
        return await verifier().verify_token(token), submit
