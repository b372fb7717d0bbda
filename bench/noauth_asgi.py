"""Benchmark-only ASGI app: ``mcpdemo.asgi`` with the ``/mcp`` token check replaced by a stub.

Used only to measure what the bearer-token check costs (scenario 3a): every request that
carries a ``Bearer`` token is accepted as user 1 without touching the database. Host,
Origin and the missing-token ``401`` still run as in the real app. Never deploy this.
"""

from __future__ import annotations

import importlib
import time

from mcp.server.auth.provider import AccessToken as MCPAccessToken

from mcpdemo.asgi import application  # noqa: F401  (re-exported for uvicorn; sets Django up)

# Imported only now: mcpapp.auth needs Django set up (mcpdemo.asgi has loaded it already).
auth = importlib.import_module("mcpapp.auth")
DOTTokenVerifier, Verdict = auth.DOTTokenVerifier, auth.Verdict

if not callable(getattr(DOTTokenVerifier, "check", None)):
    raise RuntimeError("mcpapp.auth.DOTTokenVerifier.check is gone: update bench/noauth_asgi.py")


async def _accept_any_token(self: auth.DOTTokenVerifier, token: str) -> auth.Verdict:
    return Verdict(
        MCPAccessToken(
            token=token,
            client_id="bench-no-auth",
            scopes=["mcp"],
            expires_at=int(time.time()) + 3600,
            resource=self.resource,
            subject="1",
            claims={"iss": self.issuer, "username": "bench"},
        )
    )


DOTTokenVerifier.check = _accept_any_token
