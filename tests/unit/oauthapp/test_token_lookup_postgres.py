"""The PostgreSQL loop reader: Django's connection parameters, short timeouts, standing aside after a failure."""

from __future__ import annotations

import time
from unittest import mock

import pytest
from django.db import connection, connections

from oauthapp.token_lookup import Unavailable, postgres
from oauthapp.token_lookup.postgres import PostgresLoopReader

uses_database = pytest.mark.django_db(transaction=True)
POSTGRES = {
    "ENGINE": "django.db.backends.postgresql",
    "NAME": "mcp",
    "USER": "u",
    "PASSWORD": "p",
    "HOST": "db.internal",
    "PORT": 5433,
    "OPTIONS": {"sslmode": "require", "pool": {"max_size": 4}, "isolation_level": 1},
}


def test_connection_parameters_are_djangos_with_short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(connections.settings, "scratch", {**connections.settings["default"], **POSTGRES})
    params = postgres.connection_params("scratch")

    assert params["dbname"] == "mcp"
    assert (params["user"], params["password"], params["host"], params["port"]) == ("u", "p", "db.internal", 5433)
    assert params["sslmode"] == "require"
    assert "pool" not in params and "isolation_level" not in params  # Django's, not libpq's
    assert "cursor_factory" not in params  # Django's cursor class is synchronous
    assert params["context"] is not None  # Django's type loaders (jsonb as text, timestamptz)
    assert params["connect_timeout"] == 3
    assert "statement_timeout=5000" in params["options"]


async def test_a_database_that_cannot_be_reached_sends_reads_to_a_thread_for_a_while() -> None:
    reader = PostgresLoopReader({"dbname": "mcp", "host": "127.0.0.1", "port": 1, "connect_timeout": 3})
    with pytest.raises(Unavailable):
        await reader.fetchone("SELECT %s", "x")  # nothing listens on port 1

    started = time.monotonic()
    with (
        mock.patch("psycopg.AsyncConnection.connect", side_effect=AssertionError("tried again at once")),
        pytest.raises(Unavailable),
    ):
        await reader.fetchone("SELECT %s", "x")
    assert time.monotonic() - started < 0.5


@uses_database
async def test_there_is_a_reader_only_on_postgresql_and_only_while_the_lifespan_runs() -> None:
    assert postgres.loop_reader() is None
    async with postgres.reading():
        assert (postgres.loop_reader() is not None) == (connection.vendor == "postgresql")
    assert postgres.loop_reader() is None
