"""Probes: /healthz says the process lives, /readyz that the database answers (and how the cache is)."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import OperationalError
from django.test import Client

from mcpdemo.logs import OUTAGES

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_touching_anything(client: Client, django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_database_and_cache(client: Client) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_readyz_is_503_when_the_database_is_down(client: Client) -> None:
    # The node can serve nothing without it.
    with mock.patch("mcpdemo.health.connection.cursor", side_effect=OperationalError("down")):
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"
    assert response["Retry-After"] == "5"


def test_readyz_is_ready_but_degraded_when_only_the_cache_is_down(client: Client, caplog) -> None:
    # Everything is still served without Redis (rate limits fail open): failing the probe
    # would take every node out of the balancer for it.
    OUTAGES._last.clear()  # noqa: SLF001 - our own helper, reset between tests
    with mock.patch("mcpdemo.health.cache.set", side_effect=ConnectionError("redis down")):
        answers = [client.get("/readyz") for _ in range(3)]

    assert [response.status_code for response in answers] == [200] * 3
    assert answers[0].json() == {"status": "degraded", "database": "ok", "cache": "unavailable"}
    warnings = [record for record in caplog.records if record.name == "mcpdemo.health"]
    assert len(warnings) == 1 and warnings[0].exc_info is None  # one line, no traceback
    assert "redis down" in warnings[0].getMessage()
