"""How far an ASGI response got, so a response cut short can still be ended properly."""

from __future__ import annotations

from starlette.types import Message, Send


class ResponseState:
    """Wraps ``send``: whether the response started (and as what), and whether it is complete."""

    def __init__(self, send: Send) -> None:
        self.downstream = send
        self.media_type: bytes | None = None  # set when the response starts
        self.complete = False

    @property
    def started(self) -> bool:
        return self.media_type is not None

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.media_type = dict(message.get("headers", [])).get(b"content-type", b"")
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            self.complete = True
        await self.downstream(message)
