"""``verify_token``: on the event loop through the database's loop reader, else on a checking thread.

These run against whichever database the suite runs on (SQLite, then PostgreSQL in CI).
The PostgreSQL reader exists while the /mcp lifespan runs, so each test enters it.
"""

from __future__ import annotations

import asyncio
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from mcpapp import auth, postgres_reader
from mcpapp.postgres_reader import PostgresLoopReader
from mcpapp.sqlite_reader import LoopReader, Unavailable
from oauthapp.models import Consent
from tests.support.oauth import BASE, MCP_URL

pytestmark = pytest.mark.django_db(transaction=True)
LOOP_READER = {"sqlite": LoopReader, "postgresql": PostgresLoopReader}[connection.vendor]


def no_thread() -> Any:
    return mock.patch.object(auth, "_check_token_and_release", side_effect=AssertionError("took the thread path"))


async def test_a_token_check_needs_no_thread(tokens: dict[str, Any]) -> None:
    async with postgres_reader.reading():
        with no_thread():
            accepted = await auth.verify_token(tokens["access_token"], MCP_URL, BASE)

    assert accepted is not None
    assert accepted.client_id == tokens["client_id"]
    assert accepted.resource == MCP_URL


async def test_the_loop_path_refuses_what_the_thread_path_refuses(tokens: dict[str, Any]) -> None:
    expire = sync_to_async(get_access_token_model().objects.filter(user__isnull=False).update)

    async with postgres_reader.reading():
        with no_thread():
            assert await auth.verify_token(tokens["access_token"], MCP_URL, BASE) is not None
            assert await auth.verify_token(tokens["access_token"], MCP_URL.replace("mcp", "other"), BASE) is None
            assert await auth.verify_token("not-a-token", MCP_URL, BASE) is None
            await expire(expires=timezone.now())
            assert await auth.verify_token(tokens["access_token"], MCP_URL, BASE) is None


async def test_a_reader_that_cannot_answer_hands_over_to_the_thread_path(tokens: dict[str, Any]) -> None:
    thread_path = mock.Mock(wraps=auth._check_token_and_release)
    async with postgres_reader.reading():
        with (
            mock.patch.object(LOOP_READER, "fetchone", side_effect=Unavailable("locked, or the server went away")),
            mock.patch.object(auth, "_check_token_and_release", thread_path),
        ):
            accepted = await auth.verify_token(tokens["access_token"], MCP_URL, BASE)

    assert accepted is not None
    thread_path.assert_called_once()


async def test_a_use_seen_on_the_loop_is_recorded_by_a_checking_thread(tokens: dict[str, Any]) -> None:
    last_used = sync_to_async(lambda: Consent.objects.get().last_used_at)
    assert await last_used() is None

    async with postgres_reader.reading():
        assert await auth.verify_token(tokens["access_token"], MCP_URL, BASE) is not None

    for _ in range(50):  # written in the background, off the request path
        if await last_used() is not None:
            break
        await asyncio.sleep(0.1)
    assert await last_used() is not None


async def test_a_check_during_shutdown_still_answers_without_recording_the_use(tokens: dict[str, Any]) -> None:
    async with postgres_reader.reading():
        with mock.patch.object(auth._checker, "submit", side_effect=RuntimeError("cannot schedule new futures")):
            accepted = await auth.verify_token(tokens["access_token"], MCP_URL, BASE)

    assert accepted is not None
