"""What this server issues, defined once: grant types (the device grant for public clients
only), client authentication methods, and the lookup checksum under which DOT stores
every token (and we store codes).

DOT has no public function for the checksum (its ``TokenChecksumField`` computes it on
save); ``tests/unit/oauthapp/test_tokens.py`` fails if DOT ever stores something else.
"""

from __future__ import annotations

import hashlib

AUTHORIZATION_CODE = "authorization_code"
REFRESH_TOKEN = "refresh_token"  # noqa: S105 (a grant type name)
# RFC 8628: for public clients on a machine whose browser cannot reach them (SSH, containers).
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
# The grants this server issues tokens for, as RFC 7591 / RFC 8414 name them.
GRANT_TYPES = (AUTHORIZATION_CODE, REFRESH_TOKEN, DEVICE_CODE)
# How a client authenticates at the token endpoint (RFC 7591 §2).
AUTH_METHODS = ("none", "client_secret_basic", "client_secret_post")


def checksum(value: str) -> str:
    """The lookup checksum of a token or code: hex SHA-256, as DOT's ``token_checksum``."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()
