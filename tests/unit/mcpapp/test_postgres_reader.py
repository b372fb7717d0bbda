"""The PostgreSQL loop reader: settings, short timeouts, standing aside after a failure (see also test_auth.py)."""

from __future__ import annotations

import time
from unittest import mock

import pytest
from django.db import connection

from mcpapp import postgres_reader
from mcpapp.postgres_reader import PostgresLoopReader, _conninfo
from mcpapp.sqlite_reader import Unavailable

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
