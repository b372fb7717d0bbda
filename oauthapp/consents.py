"""A user's standing authorization of a client: recorded on consent, used on /mcp, revoked at will.

Revoking goes through DOT's own token models: ``RefreshToken.revoke()`` marks the
refresh token revoked (the tombstone reuse detection needs) and deletes the access
token bound to it; access tokens left without a refresh token are deleted. The /mcp
check reads the token table on every request, so a revocation is effective at once.
The client's RFC 7592 registration token (no user) is left alone: the client stays
registered and can ask the user again.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_device_grant_model, get_refresh_token_model

from .models import Consent

logger = logging.getLogger(__name__)

# /mcp records a connection's last use at most this often (one UPDATE, not one per call).
LAST_USED_RESOLUTION_SECONDS = 60
MAX_REVOKE_PASSES = 5


def remember_consent(user: Any, application: Any, scope: str) -> Consent:
    """Create or refresh the user's connection to ``application`` after they pressed Allow."""
    consent, _created = Consent.objects.update_or_create(
        user=user,
        application=application,
        defaults={"scope": scope, "last_authorized_at": timezone.now()},
    )
    return consent


def revoke_tokens(application: Any, user: Any = None) -> int:
    """Revoke every user token of ``application`` (of ``user`` only, if given); return how many."""
    refresh_tokens = get_refresh_token_model().objects.filter(application=application, revoked__isnull=True)
    access_tokens = get_access_token_model().objects.filter(application=application, user__isnull=False)
    if user is not None:
        refresh_tokens = refresh_tokens.filter(user=user)
        access_tokens = access_tokens.filter(user=user)
    with transaction.atomic():
        revoked = access_tokens.count()
        # A refresh racing with us can rotate a token while we wait for its row lock; its
        # successor is committed by then, so look again until nothing live is left.
        for _pass in range(MAX_REVOKE_PASSES):
            live = list(refresh_tokens.all())  # a fresh query each pass, not the cache
            if not live:
                break
            for refresh_token in live:
                refresh_token.revoke()  # also deletes its access token
                revoked += 1
        # Access tokens whose refresh token was already rotated or revoked.
        access_tokens.delete()
        # Device sign-ins allowed but not yet collected by the device: they would still
        # become tokens at the next poll.
        DeviceGrant = get_device_grant_model()
        approved = DeviceGrant.objects.filter(client_id=application.client_id, status=DeviceGrant.AUTHORIZED)
        (approved if user is None else approved.filter(user=user)).delete()
    return revoked


def disconnect(consent: Consent) -> int:
    """Revoke the user's tokens for the consent's client and forget the consent."""
    with transaction.atomic():
        revoked = revoke_tokens(consent.application, user=consent.user)
        consent.delete()
    return revoked


def forget_consents(application: Any) -> None:
    """After an administrator revoked every token of a client, nobody is connected to it."""
    Consent.objects.filter(application=application).delete()


# (user id, application id) → monotonic time this process last passed the use on to the
# shared cache. Checked first, so a busy connection costs the cache (Redis: a round trip)
# one lookup a minute per process rather than one per /mcp request.
_noted_here: dict[tuple[int, int], float] = {}
_NOTED_HERE_LIMIT = 10_000


def forget_local_use_marks() -> None:
    """Drop this process's throttle marks (tests start from a clean slate with them)."""
    _noted_here.clear()


def claim_use_note(user_id: int, application_id: int) -> bool:
    """Whether this process should record a use of the connection now (then marks it noted).

    A dictionary lookup, no I/O: safe on the event loop.
    """
    key = (user_id, application_id)
    now = time.monotonic()
    if now - _noted_here.get(key, -LAST_USED_RESOLUTION_SECONDS) < LAST_USED_RESOLUTION_SECONDS:
        return False
    if len(_noted_here) >= _NOTED_HERE_LIMIT:
        _noted_here.clear()  # a bound, not an LRU: at worst a few extra cache lookups
    _noted_here[key] = now
    return True


def record_use(user_id: int, application_id: int) -> None:
    """Write the connection's last use, unless another process did within the minute.

    Bookkeeping never fails a request, nor leaves an unretrieved error behind.
    """
    try:
        if not cache.add(f"mcpdemo:connection-used:{user_id}:{application_id}", 1, LAST_USED_RESOLUTION_SECONDS):
            return
        Consent.objects.filter(user_id=user_id, application_id=application_id).update(last_used_at=timezone.now())
    except Exception:  # the cache (Redis) or the database is unavailable
        logger.warning("could not record the last use of connection user=%s client=%s", user_id, application_id)


def note_use(user_id: int, application_id: int) -> None:
    """Record that the connection was used now, at most once a minute (throttled in the cache).

    Runs on the /mcp request path: it costs a dictionary lookup, one cache lookup a minute
    per process, and one UPDATE a minute per connection.
    """
    if claim_use_note(user_id, application_id):
        record_use(user_id, application_id)
