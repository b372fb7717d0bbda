"""Logging helpers: JSON-lines records (``LOG_FORMAT=json``) for log shippers, and one line
per kind of expected failure per interval instead of one (with a traceback) per request."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime


class JSONLinesFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class OncePerInterval:
    """Report each kind of failure at most once per interval, with how many were left out.

    An outage is one log line per kind and interval, not one per request.
    """

    def __init__(self, seconds: float = 30.0) -> None:
        self.seconds = seconds
        self._last: dict[str, float] = {}
        self._left_out: dict[str, int] = {}
        self._lock = threading.Lock()

    def due(self, kind: str) -> tuple[bool, int]:
        """Whether ``kind`` may be reported now, and how many reports of it were left out since the last."""
        now = time.monotonic()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last < self.seconds:
                self._left_out[kind] = self._left_out.get(kind, 0) + 1
                return False, 0
            self._last[kind] = now
            return True, self._left_out.pop(kind, 0)

    def reset(self) -> None:
        """Forget what was reported (tests start each outage afresh)."""
        with self._lock:
            self._last.clear()
            self._left_out.clear()

    def log(self, logger: logging.Logger, level: int, kind: str, message: str, *args: object) -> None:
        due, left_out = self.due(kind)
        if not due:
            return
        if left_out:
            message += " (%d more since the last report)"
            args = (*args, left_out)
        logger.log(level, message, *args)


class OutageLog(OncePerInterval):
    """:data:`OUTAGES`: also counts every failure (logged or left out) in the metrics, by service and kind."""

    def log(
        self, logger: logging.Logger, level: int, kind: str, message: str, *args: object, service: str = "database"
    ) -> None:
        from . import metrics  # not at import: the logging configuration loads this module

        metrics.record_outage(service, kind)
        super().log(logger, level, kind, message, *args)


# The one place expected failures of the database (``service="database"``) and the cache
# (``service="cache"``) are reported.
OUTAGES = OutageLog()


class ExpectedFailureFilter(logging.Filter):
    """For Django's loggers: a refused Host header (``django.security.DisallowedHost``) and a
    503 (a database outage, answered by ``oauthapp.errors``) are expected, not bugs. Keep one
    line per kind and interval, without the traceback; let every other record through."""

    def __init__(self, seconds: float = 30.0) -> None:
        super().__init__()
        self.once = OncePerInterval(seconds)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "django.security.DisallowedHost":
            kind = record.name
        elif getattr(record, "status_code", None) == 503:
            kind = "django.request:503"
        else:
            return True
        due, left_out = self.once.due(kind)
        if not due:
            return False
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage()} ({type(exc).__name__}: {exc})"
            record.args = ()
        if left_out:
            record.msg = f"{record.getMessage()} ({left_out} more since the last report)"
            record.args = ()
        record.exc_info = None
        record.exc_text = None
        return True
