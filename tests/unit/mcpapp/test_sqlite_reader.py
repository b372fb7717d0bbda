"""The SQLite loop reader: reads on the calling thread, never waits, never writes (see also test_auth.py)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from django.db import connection

from mcpapp.sqlite_reader import LoopReader, Unavailable, loop_reader

# --- The reader on its own (a scratch database file) ----------------------------------


@pytest.fixture
def scratch(tmp_path: Path) -> str:
    path = str(tmp_path / "scratch.sqlite3")
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (v TEXT)")
        db.execute("INSERT INTO t VALUES ('hello')")
    return path


async def test_the_reader_reads(scratch: str) -> None:
    assert await LoopReader(scratch).fetchone("SELECT v FROM t WHERE v = ?", ("hello",)) == ("hello",)


async def test_the_reader_never_waits_for_a_lock(scratch: str) -> None:
    writer = sqlite3.connect(scratch, isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")  # rollback-journal mode: readers are locked out
    try:
        started = time.monotonic()
        with pytest.raises(Unavailable):
            await LoopReader(scratch).fetchone("SELECT v FROM t", ())
        waited = time.monotonic() - started
    finally:
        writer.execute("ROLLBACK")
        writer.close()

    assert waited < 1  # it gave up at once (Django's connection would wait 20 s)


async def test_the_reader_cannot_write(scratch: str) -> None:
    with pytest.raises(Unavailable):
        await LoopReader(scratch).fetchone("INSERT INTO t VALUES ('written') RETURNING v", ())

    with sqlite3.connect(scratch) as db:
        assert db.execute("SELECT count(*) FROM t").fetchone() == (1,)


async def test_the_reader_reconnects_after_a_failure(scratch: str) -> None:
    reader = LoopReader(scratch)
    with pytest.raises(Unavailable):
        await reader.fetchone("SELECT nonsense FROM nowhere", ())

    assert await reader.fetchone("SELECT v FROM t", ()) == ("hello",)


# --- Which database has one ----------------------------------------------------------


def test_there_is_a_loop_reader_exactly_when_the_database_is_sqlite() -> None:
    assert (loop_reader() is not None) == (connection.vendor == "sqlite")
