"""Token reads on the event loop itself, when the database is SQLite.

A read by unique index takes SQLite microseconds; handing it to a thread and back costs more
CPU than that (futures, wake-ups, the GIL changing hands). So the read runs through a
connection of its own on the calling thread and never waits: the connection is query-only
with a zero busy timeout, and a database that is locked (or fails in any way) raises
``Unavailable``, upon which the caller reads on a thread with Django's connection, its
timeout and its error handling. In WAL mode readers are not blocked by writers, so that is rare.

The connection decodes column types exactly as Django's SQLite connections do (the same
``detect_types``; Django registers the converters module-wide), so rows come back as the
ORM would see them before its own converters.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

from . import Unavailable

SQLITE_ENGINE = "django.db.backends.sqlite3"


@functools.lru_cache(maxsize=4)
def _sqlite_placeholders(sql: str) -> str:
    return sql.replace("%s", "?")


class SQLiteLoopReader:
    """One query-only connection, used by one caller at a time, never waiting."""

    def __init__(self, database: str) -> None:
        self.database = database
        self._connection: sqlite3.Connection | None = None
        self._in_use = threading.Lock()  # several event loops (threads) may share a process

    async def fetchone(self, sql: str, token_checksum: str) -> Sequence[Any] | None:
        # async only to match the PostgreSQL reader: it never awaits, it answers or gives up.
        if not self._in_use.acquire(blocking=False):
            raise Unavailable("the reader is busy in another thread")
        try:
            if self._connection is None:
                self._connection = self._connect()
            row: Sequence[Any] | None = self._connection.execute(
                _sqlite_placeholders(sql), (token_checksum,)
            ).fetchone()
            return row
        except sqlite3.Error as exc:
            self.close()  # reconnect next time: the file may have been replaced
            raise Unavailable(str(exc)) from exc
        finally:
            self._in_use.release()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.database,
            timeout=0,
            uri=True,  # as Django connects
            check_same_thread=False,
            detect_types=sqlite3.PARSE_DECLTYPES | sqlite3.PARSE_COLNAMES,  # as Django connects
        )
        connection.execute("PRAGMA query_only = 1")
        return connection


_reader: SQLiteLoopReader | None = None


def loop_reader(alias: str = DEFAULT_DB_ALIAS) -> SQLiteLoopReader | None:
    """The reader for the database if it is an SQLite file, else ``None``.

    Reads the database settings, not ``connections[alias]``: on the event loop Django's
    connections are per task, and each request would build a new database wrapper. An
    in-memory database (``:memory:``, ``mode=memory``) is private to its connections: no reader.
    """
    global _reader
    settings_dict = connections.settings[alias]
    if settings_dict["ENGINE"] != SQLITE_ENGINE:
        return None
    database = str(settings_dict["NAME"])
    if database == ":memory:" or "mode=memory" in database:
        return None
    if _reader is None or _reader.database != database:  # tests switch to a test database
        if _reader is not None:
            _reader.close()
        _reader = SQLiteLoopReader(database)
    return _reader
