"""User codes of the device flow (RFC 8628 §6.1), and the oauthlib endpoint that hands them out.

A user code is typed by a person, often from another screen: eight letters from an
alphabet of twenty consonants (no vowels, so no words; no 0/O or 1/I to confuse), shown
as ``BCDF-GHJK``. What a person types is compared case- and dash-insensitively, and
spaces or other separators are ignored. Eight of twenty letters are about 34.5 bits;
with a ten-minute lifetime and the guessing limits of :mod:`oauthapp.ratelimit`, a
guess is hopeless (RFC 8628 §5.1).
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from oauthlib.oauth2.rfc8628.endpoints.pre_configured import DeviceApplicationServer

from .conf import conf

ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
LENGTH = 8
GROUP = 4
_NOT_CODE = re.compile(r"[^A-Z]")


def generate_user_code() -> str:
    """DOT's ``OAUTH_DEVICE_USER_CODE_GENERATOR``: a new user code, as the client shows it."""
    return format_user_code("".join(secrets.choice(ALPHABET) for _ in range(LENGTH)))


def format_user_code(letters: str) -> str:
    return "-".join(letters[i : i + GROUP] for i in range(0, len(letters), GROUP))


def normalise_user_code(typed: str) -> str | None:
    """What a person typed, as stored (``BCDF-GHJK``); ``None`` if it cannot be a user code."""
    letters = _NOT_CODE.sub("", (typed or "")[:64].upper())
    if len(letters) != LENGTH or any(letter not in ALPHABET for letter in letters):
        return None
    return format_user_code(letters)


class DeviceServer(DeviceApplicationServer):
    """oauthlib's device authorization server (the one DOT uses) with our lifetime and polling
    interval, read when asked so that settings overrides apply."""

    def create_device_authorization_response(self, *args: Any, **kwargs: Any) -> tuple[dict, dict, int]:
        headers, data, status = super().create_device_authorization_response(*args, **kwargs)
        # oauthlib 4 echoes the resolved scope, which is not an RFC 8628 §3.2 field and which
        # DOT 3.4's view cannot take (its DeviceCodeResponse has no such field); DOT stores the
        # scope itself.
        data.pop("scope", None)
        return headers, data, status

    @property
    def expires_in(self) -> int:
        return conf.DEVICE_CODE_SECONDS

    @property
    def interval(self) -> int:
        return conf.DEVICE_POLL_SECONDS
