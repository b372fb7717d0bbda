"""``manage.py cleanup_oauth``: what an open registration endpoint leaves behind goes away."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from oauthapp.models import Application, ConsumedCode, DeviceGrant, RefreshReplay
from tests.support.device import DEVICE_REGISTRATION, start
from tests.support.oauth import LOOPBACK_REDIRECT, refresh, register

pytestmark = pytest.mark.django_db


def _age(client_id: str, days: int) -> None:
    Application.objects.filter(client_id=client_id).update(created=timezone.now() - timedelta(days=days))


def _register(client: Client) -> str:
    return register(client, {"redirect_uris": [LOOPBACK_REDIRECT], "token_endpoint_auth_method": "none"})["client_id"]


def _remaining(*client_ids: str) -> set[str]:
    return set(Application.objects.filter(client_id__in=client_ids).values_list("client_id", flat=True))


def test_removes_self_registered_clients_that_never_got_a_token_after_a_day(client: Client) -> None:
    abandoned, recent = _register(client), _register(client)
    _age(abandoned, 2)

    call_command("cleanup_oauth", stdout=StringIO())

    assert _remaining(abandoned, recent) == {recent}


def test_keeps_clients_in_use_blocked_ones_and_admin_created_ones(client: Client, tokens: dict[str, Any]) -> None:
    blocked = _register(client)
    Application.objects.filter(client_id=blocked).update(blocked_at=timezone.now())
    admin_created = Application.objects.create(
        name="internal", client_type="public", authorization_grant_type="authorization-code",
        redirect_uris=LOOPBACK_REDIRECT,
    ).client_id  # fmt: skip
    for client_id in (tokens["client_id"], blocked, admin_created):
        _age(client_id, 400)

    call_command("cleanup_oauth", stdout=StringIO())

    assert _remaining(tokens["client_id"], blocked, admin_created) == {tokens["client_id"], blocked, admin_created}


def test_dry_run_removes_nothing(client: Client) -> None:
    abandoned = _register(client)
    _age(abandoned, 30)
    out = StringIO()

    call_command("cleanup_oauth", "--dry-run", stdout=out)

    assert "would remove 1" in out.getvalue()
    assert _remaining(abandoned) == {abandoned}


def test_forgets_expired_replay_records(signed_in: Client, tokens: dict[str, Any]) -> None:
    refresh(signed_in, tokens["client_id"], tokens["refresh_token"])
    ConsumedCode.objects.update(expires=timezone.now() - timedelta(seconds=1))
    RefreshReplay.objects.update(expires=timezone.now() - timedelta(seconds=1))

    call_command("cleanup_oauth", stdout=StringIO())

    assert not ConsumedCode.objects.exists()
    assert not RefreshReplay.objects.exists()


def test_forgets_expired_device_sign_ins_only(client: Client) -> None:
    client_id = register(client, DEVICE_REGISTRATION)["client_id"]
    expired, waiting = (start(client, client_id).json()["device_code"] for _ in range(2))
    DeviceGrant.objects.filter(device_code=expired).update(expires=timezone.now() - timedelta(seconds=1))

    call_command("cleanup_oauth", stdout=StringIO())

    assert list(DeviceGrant.objects.values_list("device_code", flat=True)) == [waiting]


def test_unused_days_can_be_raised(client: Client) -> None:
    kept = _register(client)
    _age(kept, 2)

    call_command("cleanup_oauth", "--unused-days", "7", stdout=StringIO())

    assert _remaining(kept) == {kept}
