"""Client ID Metadata Documents: DOT's SSRF-hardened fetcher, made to accept real clients.

DOT requires a document to declare exactly one non-refresh grant. VS Code's own
document also lists the device-code grant, which we do not offer; per the CIMD
draft the server uses what it supports and ignores the rest. Everything else of
DOT's fetcher stays: https only, public addresses only (pinned), no redirects,
size and time limits, back-off on failure.
"""

from __future__ import annotations

from typing import Any

from oauth2_provider.cimd import CIMDError, SafeMetadataFetcher

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
        return metadata, max_age
