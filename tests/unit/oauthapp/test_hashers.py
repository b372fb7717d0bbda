"""Client secrets are hashed without key stretching; users' passwords keep it."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.hashers import check_password, identify_hasher
from django.test import Client

import mcpdemo.settings as project_settings
from oauthapp.models import Application
from tests.support.oauth import SDK_REGISTRATION, register

pytestmark = pytest.mark.django_db


def test_generated_client_secrets_use_the_single_round_hasher(client: Client) -> None:
    registered = register(client, SDK_REGISTRATION)

    stored = Application.objects.get(client_id=registered["client_id"]).client_secret

    assert identify_hasher(stored).algorithm == "pbkdf2_sha256_client_secret"
    assert check_password(registered["client_secret"], stored)
    assert not check_password(registered["client_secret"] + "x", stored)


def test_user_passwords_keep_the_stretched_default(settings: Any, django_user_model: Any) -> None:
    # The tests hash with MD5 (tests/settings.py); production's list is the project's.
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS
    user = django_user_model.objects.create_user("carol", password="a long enough password")
    hasher = identify_hasher(user.password)

    assert hasher.algorithm == "pbkdf2_sha256"
    assert hasher.iterations >= 1_000_000
