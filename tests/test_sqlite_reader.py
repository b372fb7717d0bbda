"""On SQLite, /mcp token checks read on the event loop and never wait; anything else takes the thread path."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from mcpapp import auth
from mcpapp.sqlite_reader import LoopReader, Unavailable, loop_reader
from oauthapp.models import Connection
from tests.oauth import BASE, MCP_URL

on_sqlite = pytest.mark.skipif(connection.vendor != "sqlite", reason="the loop reader is for SQLite only")


# --- The reader on its own (a scratch database file) ----------------------------------


@pytest.fixture
def scratch(tmp_path: Path) -> str:
    path = str(tmp_path / "scratch.sqlite3")
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (v TEXT)")
        db.execute("INSERT INTO t VALUES ('hello')")
    return path


def test_the_reader_reads(scratch: str) -> None:
    assert LoopReader(scratch).fetchone("SELECT v FROM t WHERE v = ?", ("hello",)) == ("hello",)


def test_the_reader_never_waits_for_a_lock(scratch: str) -> None:
    writer = sqlite3.connect(scratch, isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")  # rollback-journal mode: readers are locked out
    try:
        started = time.monotonic()
        with pytest.raises(Unavailable):
            LoopReader(scratch).fetchone("SELECT v FROM t", ())
        waited = time.monotonic() - started
    finally:
        writer.execute("ROLLBACK")
        writer.close()

    assert waited < 1  # it gave up at once (Django's connection would wait 20 s)


def test_the_reader_cannot_write(scratch: str) -> None:
    with pytest.raises(Unavailable):
        LoopReader(scratch).fetchone("INSERT INTO t VALUES ('written') RETURNING v", ())

    with sqlite3.connect(scratch) as db:
        assert db.execute("SELECT count(*) FROM t").fetchone() == (1,)


def test_the_reader_reconnects_after_a_failure(scratch: str) -> None:
    reader = LoopReader(scratch)
    with pytest.raises(Unavailable):
        reader.fetchone("SELECT nonsense FROM nowhere", ())

    assert reader.fetchone("SELECT v FROM t", ()) == ("hello",)


# --- Token checks through it -----------------------------------------------------------

uses_database = pytest.mark.django_db(transaction=True)


def test_there_is_a_loop_reader_exactly_when_the_database_is_sqlite() -> None:
    assert (loop_reader() is not None) == (connection.vendor == "sqlite")


@on_sqlite
@uses_database
async def test_on_sqlite_a_token_check_needs_no_thread(tokens: dict[str, Any]) -> None:
    with mock.patch.object(auth, "_check_token_and_release", side_effect=AssertionError("took the thread path")):
        accepted = await auth.verify_token(tokens["access_token"], MCP_URL, BASE)

    assert accepted is not None
    assert accepted.client_id == tokens["client_id"]


@on_sqlite
@uses_database
async def test_the_loop_path_refuses_what_the_thread_path_refuses(tokens: dict[str, Any]) -> None:
    expire = sync_to_async(get_access_token_model().objects.filter(user__isnull=False).update)

    assert await auth.verify_token(tokens["access_token"], MCP_URL, BASE) is not None
    assert await auth.verify_token(tokens["access_token"], MCP_URL.replace("mcp", "other"), BASE) is None
    assert await auth.verify_token("not-a-token", MCP_URL, BASE) is None
    await expire(expires=timezone.now())
    assert await auth.verify_token(tokens["access_token"], MCP_URL, BASE) is None


@uses_database
async def test_a_reader_that_cannot_answer_hands_over_to_the_thread_path(tokens: dict[str, Any]) -> None:
    thread_path = mock.Mock(wraps=auth._check_token_and_release)
    with (
        mock.patch.object(LoopReader, "fetchone", side_effect=Unavailable("database is locked")),
        mock.patch.object(auth, "_check_token_and_release", thread_path),
    ):
        accepted = await auth.verify_token(tokens["access_token"], MCP_URL, BASE)

    assert accepted is not None
    thread_path.assert_called_once()


@uses_database
async def test_a_use_seen_on_the_loop_is_recorded_by_a_checking_thread(tokens: dict[str, Any]) -> None:
    last_used = sync_to_async(lambda: Connection.objects.get().last_used_at)
    assert await last_used() is None

    assert await auth.verify_token(tokens["access_token"], MCP_URL, BASE) is not None

    for _ in range(50):  # written in the background, off the request path
        if await last_used() is not None:
            break
        await asyncio.sleep(0.1)
    assert await last_used() is not None


@on_sqlite
@uses_database
async def test_a_check_during_shutdown_still_answers_without_recording_the_use(tokens: dict[str, Any]) -> None:
    with mock.patch.object(auth._checker, "submit", side_effect=RuntimeError("cannot schedule new futures")):
        accepted = await auth.verify_token(tokens["access_token"], MCP_URL, BASE)

    assert accepted is not None
