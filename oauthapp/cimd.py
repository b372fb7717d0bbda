"""Client ID Metadata Documents: DOT's SSRF-hardened fetcher, made to accept real clients.

DOT requires a document to declare exactly one non-refresh grant. VS Code's own
document also lists the device-code grant, which we do not offer; per the CIMD
draft the server uses what it supports and ignores the rest. Everything else of
DOT's fetcher stays: https only, public addresses only (pinned), no redirects,
size and time limits, back-off on failure. The client's name is cleaned like a
self-registered one's.
"""

from __future__ import annotations

from typing import Any

from oauth2_provider.cimd import CIMDError, SafeMetadataFetcher

from . import display
from .tokens import GRANT_TYPES


class MCPMetadataFetcher(SafeMetadataFetcher):
    def fetch(self, client_id: str) -> tuple[dict[str, Any], int]:
        metadata, max_age = super().fetch(client_id)
        grant_types = metadata.get("grant_types", ["authorization_code"])
        if isinstance(grant_types, list):
            supported = [grant for grant in grant_types if grant in GRANT_TYPES]
            if "authorization_code" not in supported:
                raise CIMDError("client metadata does not offer the authorization_code grant")
            metadata = {**metadata, "grant_types": supported}
        if isinstance(metadata.get("client_name"), str):
            # Shown to people: no bidi overrides or invisible characters (oauthapp.display).
            metadata = {**metadata, "client_name": display.clean_text(metadata["client_name"])}
        return metadata, max_age
