"""Token lookups on the event loop itself, when the database is PostgreSQL.

The PostgreSQL counterpart of ``sqlite_reader``: one asynchronous psycopg connection per
event loop (per uvicorn worker), autocommit, read-only, opened by the ``/mcp`` lifespan
and closed with it. A lookup then costs the loop one round trip's worth of CPU instead
of a hand-off to a thread and back (futures, wake-ups, the GIL changing hands), which
cost the server more than the query on PostgreSQL too.

It never makes a request wait for long: the connection has a short connect timeout and
statement timeout, and after any failure it stands aside (``Unavailable``) for a few
seconds, during which the caller takes the thread path with Django's connection and its
error handling (503 while the database is down).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import psycopg
from django.db import connections

from .sqlite_reader import Unavailable

logger = logging.getLogger(__name__)

POSTGRESQL_ENGINE = "django.db.backends.postgresql"
CONNECT_TIMEOUT_SECONDS = 3
STATEMENT_TIMEOUT_MS = 5000
RETRY_AFTER_FAILURE_SECONDS = 5.0
# Django's own OPTIONS keys, which are not libpq connection parameters.
_DJANGO_OPTIONS = {"pool", "isolation_level", "assume_role", "server_side_binding"}


def _conninfo(settings_dict: dict[str, Any]) -> dict[str, Any]:
    options = {k: v for k, v in (settings_dict.get("OPTIONS") or {}).items() if k not in _DJANGO_OPTIONS}
    params: dict[str, Any] = {"dbname": settings_dict["NAME"], **options}
    for key, name in (("USER", "user"), ("PASSWORD", "password"), ("HOST", "host"), ("PORT", "port")):
        if settings_dict.get(key):
            params[name] = settings_dict[key]
    params.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
    params["options"] = f"{params.get('options', '')} -c statement_timeout={STATEMENT_TIMEOUT_MS}".strip()
    params["application_name"] = "mcpdemo-token-check"
    return params


class PostgresLoopReader:
    """One autocommit connection, used from one event loop; psycopg queues concurrent queries on it."""

    vendor = "postgresql"

    def __init__(self, settings_dict: dict[str, Any]) -> None:
        self.database = settings_dict["NAME"]
        self._conninfo = _conninfo(settings_dict)
        self._connection: psycopg.AsyncConnection | None = None
        self._resting_until = 0.0

    async def fetchone(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        if time.monotonic() < self._resting_until:
            raise Unavailable("resting after a failure")
        try:
            if self._connection is None or self._connection.closed:
                self._connection = await psycopg.AsyncConnection.connect(**self._conninfo, autocommit=True)
                await self._connection.set_read_only(True)
            async with self._connection.cursor() as cursor:
                await cursor.execute(sql, params)
                return await cursor.fetchone()
        except psycopg.Error as exc:
            self._resting_until = time.monotonic() + RETRY_AFTER_FAILURE_SECONDS
            await self.close()
            logger.warning("token lookup on the event loop failed (%s): using the thread path for a while", exc)
            raise Unavailable(str(exc)) from exc

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

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
async def reading(alias: str = "default") -> AsyncIterator[None]:
    """For the lifespan: a reader while the server runs (nothing unless it is PostgreSQL)."""
    global _reader
    settings_dict = connections.settings[alias]
    if settings_dict["ENGINE"] != POSTGRESQL_ENGINE:
        yield
        return
    reader = PostgresLoopReader(settings_dict)
    _reader = reader
    try:
        yield
    finally:
        if _reader is reader:
            _reader = None
        await reader.close()
