"""Tool usage: counted in memory, written in batches that add up, kept through an outage, cleaned up."""

from __future__ import annotations

import logging
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import OperationalError
from django.utils import timezone
from oauth2_provider.models import get_application_model

from mcpapp import usage
from mcpapp.models import BUCKET_FIELDS, Outcome, ToolUsage
from mcpdemo.logs import OUTAGES

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def client_app(user: Any) -> Any:
    return get_application_model().objects.create(
        name="c", client_type="public", authorization_grant_type="authorization-code", redirect_uris="http://x/"
    )


def buckets(row: ToolUsage) -> dict[str, int]:
    return {name: getattr(row, name) for name in BUCKET_FIELDS if getattr(row, name)}


def test_calls_are_counted_per_key_with_their_durations(user: Any, client_app: Any) -> None:
    for seconds in (0.0004, 0.0004, 0.003, 0.2):
        usage.record(user.pk, client_app.pk, "slugify", Outcome.OK, seconds)
    usage.record(user.pk, client_app.pk, "slugify", Outcome.TOOL_ERROR, 0.0005)
    usage.flush()

    ok = ToolUsage.objects.get(outcome=Outcome.OK)
    assert (ok.calls, round(ok.total_ms, 3)) == (4, 203.8)
    assert buckets(ok) == {"le_1ms": 2, "le_5ms": 1, "le_250ms": 1}
    assert ToolUsage.objects.get(outcome=Outcome.TOOL_ERROR).calls == 1
    assert ok.hour == ok.last_call.replace(minute=0, second=0, microsecond=0)


def test_flushes_add_to_the_hours_row(user: Any, client_app: Any) -> None:
    usage.record(user.pk, client_app.pk, "slugify", Outcome.OK, 0.001)
    usage.flush()
    usage.record(user.pk, client_app.pk, "slugify", Outcome.OK, 20.0)
    usage.record(user.pk, client_app.pk, "slugify", Outcome.OK, 0.001)
    usage.flush()

    row = ToolUsage.objects.get()
    assert row.calls == 3
    assert buckets(row) == {"le_1ms": 2, "over_10s": 1}


def test_a_call_without_a_user_or_client_or_with_counting_off_is_not_counted(
    settings: Any, user: Any, client_app: Any
) -> None:
    usage.record(None, client_app.pk, "slugify", Outcome.OK, 0.001)
    usage.record(user.pk, None, "slugify", Outcome.OK, 0.001)
    settings.MCPDEMO_USAGE_COUNTING = False
    usage.record(user.pk, client_app.pk, "slugify", Outcome.OK, 0.001)

    assert len(usage.BUFFER) == 0


def test_an_outage_keeps_the_counts_for_the_next_flush_and_logs_once(
    user: Any, client_app: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    OUTAGES.reset()
    write = usage.write

    def failing(pending: Any) -> None:
        raise OperationalError("database is down")

    monkeypatch.setattr(usage, "write", failing)
    for _ in range(3):
        usage.record(user.pk, client_app.pk, "slugify", Outcome.OK, 0.001)
        with caplog.at_level(logging.WARNING, logger="mcpapp.usage"):
            usage.flush()
    monkeypatch.setattr(usage, "write", write)
    usage.flush()

    assert ToolUsage.objects.get().calls == 3
    lines = [record for record in caplog.records if record.name == "mcpapp.usage"]
    assert len(lines) == 1 and lines[0].exc_info is None


def test_counts_of_a_user_deleted_before_the_flush_are_dropped_and_the_rest_written(
    user: Any, other_user: Any, client_app: Any
) -> None:
    usage.record(user.pk, client_app.pk, "slugify", Outcome.OK, 0.001)
    usage.record(other_user.pk, client_app.pk, "slugify", Outcome.OK, 0.001)
    other_user.delete()
    usage.flush()

    assert list(ToolUsage.objects.values_list("user_id", "calls")) == [(user.pk, 1)]


def test_the_buffer_holds_a_bounded_number_of_calls_and_of_kept_tallies(
    user: Any, client_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(usage, "MAX_PENDING_CALLS", 3)
    monkeypatch.setattr(usage, "MAX_PENDING_KEYS", 2)
    buffer = usage.UsageBuffer()
    for tool in ("a", "b", "c", "a"):
        buffer.record(user.pk, client_app.pk, tool, Outcome.OK, 0.001)
    assert (len(buffer), buffer.dropped) == (3, 1)

    buffer.put_back(buffer.take())  # a failed flush keeps two of the three tallies

    assert (len(buffer), buffer.dropped) == (2, 2)


async def test_the_lifespan_flushes_what_is_left_when_it_ends(user: Any, client_app: Any) -> None:
    async with usage.flushing():
        usage.record(user.pk, client_app.pk, "slugify", Outcome.OK, 0.001)

    from asgiref.sync import sync_to_async

    assert await sync_to_async(lambda: ToolUsage.objects.get().calls)() == 1


def test_cleanup_removes_counts_past_the_retention_period(settings: Any, user: Any, client_app: Any) -> None:
    settings.MCPDEMO_USAGE_RETENTION_DAYS = 30
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    for days in (31, 29):
        ToolUsage.objects.create(
            hour=now - timedelta(days=days),
            user=user,
            application=client_app,
            tool="slugify",
            outcome=Outcome.OK,
            calls=1,
            last_call=now - timedelta(days=days),
        )
    out = StringIO()

    call_command("cleanup_oauth", stdout=out)

    assert [row.hour for row in ToolUsage.objects.all()] == [now - timedelta(days=29)]
    assert "1 hourly tool usage row(s)" in out.getvalue()
