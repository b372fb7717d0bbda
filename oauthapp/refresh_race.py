"""Two refreshes with one refresh token, a few seconds apart, are a race, not an attack.

VS Code with two windows (or any client with parallel sessions) may present the same
refresh token twice at once. With rotation and reuse detection alone the second
request would revoke the whole token family and sign the user out. Instead, the
answer to the first refresh is kept for ``MCPDEMO_REFRESH_RACE_SECONDS``, encrypted
under a key derived from the old refresh token (itself stored only as a checksum),
and a repeat within that window gets the same answer. A repeat after the window
is a replay, and DOT's reuse protection revokes the family.

Only a *rotated* token coming back is a replay (whoever holds its successor is not the
one presenting it). A token revoked without a successor (Disconnect, an administrator's
revoke, a blocked client, RFC 7009) is the client not yet knowing it was signed out: its
next refresh is logged as ``refresh_refused`` with the reason, not as an attack.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import models
from django.http import HttpRequest
from django.utils import timezone
from oauth2_provider.models import get_refresh_token_model

from . import audit
from .conf import conf
from .models import AuditEvent, RefreshReplay
from .tokens import checksum


def _key(refresh_token: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=settings.SECRET_KEY.encode(), info=b"mcpdemo refresh replay"
    ).derive(refresh_token.encode("utf-8"))


def seal(refresh_token: str, client_id: str, body: bytes) -> bytes:
    nonce = os.urandom(12)
    plaintext = json.dumps({"client_id": client_id, "body": body.decode("utf-8")}).encode()
    return nonce + AESGCM(_key(refresh_token)).encrypt(nonce, plaintext, checksum(refresh_token).encode())


def unseal(refresh_token: str, sealed: bytes) -> dict[str, Any] | None:
    try:
        plaintext = AESGCM(_key(refresh_token)).decrypt(sealed[:12], sealed[12:], checksum(refresh_token).encode())
    except (InvalidTag, ValueError):
        return None
    return json.loads(plaintext)


def lock_refresh_token(refresh_token: str) -> list[Any]:
    """Lock the presented token's rows until the transaction ends: concurrent refreshes queue here."""
    return list(get_refresh_token_model().objects.select_for_update().filter(token_checksum=checksum(refresh_token)))


def earlier_answer(refresh_token: str, client_id: str) -> bytes | None:
    """The body of a refresh with this token answered moments ago, if it still holds."""
    replay = RefreshReplay.objects.filter(
        refresh_token_checksum=checksum(refresh_token), expires__gt=timezone.now()
    ).first()
    if replay is None:
        return None
    sealed = unseal(refresh_token, bytes(replay.ciphertext))
    if sealed is None or sealed["client_id"] != client_id:
        return None
    body = sealed["body"]
    # Only while what it handed out is still alive (not revoked or rotated since).
    issued = json.loads(body).get("refresh_token", "")
    alive = get_refresh_token_model().objects.filter(token_checksum=checksum(issued), revoked__isnull=True)
    return body.encode() if alive.exists() else None


def remember(refresh_token: str, client_id: str, body: bytes) -> None:
    RefreshReplay.objects.update_or_create(
        refresh_token_checksum=checksum(refresh_token),
        defaults={
            "ciphertext": seal(refresh_token, client_id, body),
            "expires": timezone.now() + timedelta(seconds=conf.REFRESH_RACE_SECONDS),
        },
    )


REASON_WINDOW = timedelta(minutes=1)


def was_rotated(row: Any) -> bool:
    """Whether a refresh token was replaced by a later one of its family (rotation), not just revoked."""
    if not row.token_family:
        return False
    return get_refresh_token_model().objects.filter(token_family=row.token_family, pk__gt=row.pk).exists()


def revocation_reason(row: Any) -> str:
    """Why a refresh token was revoked, in words, from the latest revocation the audit log holds."""
    application = row.application
    if application is not None and application.is_blocked:
        return "client blocked"
    event = (
        # Some paths record the event just before revoking: allow for that.
        AuditEvent.objects.filter(
            application=application,
            kind=audit.Kind.TOKEN_REVOKED,
            created__gte=row.revoked - REASON_WINDOW,
        )
        .filter(models.Q(user=row.user) | models.Q(user__isnull=True))
        .order_by("created")
        .first()
        if row.revoked
        else None
    )
    if event is None:
        return "revoked"
    reasons: dict[str, str] = {
        AuditEvent.Actor.ADMIN: "revoked by an administrator",
        AuditEvent.Actor.USER: "disconnected by the user",
        AuditEvent.Actor.CLIENT: "revoked by the client",
    }
    return reasons.get(event.actor, "revoked")


def record_refused_refresh(request: HttpRequest, rows: list[Any]) -> None:
    """Audit a refresh with a revoked token: reuse (an alarm) if it was rotated, else a refusal with the reason."""
    row = next(row for row in rows if row.revoked)
    if was_rotated(row):
        kind = audit.Kind.REFRESH_REUSE_DETECTED
        details = {"action": "a rotated refresh token was presented again; its family is revoked"}
    else:
        kind, details = audit.Kind.REFRESH_REFUSED, {"reason": revocation_reason(row)}
    audit.record(kind, actor=audit.Actor.CLIENT, request=request, user=row.user, application=row.application, **details)
