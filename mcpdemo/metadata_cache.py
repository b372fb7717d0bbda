"""Discovery documents served from memory after the first request.

The RFC 8414 and RFC 9728 documents depend only on the settings and on the origin a
request came in on, yet through Django each costs a full middleware chain (~4 ms of
CPU). The first successful answer per (path, scheme, Host, with/without Origin) is
kept and replayed as it was; anything but a 200 is never kept, so a Host that Django
refuses is refused every time. The table is bounded: ALLOWED_HOSTS limits the keys.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DOCUMENT_PATHS = frozenset(
    {
        "/.well-known/oauth-authorization-server",
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    }
)
MAX_ENTRIES = 256


class DiscoveryCache:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.documents: dict[tuple, tuple[Message, bytes]] = {}

    @staticmethod
    def handles(scope: Scope) -> bool:
        return scope["type"] == "http" and scope["method"] == "GET" and scope["path"] in DOCUMENT_PATHS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        key = (scope["path"], scope.get("scheme"), headers.get(b"host"), b"origin" in headers)
        cached = self.documents.get(key)
        if cached is not None:
            start, body = cached
            await send(start)
            await send({"type": "http.response.body", "body": body})
            return

        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                complete = not message.get("more_body")
                if complete and start is not None and start["status"] == 200 and len(self.documents) < MAX_ENTRIES:
                    self.documents[key] = (start, b"".join(chunks))
            await send(message)

        await self.app(scope, receive, capture)
