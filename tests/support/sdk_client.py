"""The ``mcp`` SDK's own OAuth client, wired to a scripted user instead of a browser."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from tests.support.scripted_user import ScriptedUser

# Every credential the journeys obtain, to look for in the server's log afterwards.
ISSUED_SECRETS: list[str] = []


class MemoryStorage:
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None
        self.token_history: list[OAuthToken] = []

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens
        self.token_history.append(tokens)
        ISSUED_SECRETS.extend(t for t in (tokens.access_token, tokens.refresh_token) if t)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info
        if client_info.client_secret:
            ISSUED_SECRETS.append(client_info.client_secret)


class OAuthHarness:
    """The SDK's OAuth provider wired to a scripted user instead of a browser."""

    def __init__(
        self, base_url: str, auth_method: str | None, password: str, allow: bool = True, username: str = "alice"
    ) -> None:
        self.base_url = base_url
        self.user = ScriptedUser(username, password, allow)
        self.storage = MemoryStorage()
        self.redirects: list[str] = []
        self.result: dict[str, str] = {}
        metadata = {
            "client_name": "e2e test client",
            "redirect_uris": ["http://127.0.0.1:33418/"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "scope": "mcp",
        }
        if auth_method:
            metadata["token_endpoint_auth_method"] = auth_method
        self.provider = OAuthClientProvider(
            server_url=base_url + "/mcp",
            client_metadata=OAuthClientMetadata.model_validate(metadata),
            storage=self.storage,
            redirect_handler=self._redirect,
            callback_handler=self._callback,
        )

    async def _redirect(self, authorization_url: str) -> None:
        self.redirects.append(authorization_url)
        self.result = await self.user.authorize(authorization_url)
        if "code" in self.result:
            ISSUED_SECRETS.append(self.result["code"])

    async def _callback(self) -> AuthorizationCodeResult:
        if "code" not in self.result:
            raise PermissionError(self.result.get("error", "no code"))
        return AuthorizationCodeResult(
            code=self.result["code"], state=self.result.get("state"), iss=self.result.get("iss")
        )

    @asynccontextmanager
    async def client(self, mode: str, **options: Any) -> AsyncIterator[Client]:
        # The SDK leaves a caller-supplied HTTP client open, so the harness closes it, also
        # when the OAuth flow fails half-way (a denied consent).
        http = httpx2.AsyncClient(auth=self.provider, timeout=30)
        async with (
            http,
            Client(streamable_http_client(self.base_url + "/mcp", http_client=http), mode=mode, **options) as client,
        ):
            yield client
