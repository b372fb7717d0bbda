"""Token lookups on the event loop itself, when the database is SQLite.

A lookup by unique index takes SQLite ~20 µs; handing it to a thread and back costs the
server ~300 µs of CPU (futures, wake-ups, the GIL changing hands). So on SQLite the /mcp
token check reads through its own connection on the calling thread, and never waits:
the connection is query-only with a zero busy timeout, and a database that is locked
(or fails in any way) raises ``Unavailable``, upon which the caller takes the thread
path with Django's connection, its timeout and its error handling. In WAL mode readers
are not blocked by writers, so that path is rare.

PostgreSQL (a network round trip per query) always takes the thread path.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
import time
from typing import Any

from django.db import connections

SQLITE_ENGINE = "django.db.backends.sqlite3"


class Unavailable(Exception):
    """The reader cannot answer now without waiting; use the thread path."""


class LoopReader:
    """One query-only SQLite connection, used by one caller at a time, never waiting."""

    vendor = "sqlite"

    def __init__(self, database: str) -> None:
        self.database = database
        self._connection: sqlite3.Connection | None = None
        self._in_use = threading.Lock()  # several event loops (threads) may share a process

    async def fetchone(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        # async only to match the PostgreSQL reader: it never awaits, it answers or gives up.
        if not self._in_use.acquire(blocking=False):
            raise Unavailable("the reader is busy in another thread")
        try:
            if self._connection is None:
                self._connection = self._connect()
            return self._connection.execute(sql, params).fetchone()
        except sqlite3.Error as exc:
            self.close()  # reconnect next time: the file may have been replaced
            raise Unavailable(str(exc)) from exc
        finally:
            self._in_use.release()

    @staticmethod
    def now() -> str:
        """The current time as Django's SQLite backend stores datetimes (USE_TZ: naive UTC text)."""
        return _utc_text(time.time())

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _connect(self) -> sqlite3.Connection:
        # uri=True as Django does: its test database is "file:...?mode=memory&cache=shared".
        # No detect_types: values come back as SQLite stores them (datetimes as text).
        connection = sqlite3.connect(self.database, timeout=0, uri=True, check_same_thread=False)
        connection.execute("PRAGMA query_only = 1")
        # Only matters in shared-cache mode (Django's in-memory test database), where a
        # reader takes table locks that make a concurrent writer fail at once (no busy
        # wait). Uncommitted reads take none. A file database in WAL mode ignores it.
        connection.execute("PRAGMA read_uncommitted = 1")
        return connection


@functools.lru_cache(maxsize=2)
def _utc_second(second: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second))


def _utc_text(timestamp: float) -> str:
    """``str(datetime)`` of a UTC timestamp, formatting its second once (every request asks)."""
    second = int(timestamp)
    micro = int((timestamp - second) * 1_000_000)
    return f"{_utc_second(second)}.{micro:06d}" if micro else _utc_second(second)


_reader: LoopReader | None = None


def loop_reader(alias: str = "default") -> LoopReader | None:
    """The reader for the default database if it is SQLite, else ``None``.

    Reads the database settings, not ``connections[alias]``: on the event loop Django's
    connections are per task, and each request would build a new database wrapper.
    """
    global _reader
    settings_dict = connections.settings[alias]
    if settings_dict["ENGINE"] != SQLITE_ENGINE:
        return None
    database = settings_dict["NAME"]
    if _reader is None or _reader.database != database:  # tests switch to a test database
        _reader = LoopReader(str(database))  # the old one closes when it is collected
    return _reader
