"""Expected failures are one log line per kind and interval, without a traceback."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from mcpdemo.logs import ExpectedFailureFilter, OncePerInterval, OutageLog
from tests.support.metrics import Samples, value


def test_once_per_interval_reports_each_kind_once_and_counts_the_rest(caplog) -> None:
    once = OncePerInterval(seconds=60)
    logger = logging.getLogger("tests.once")
    with caplog.at_level(logging.WARNING, logger="tests.once"):
        for _ in range(5):
            once.log(logger, logging.WARNING, "redis", "cache down")
        once.log(logger, logging.WARNING, "database", "database down")

    assert [record.getMessage() for record in caplog.records] == ["cache down", "database down"]


def test_once_per_interval_says_how_many_were_left_out() -> None:
    once = OncePerInterval(seconds=0)
    assert once.due("x") == (True, 0)
    once.seconds = 60
    assert once.due("x") == (False, 0)
    assert once.due("x") == (False, 0)
    once.seconds = 0
    assert once.due("x") == (True, 2)


def _record(name: str, status_code: int | None = None) -> logging.LogRecord:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        record = logging.LogRecord(name, logging.ERROR, __file__, 1, "failed: %s", ("/token",), sys.exc_info())
    if status_code is not None:
        record.status_code = status_code
    return record


@pytest.mark.parametrize(("name", "status"), [("django.security.DisallowedHost", None), ("django.request", 503)])
def test_filter_keeps_one_expected_failure_per_interval_without_traceback(name: str, status: int | None) -> None:
    expected = ExpectedFailureFilter(seconds=60)
    records = [_record(name, status) for _ in range(4)]

    kept = [record for record in records if expected.filter(record)]

    assert len(kept) == 1
    assert kept[0].exc_info is None
    assert kept[0].getMessage() == "failed: /token (RuntimeError: boom)"


def test_filter_leaves_real_errors_alone() -> None:
    expected = ExpectedFailureFilter(seconds=60)
    records = [_record("django.request", 500) for _ in range(3)]

    assert all(expected.filter(record) for record in records)
    assert all(record.exc_info is not None for record in records)


def test_the_console_handler_filters_expected_failures(settings) -> None:
    handler_filters = settings.LOGGING["handlers"]["console"]["filters"]
    assert [settings.LOGGING["filters"][name]["()"] for name in handler_filters] == [
        "mcpdemo.logs.ExpectedFailureFilter"
    ]


def test_outages_are_counted_every_time_by_service_and_kind(metrics_on: Callable[[], Samples], caplog) -> None:
    outages = OutageLog(seconds=60)
    logger = logging.getLogger("tests.outages")
    with caplog.at_level(logging.WARNING, logger="tests.outages"):
        for _ in range(3):
            outages.log(logger, logging.WARNING, "ratelimit:ConnectionError", "cache down", service="cache")
        outages.log(logger, logging.WARNING, "mcp-token-check", "database down")

    assert len(caplog.records) == 2  # logged once per kind and interval...
    samples = metrics_on()  # ...counted every time
    assert value(samples, "mcpdemo_outages_total", service="cache", kind="ratelimit:ConnectionError") == 3
    assert value(samples, "mcpdemo_outages_total", service="database", kind="mcp-token-check") == 1
