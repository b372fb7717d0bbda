"""The authorization request a person was shown, kept server-side until they decide.

The consent page carries only a signed id of the request; what it approves or denies is
the stored request, exactly as it passed validation when the page was shown. So a POST
that changes ``client_id``, ``redirect_uri``, ``scope``, ``code_challenge`` or
``resource`` changes nothing. A stored request is answered once, by the person it was
shown to, within :data:`MAX_AGE_SECONDS`.

The device flow's consent (:mod:`oauthapp.views.device`) is kept the same way, as a
request of kind ``"device"``: its id is good only on the device page, and an
authorization request's only on ``/authorize``.

Requests live in the person's session (no table, no clean-up job), at most
:data:`MAX_PENDING` at a time: several tabs may each have a consent page open.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any

from django.core import signing
from django.http import HttpRequest

# What DOT's AllowForm carries and its form_valid reads.
FIELDS = (
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "response_type",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "claims",
    "resource",
)
# What a device sign-in's consent page shows and its decision applies to.
DEVICE_FIELDS = ("client_id", "scope", "resource", "device_grant")
_FIELDS_OF = {"authorize": FIELDS, "device": DEVICE_FIELDS}
MAX_AGE_SECONDS = 600
MAX_PENDING = 10
SESSION_KEY = "oauthapp.consent_requests"
_signer = signing.TimestampSigner(salt="oauthapp.consent_requests")


def remember(request: HttpRequest, authorization_request: Mapping[str, Any], kind: str = "authorize") -> str:
    """Store the request shown to ``request.user``; return the signed id the form carries."""
    now = time.time()
    pending = {
        key: entry for key, entry in request.session.get(SESSION_KEY, {}).items() if entry.get("expires", 0) > now
    }
    for key in sorted(pending, key=lambda key: pending[key]["expires"])[: max(0, len(pending) - MAX_PENDING + 1)]:
        del pending[key]
    request_id = secrets.token_urlsafe(16)
    pending[request_id] = {
        "user": request.user.pk,
        "kind": kind,
        "expires": now + MAX_AGE_SECONDS,
        "fields": {name: authorization_request.get(name) for name in _FIELDS_OF[kind]},
    }
    request.session[SESSION_KEY] = pending
    return _signer.sign(request_id)


def take(request: HttpRequest, signed_id: str, kind: str = "authorize") -> dict[str, Any] | None:
    """The stored request ``signed_id`` names, removed so it cannot be answered twice; ``None``
    if the id is forged, expired, already used, of another kind, or belongs to someone else."""
    try:
        request_id = _signer.unsign(signed_id or "", max_age=MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    pending = dict(request.session.get(SESSION_KEY, {}))
    entry = pending.pop(request_id, None)
    if entry is None:
        return None
    request.session[SESSION_KEY] = pending
    if entry.get("user") != request.user.pk or entry.get("expires", 0) <= time.time():
        return None
    if entry.get("kind", "authorize") != kind:
        return None
    return dict(entry["fields"])
