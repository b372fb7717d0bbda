"""Our Application's grant rule: DOT's one grant per client, plus the device grant for a public
client that declared it."""

from __future__ import annotations

from typing import Any

import pytest

from oauthapp.models import Application
from oauthapp.tokens import DEVICE_CODE

pytestmark = pytest.mark.django_db


def client_with(client_type: str, metadata: Any) -> Application:
    return Application(
        client_type=client_type,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        client_metadata=metadata,
    )


@pytest.mark.parametrize(
    ("client_type", "metadata", "allowed"),
    [
        (Application.CLIENT_PUBLIC, {"grant_types": ["authorization_code", DEVICE_CODE]}, True),
        (Application.CLIENT_PUBLIC, {"grant_types": ["authorization_code", "refresh_token"]}, False),
        (Application.CLIENT_PUBLIC, {}, False),
        (Application.CLIENT_PUBLIC, {"grant_types": DEVICE_CODE}, False),  # a string, not a list
        (Application.CLIENT_CONFIDENTIAL, {"grant_types": [DEVICE_CODE]}, False),
    ],
    ids=["public-declared", "public-not-declared", "no-metadata", "not-a-list", "confidential"],
)
def test_the_device_grant_is_for_public_clients_that_declared_it(
    client_type: str, metadata: Any, allowed: bool
) -> None:
    application = client_with(client_type, metadata)

    assert application.allows_grant_type(DEVICE_CODE) is allowed
    assert application.allows_grant_type(Application.GRANT_AUTHORIZATION_CODE)  # the code flow, always
    assert not application.allows_grant_type(Application.GRANT_CLIENT_CREDENTIALS)
