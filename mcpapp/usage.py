"""Tool calls counted in memory and written to the database in batches, for the admin's usage page.

A call appends one tuple to an in-process list (no lock, no I/O on the request path).
Every ``MCPDEMO_USAGE_FLUSH_SECONDS``, and when the ``/mcp`` lifespan ends, a thread of
its own sums the list into tallies keyed by hour, user, client, tool and outcome and
writes them in one transaction: each key adds to its hourly :class:`~mcpapp.models.ToolUsage` row
(``UPDATE … SET calls = calls + n``), so several workers and nodes add up. When the
database does not answer, the tallies are kept for the next flush (one log line per
interval, :data:`mcpdemo.logs.OUTAGES`); a process holds at most ``MAX_PENDING_KEYS`` keys.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import DateTimeField, F, QuerySet, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from mcpdemo.logs import OUTAGES

from .conf import SWITCHES, conf
from .models import BUCKET_FIELDS, DURATION_BUCKETS, ToolUsage

logger = logging.getLogger(__name__)

MAX_PENDING_KEYS = 50_000
MAX_PENDING_CALLS = 200_000  # between two flushes (a few seconds)
_BOUNDS = tuple(bound for bound, _name in DURATION_BUCKETS[:-1])

Key = tuple[int, int, int, str, str]  # hour since the epoch (UTC), user id, application id, tool, outcome


@dataclass
class Tally:
    calls: int = 0
    total_ms: float = 0.0
    last: float = 0.0  # time.time() of the latest call
    buckets: list[int] = field(default_factory=lambda: [0] * len(DURATION_BUCKETS))

    def add(self, other: Tally) -> None:
        self.calls += other.calls
        self.total_ms += other.total_ms
        self.last = max(self.last, other.last)
        self.buckets = [a + b for a, b in zip(self.buckets, other.buckets, strict=True)]


Call = tuple[float, int, int, str, str, float]  # time.time(), user id, application id, tool, outcome, seconds


class UsageBuffer:
    """This process's calls since the last flush, and the tallies a failed flush kept.

    A call is only appended to a list (no lock, no arithmetic on the request path); the
    flush sums the list into tallies.
    """

    def __init__(self) -> None:
        self._calls: list[Call] = []
        self._pending: dict[Key, Tally] = {}
        self._lock = threading.Lock()  # the flush thread merges into the tallies
        self.dropped = 0

    def record(self, user_id: int, application_id: int, tool: str, outcome: str, seconds: float) -> None:
        calls = self._calls
        if len(calls) < MAX_PENDING_CALLS:
            calls.append((time.time(), user_id, application_id, tool, outcome, seconds))
        else:
            self.dropped += 1

    def take_calls(self) -> list[Call]:
        """The calls recorded so far (on the recording thread: the event loop)."""
        calls, self._calls = self._calls, []
        return calls

    def take(self, calls: list[Call] | None = None) -> dict[Key, Tally]:
        """The kept tallies with ``calls`` (by default, the calls recorded so far) summed in."""
        calls = self.take_calls() if calls is None else calls
        with self._lock:
            pending, self._pending = self._pending, {}
        for moment, user_id, application_id, tool, outcome, seconds in calls:
            key = (int(moment // 3600), user_id, application_id, tool, outcome)
            tally = pending.get(key)
            if tally is None:
                tally = pending[key] = Tally()
            ms = seconds * 1000.0
            tally.calls += 1
            tally.total_ms += ms
            tally.last = max(tally.last, moment)
            tally.buckets[bisect.bisect_left(_BOUNDS, ms)] += 1
        return pending

    def put_back(self, pending: dict[Key, Tally]) -> None:
        """Tallies a flush could not write, for the next one (as far as the limit allows)."""
        with self._lock:
            for key, tally in pending.items():
                mine = self._pending.get(key)
                if mine is not None:
                    mine.add(tally)
                elif len(self._pending) < MAX_PENDING_KEYS:
                    self._pending[key] = tally
                else:
                    self.dropped += tally.calls

    def __len__(self) -> int:
        return len(self._calls) + len(self._pending)


BUFFER = UsageBuffer()


def record(user_id: int | None, application_id: int | None, tool: str, outcome: str, seconds: float) -> None:
    """Count one tool call (a no-op with counting off, or without a user and client)."""
    if user_id is not None and application_id is not None and SWITCHES.usage_counting:
        BUFFER.record(user_id, application_id, tool, outcome, seconds)


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _add(key: Key, tally: Tally) -> None:
    hour, user_id, application_id, tool, outcome = key
    rows = ToolUsage.objects.filter(
        hour=_moment(hour * 3600), user_id=user_id, application_id=application_id, tool=tool, outcome=outcome
    )
    last = _moment(tally.last)
    increments = {
        "calls": F("calls") + tally.calls,
        "total_ms": F("total_ms") + tally.total_ms,
        "last_call": Greatest("last_call", Value(last, output_field=DateTimeField())),
        **{name: F(name) + count for name, count in zip(BUCKET_FIELDS, tally.buckets, strict=True) if count},
    }
    if rows.update(**increments):
        return
    try:
        with transaction.atomic():
            ToolUsage.objects.create(
                hour=_moment(hour * 3600),
                user_id=user_id,
                application_id=application_id,
                tool=tool,
                outcome=outcome,
                calls=tally.calls,
                total_ms=tally.total_ms,
                last_call=last,
                **dict(zip(BUCKET_FIELDS, tally.buckets, strict=True)),
            )
    except IntegrityError:
        rows.update(**increments)  # another process wrote the row first (or the user or client is gone)


def write(pending: dict[Key, Tally]) -> None:
    """Add ``pending`` to the database: one transaction, else (a user or client deleted meanwhile) key by key."""
    if not pending:
        return
    try:
        with transaction.atomic():
            for key, tally in pending.items():
                _add(key, tally)
    except IntegrityError:
        for key, tally in pending.items():
            with contextlib.suppress(IntegrityError), transaction.atomic():
                _add(key, tally)


def _write_or_keep(calls: list[Call]) -> None:
    """On the flush thread: sum ``calls`` into the kept tallies and write them, or keep them."""
    pending = BUFFER.take(calls)
    if not pending:
        return
    try:
        write(pending)
    except DatabaseError as exc:
        connection.close()  # the flush thread reconnects next time
        BUFFER.put_back(pending)
        OUTAGES.log(logger, logging.WARNING, "usage-flush", "tool usage not written, kept for the next try (%s)", exc)


_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="usage-flush")


def flush() -> None:
    """Write what this process counted so far, on this thread (tests, management commands)."""
    _write_or_keep(BUFFER.take_calls())


async def aflush() -> None:
    """Write what this process counted so far, on the flush thread."""
    calls = BUFFER.take_calls()
    if calls or len(BUFFER):
        await asyncio.get_running_loop().run_in_executor(_thread, _write_or_keep, calls)


@contextlib.asynccontextmanager
async def flushing() -> AsyncIterator[None]:
    """For the ``/mcp`` lifespan: flush every few seconds while serving, and once more at the end."""

    async def flush_periodically() -> None:
        while True:
            await asyncio.sleep(conf.USAGE_FLUSH_SECONDS)
            await aflush()

    task = asyncio.ensure_future(flush_periodically())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await aflush()


def expired(now: datetime | None = None) -> QuerySet[ToolUsage]:
    """Rows older than ``MCPDEMO_USAGE_RETENTION_DAYS`` (what ``cleanup_oauth`` removes)."""
    cutoff = (now or timezone.now()) - timedelta(days=conf.USAGE_RETENTION_DAYS)
    return ToolUsage.objects.filter(hour__lt=cutoff)
