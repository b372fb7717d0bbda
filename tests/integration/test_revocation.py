"""Revocation reaches responses that are already open: an MCP stream of a revoked token ends.

The ASGI application is driven directly (httpx's ASGI transport buffers whole responses,
so it cannot watch a stream end); the re-check interval is shortened to keep the tests
fast. One test runs against a real uvicorn process with the shipped interval.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from unittest import mock

import anyio
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.db import OperationalError
from django.test import Client as DjangoClient
from django.utils import timezone

import mcpapp.conf
from mcpdemo.asgi import build_application
from oauthapp import consents, token_lookup
from oauthapp.models import Consent
from tests.support.mcp import (
    OpenRequest,
    alter_access_token,
    in_session,
    long_tool_call,
    open_session,
    serving,
    sse_stream,
    tokens_for,
)

pytestmark = pytest.mark.django_db(transaction=True)

RECHECK_SECONDS = 0.2
SHIPPED_RECHECK_SECONDS = mcpapp.conf.STREAM_RECHECK_SECONDS


@pytest.fixture
def access_token(tokens: dict[str, Any]) -> str:
    return tokens["access_token"]


@pytest.fixture(autouse=True)
def _fast_recheck(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mcpapp.conf, "STREAM_RECHECK_SECONDS", RECHECK_SECONDS)


# client, an administrator revokes every token of the client.
def revoke_by_client(tokens: dict[str, Any], user: Any) -> None:
    response = DjangoClient().post("/revoke", {"token": tokens["access_token"], "client_id": tokens["client_id"]})
    assert response.status_code == 200


def disconnect_by_user(tokens: dict[str, Any], user: Any) -> None:
    browser = DjangoClient()
    browser.force_login(user)
    connection = Consent.objects.get(user=user, application__client_id=tokens["client_id"])
    assert browser.post(f"/connected-apps/{connection.pk}/disconnect").status_code == 302


def revoke_by_admin(tokens: dict[str, Any], user: Any) -> None:
    admin = DjangoClient()
    admin.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    application = Consent.objects.get(user=user).application
    response = admin.post(
        "/admin/oauthapp/application/",
        {"action": "revoke_all_tokens", "_selected_action": [application.pk], "post": "yes"},  # confirmed
    )
    assert response.status_code == 302


REVOCATIONS = [
    pytest.param(revoke_by_client, id="client-revokes"),
    pytest.param(disconnect_by_user, id="user-disconnects"),
    pytest.param(revoke_by_admin, id="admin-revokes"),
]


async def ended_within(request: OpenRequest, seconds: float) -> float:
    started = time.monotonic()
    with anyio.fail_after(seconds):
        await request.ended.wait()
    return time.monotonic() - started


@pytest.mark.parametrize("revoke", REVOCATIONS)
async def test_an_open_event_stream_ends_soon_after_its_token_is_revoked(
    user: Any, tokens: dict[str, Any], revoke: Callable[[dict[str, Any], Any], None]
) -> None:
    app = build_application()
    async with serving(app) as http, anyio.create_task_group() as tasks:
        session_id = await open_session(http, tokens["access_token"])
        stream = sse_stream(app, tokens["access_token"], session_id)
        tasks.start_soon(stream.run)
        with anyio.fail_after(5):
            await stream.started.wait()
        assert stream.status == 200

        await sync_to_async(revoke)(tokens, user)
        elapsed = await ended_within(stream, 5)

    assert elapsed < 1 + RECHECK_SECONDS * 2
    assert stream.completed  # ended as a finished response, not a dropped connection


async def test_a_long_tool_call_stream_ends_when_its_token_is_revoked(user: Any, tokens: dict[str, Any]) -> None:
    app = build_application()
    async with serving(app) as http, anyio.create_task_group() as tasks:
        session_id = await open_session(http, tokens["access_token"])
        call = long_tool_call(app, tokens["access_token"], session_id)
        tasks.start_soon(call.run)
        with anyio.fail_after(5):
            await call.started.wait()

        await sync_to_async(revoke_by_client)(tokens, user)
        await ended_within(call, 5)

    assert call.status == 200
    assert call.completed
    assert "Liftoff" not in call.text


async def test_a_stateless_long_tool_call_ends_when_its_token_is_revoked(
    settings: Any, user: Any, tokens: dict[str, Any]
) -> None:
    settings.MCPDEMO_MCP_STATELESS = True
    app = build_application()
    async with serving(app), anyio.create_task_group() as tasks:
        call = long_tool_call(app, tokens["access_token"], None)
        tasks.start_soon(call.run)
        await anyio.sleep(RECHECK_SECONDS * 2)  # running, and re-checked at least once

        await sync_to_async(revoke_by_client)(tokens, user)
        await ended_within(call, 5)

    assert call.status == 200
    assert call.completed
    assert "Liftoff" not in call.text


async def test_a_stream_ends_when_its_token_expires(tokens: dict[str, Any]) -> None:
    app = build_application()
    async with serving(app) as http, anyio.create_task_group() as tasks:
        session_id = await open_session(http, tokens["access_token"])
        stream = sse_stream(app, tokens["access_token"], session_id)
        tasks.start_soon(stream.run)
        with anyio.fail_after(5):
            await stream.started.wait()

        await alter_access_token(tokens["access_token"], expires=timezone.now())
        await ended_within(stream, 5)

    assert stream.completed


async def test_a_stream_with_a_valid_token_stays_open(tokens: dict[str, Any]) -> None:
    app = build_application()
    async with serving(app) as http, anyio.create_task_group() as tasks:
        session_id = await open_session(http, tokens["access_token"])
        stream = sse_stream(app, tokens["access_token"], session_id)
        tasks.start_soon(stream.run)
        await anyio.sleep(RECHECK_SECONDS * 5)  # several re-checks

        still_open = not stream.ended.is_set()
        stream.disconnect()
        tasks.cancel_scope.cancel()

    assert still_open
    assert stream.status == 200


async def test_a_database_outage_during_a_recheck_does_not_end_the_stream(tokens: dict[str, Any]) -> None:
    database_down = False
    failed_checks = 0

    real_aload = token_lookup.aload

    async def aload(token: str) -> Any:
        nonlocal failed_checks
        if database_down:
            failed_checks += 1
            raise OperationalError("database is down")
        return await real_aload(token)

    app = build_application()
    with mock.patch.object(token_lookup, "aload", aload):
        async with serving(app) as http, anyio.create_task_group() as tasks:
            session_id = await open_session(http, tokens["access_token"])
            stream = sse_stream(app, tokens["access_token"], session_id)
            tasks.start_soon(stream.run)
            with anyio.fail_after(5):
                await stream.started.wait()

            database_down = True
            await anyio.sleep(RECHECK_SECONDS * 4)
            still_open = not stream.ended.is_set()
            tasks.cancel_scope.cancel()

    assert failed_checks >= 2  # it did re-check, and could not tell
    assert still_open  # an outage is not a revocation


async def test_the_session_accepts_a_new_stream_after_a_revoked_one_was_ended(
    user: Any, tokens: dict[str, Any]
) -> None:
    app = build_application()
    async with serving(app) as http, anyio.create_task_group() as tasks:
        session_id = await open_session(http, tokens["access_token"])
        first = sse_stream(app, tokens["access_token"], session_id)
        tasks.start_soon(first.run)
        with anyio.fail_after(5):
            await first.started.wait()
        await sync_to_async(revoke_by_client)(tokens, user)
        await ended_within(first, 5)

        # The same user signs in again; the client reopens its stream in the same session.
        fresh = await sync_to_async(tokens_for)(user, tokens["client_id"])
        second = sse_stream(app, fresh["access_token"], session_id)
        tasks.start_soon(second.run)
        with anyio.fail_after(5):
            await second.started.wait()
        second_status = second.status
        tasks.cancel_scope.cancel()

    assert second_status == 200  # not 409: the ended stream left nothing behind


async def test_short_requests_check_the_token_only_once(access_token: str) -> None:
    checks = mock.AsyncMock(wraps=token_lookup.aload)

    with mock.patch.object(token_lookup, "aload", checks):
        async with serving() as http:
            session_id = await open_session(http, access_token)
            checks.reset_mock()
            listed = await in_session(http, session_id, access_token, "tools/list")

    assert listed.status_code == 200
    assert checks.await_count == 1


async def test_a_revoked_connection_closes_the_stream_even_without_a_refresh_token(
    user: Any, tokens: dict[str, Any]
) -> None:
    """Access tokens whose refresh token was already rotated away are revoked too."""
    app = build_application()
    async with serving(app) as http, anyio.create_task_group() as tasks:
        session_id = await open_session(http, tokens["access_token"])
        stream = sse_stream(app, tokens["access_token"], session_id)
        tasks.start_soon(stream.run)
        with anyio.fail_after(5):
            await stream.started.wait()

        application = await sync_to_async(lambda: Consent.objects.get(user=user).application)()
        await sync_to_async(consents.revoke_tokens)(application, user)
        await ended_within(stream, 5)

    assert stream.completed
