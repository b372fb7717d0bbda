"""The SQLite loop reader: reads on the calling thread, never waits, never writes."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import django.db.backends.sqlite3.base  # noqa: F401 (Django's SQLite converters, module-wide, also on a PostgreSQL run)
import pytest
from django.db import connection

from oauthapp.token_lookup import Unavailable
from oauthapp.token_lookup.sqlite import SQLiteLoopReader, loop_reader

# --- The reader on its own (a scratch database file) ----------------------------------


@pytest.fixture
def scratch(tmp_path: Path) -> str:
    path = str(tmp_path / "scratch.sqlite3")
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (v TEXT, at datetime, flag bool)")
        db.execute("INSERT INTO t VALUES ('hello', '2026-12-02 10:11:12.5', 1)")
    return path


async def test_the_reader_reads_with_placeholders_and_column_types_as_django_does(scratch: str) -> None:
    row = await SQLiteLoopReader(scratch).fetchone("SELECT v, at, flag FROM t WHERE v = %s", "hello")

    assert row is not None
    assert row[0] == "hello"
    assert row[1].isoformat() == "2026-12-02T10:11:12.500000"  # Django's converters, module-wide
    assert row[2] is True


async def test_the_reader_never_waits_for_a_lock(scratch: str) -> None:
    writer = sqlite3.connect(scratch, isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")  # rollback-journal mode: readers are locked out
    try:
        started = time.monotonic()
        with pytest.raises(Unavailable):
            await SQLiteLoopReader(scratch).fetchone("SELECT v FROM t WHERE v = %s", "hello")
        waited = time.monotonic() - started
    finally:
        writer.execute("ROLLBACK")
        writer.close()

    assert waited < 1  # it gave up at once (Django's connection would wait 20 s)


async def test_the_reader_cannot_write(scratch: str) -> None:
    with pytest.raises(Unavailable):
        await SQLiteLoopReader(scratch).fetchone("INSERT INTO t (v) VALUES (%s) RETURNING v", "written")

    with sqlite3.connect(scratch) as db:
        assert db.execute("SELECT count(*) FROM t").fetchone() == (1,)


async def test_the_reader_reconnects_after_a_failure(scratch: str) -> None:
    reader = SQLiteLoopReader(scratch)
    with pytest.raises(Unavailable):
        await reader.fetchone("SELECT nonsense FROM nowhere WHERE x = %s", "x")

    assert await reader.fetchone("SELECT v FROM t WHERE v = %s", "hello") == ("hello",)


# --- Which database has one ----------------------------------------------------------


def test_there_is_a_loop_reader_exactly_when_the_database_is_an_sqlite_file(settings: object) -> None:
    assert (loop_reader() is not None) == (connection.vendor == "sqlite")


def test_an_in_memory_database_has_no_loop_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.db import connections

    memory = {**connections.settings["default"], "ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
    monkeypatch.setitem(connections.settings, "default", memory)

    assert loop_reader() is None  # its data is private to each connection
