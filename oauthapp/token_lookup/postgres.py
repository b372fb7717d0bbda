"""Token reads on the event loop itself, when the database is PostgreSQL.

The PostgreSQL counterpart of :mod:`.sqlite`: one asynchronous psycopg connection per event
loop (per uvicorn worker), autocommit and read-only, opened by the ``/mcp`` lifespan
(:func:`reading`) and closed with it. A read then costs the loop one round trip's worth of
CPU instead of a hand-off to a thread and back.

It connects with the parameters and type loaders Django's own PostgreSQL connections use
(``DatabaseWrapper.get_connection_params``), so rows decode as the ORM sees them. It never
makes a request wait for long: a short connect and statement timeout, and after any failure
it stands aside (``Unavailable``) for a few seconds, during which reads take the thread path
with Django's connection and its error handling (503 while the database is down).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections

from . import Unavailable

logger = logging.getLogger(__name__)

POSTGRESQL_ENGINE = "django.db.backends.postgresql"
CONNECT_TIMEOUT_SECONDS = 3
STATEMENT_TIMEOUT_MS = 5000
REST_AFTER_FAILURE_SECONDS = 5.0


def connection_params(alias: str = DEFAULT_DB_ALIAS) -> dict[str, Any]:
    """Django's connection parameters for ``alias``, for an async connection with short timeouts."""
    params = connections.create_connection(alias).get_connection_params()
    params.pop("cursor_factory", None)  # Django's is a synchronous cursor class
    params.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
    params["options"] = f"{params.get('options', '')} -c statement_timeout={STATEMENT_TIMEOUT_MS}".strip()
    params["application_name"] = "mcpdemo-token-lookup"
    return params


class PostgresLoopReader:
    """One autocommit connection, used from one event loop; psycopg queues concurrent queries on it."""

    def __init__(self, params: dict[str, Any]) -> None:
        self._params = params
        self._connection: psycopg.AsyncConnection[Any] | None = None
        self._resting_until = 0.0

    async def fetchone(self, sql: str, token_checksum: str) -> Sequence[Any] | None:
        if time.monotonic() < self._resting_until:
            raise Unavailable("resting after a failure")
        try:
            if self._connection is None or self._connection.closed:
                self._connection = await psycopg.AsyncConnection.connect(**self._params, autocommit=True)
                await self._connection.set_read_only(True)
            async with self._connection.cursor() as cursor:
                await cursor.execute(sql, (token_checksum,))
                row: Sequence[Any] | None = await cursor.fetchone()
                return row
        except psycopg.Error as exc:
            self._resting_until = time.monotonic() + REST_AFTER_FAILURE_SECONDS
            await self.close()
            logger.warning("token lookup on the event loop failed (%s): reading on a thread for a while", exc)
            raise Unavailable(str(exc)) from exc

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(psycopg.Error):
                await connection.close()


_reader: PostgresLoopReader | None = None


def loop_reader() -> PostgresLoopReader | None:
    """The reader the running ``/mcp`` lifespan opened, if the database is PostgreSQL."""
    return _reader


@contextlib.asynccontextmanager
async def reading(alias: str = DEFAULT_DB_ALIAS) -> AsyncIterator[None]:
    """For the lifespan: a reader while the server runs (nothing unless the database is PostgreSQL)."""
    global _reader
    if connections.settings[alias]["ENGINE"] != POSTGRESQL_ENGINE:
        yield
        return
    reader = PostgresLoopReader(connection_params(alias))
    _reader = reader
    try:
        yield
    finally:
        if _reader is reader:
            _reader = None
        await reader.close()
