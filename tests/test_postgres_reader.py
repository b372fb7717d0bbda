"""On PostgreSQL, /mcp token checks read on the event loop while the /mcp lifespan runs."""

from __future__ import annotations

import time
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from mcpapp import auth, postgres_reader
from mcpapp.postgres_reader import PostgresLoopReader, _conninfo
from mcpapp.sqlite_reader import Unavailable
from tests.oauth import BASE, MCP_URL

on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="the loop reader is for PostgreSQL")
uses_database = pytest.mark.django_db(transaction=True)


def test_connection_parameters_come_from_the_database_settings_with_short_timeouts() -> None:
    params = _conninfo(
        {
            "NAME": "mcp",
            "USER": "u",
            "PASSWORD": "p",
            "HOST": "db.internal",
            "PORT": 5433,
            "OPTIONS": {"sslmode": "require", "pool": {"max_size": 4}, "isolation_level": 1},
        }
    )

    assert params["dbname"] == "mcp"
    assert (params["user"], params["password"], params["host"], params["port"]) == ("u", "p", "db.internal", 5433)
    assert params["sslmode"] == "require"
    assert "pool" not in params and "isolation_level" not in params  # Django's, not libpq's
    assert params["connect_timeout"] == 3
    assert "statement_timeout=5000" in params["options"]


async def test_a_database_that_cannot_be_reached_sends_checks_to_the_thread_path_for_a_while() -> None:
    reader = PostgresLoopReader({"NAME": "mcp", "HOST": "127.0.0.1", "PORT": 1, "OPTIONS": {}})  # nothing listens
    with pytest.raises(Unavailable):
        await reader.fetchone("SELECT 1", ())

    started = time.monotonic()
    with (
        mock.patch("psycopg.AsyncConnection.connect", side_effect=AssertionError("tried again at once")),
        pytest.raises(Unavailable),
    ):
        await reader.fetchone("SELECT 1", ())
    assert time.monotonic() - started < 0.5


@uses_database
async def test_there_is_a_reader_only_on_postgresql_and_only_while_the_lifespan_runs() -> None:
    assert postgres_reader.loop_reader() is None
    async with postgres_reader.reading():
        assert (postgres_reader.loop_reader() is not None) == (connection.vendor == "postgresql")
    assert postgres_reader.loop_reader() is None


@on_postgresql
@uses_database
async def test_on_postgresql_a_token_check_needs_no_thread(tokens: dict[str, Any]) -> None:
    async with postgres_reader.reading():
        with mock.patch.object(auth, "_check_token_and_release", side_effect=AssertionError("took the thread path")):
            accepted = await auth.verify_token(tokens["access_token"], MCP_URL, BASE)

    assert accepted is not None
    assert accepted.client_id == tokens["client_id"]


@on_postgresql
@uses_database
async def test_the_loop_path_refuses_what_the_thread_path_refuses(tokens: dict[str, Any]) -> None:
    expire = sync_to_async(get_access_token_model().objects.filter(user__isnull=False).update)

    async with postgres_reader.reading():
        with mock.patch.object(auth, "_check_token_and_release", side_effect=AssertionError("took the thread path")):
            assert await auth.verify_token(tokens["access_token"], MCP_URL, BASE) is not None
            assert await auth.verify_token(tokens["access_token"], MCP_URL.replace("mcp", "other"), BASE) is None
            assert await auth.verify_token("not-a-token", MCP_URL, BASE) is None
            await expire(expires=timezone.now())
            assert await auth.verify_token(tokens["access_token"], MCP_URL, BASE) is None


@on_postgresql
@uses_database
async def test_a_failing_loop_reader_hands_over_to_the_thread_path(tokens: dict[str, Any]) -> None:
    thread_path = mock.Mock(wraps=auth._check_token_and_release)
    async with postgres_reader.reading():
        with (
            mock.patch.object(PostgresLoopReader, "fetchone", side_effect=Unavailable("server closed the connection")),
            mock.patch.object(auth, "_check_token_and_release", thread_path),
        ):
            accepted = await auth.verify_token(tokens["access_token"], MCP_URL, BASE)

    assert accepted is not None
    thread_path.assert_called_once()
