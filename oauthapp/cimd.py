"""Client ID Metadata Documents: DOT's SSRF-hardened fetcher, made to accept real clients.

DOT requires a document to declare exactly one non-refresh grant. VS Code's own
document also lists the device-code grant: DOT is given the code grant only, and the
declared grant types are kept on the client (``client_metadata["grant_types"]``, as a
self-registered client's), so the device grant is open to it (``Application.allows_grant_type``).
Per the CIMD draft the server uses what it supports and ignores the rest. Everything
else of DOT's fetcher stays: https only, public addresses only (pinned), no redirects,
size and time limits, back-off on failure. The client's name is cleaned like a
self-registered one's.

DOT builds and saves the Application right after the fetch, in the same thread, and
has no hook between the two: the fetcher leaves the grant types in a context variable
that :func:`keep_declared_grant_types` (a ``pre_save`` receiver) stores on that save.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from django.db.models.signals import pre_save
from django.dispatch import receiver
from oauth2_provider.cimd import CIMDError, SafeMetadataFetcher

from . import display
from .models import Application
from .registration import granted_types
from .tokens import GRANT_TYPES, REFRESH_TOKEN

# The grant types of the document just fetched, keyed by its client_id.
_declared: ContextVar[tuple[str, list[str]] | None] = ContextVar("oauthapp_cimd_declared", default=None)


class MCPMetadataFetcher(SafeMetadataFetcher):
    def fetch(self, client_id: str) -> tuple[dict[str, Any], int]:
        metadata, max_age = super().fetch(client_id)
        grant_types = metadata.get("grant_types", ["authorization_code"])
        if isinstance(grant_types, list):
            supported = [grant for grant in grant_types if grant in GRANT_TYPES]
            if "authorization_code" not in supported:
                raise CIMDError("client metadata does not offer the authorization_code grant")
            _declared.set((client_id, granted_types(supported)))
            # DOT's model holds one grant: the code grant (refresh comes with it).
            metadata = {**metadata, "grant_types": [g for g in supported if g in ("authorization_code", REFRESH_TOKEN)]}
        if isinstance(metadata.get("client_name"), str):
            # Shown to people: no bidi overrides or invisible characters (oauthapp.display).
            metadata = {**metadata, "client_name": display.clean_text(metadata["client_name"])}
        return metadata, max_age


@receiver(pre_save, sender=Application)
def keep_declared_grant_types(sender: Any, instance: Application, **kwargs: Any) -> None:
    declared = _declared.get()
    if declared is None or instance.registration_source != Application.RegistrationSource.CIMD:
        return
    client_id, grant_types = declared
    if instance.client_id == client_id:
        instance.client_metadata = {**(instance.client_metadata or {}), "grant_types": grant_types}
        _declared.set(None)
