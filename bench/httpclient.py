"""A minimal HTTP/1.1 keep-alive client on raw asyncio streams.

Load generators built on httpx spend more CPU per request than the servers under test,
so the multi-step scenarios use this instead: one socket per ``Connection``, requests
written as bytes, responses parsed just enough (status, headers, Content-Length or
chunked body). No TLS, no redirects, no proxies: loopback benchmarking only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode


class HTTPError(Exception):
    """The server answered something this client cannot parse, or closed mid-response."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    set_cookies: list[str]
    body: bytes

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)

    def rpc_messages(self) -> list[dict[str, Any]]:
        """JSON-RPC messages of an MCP answer, whether plain JSON or an SSE stream."""
        if self.header("content-type").startswith("text/event-stream"):
            messages = []
            for line in self.text.splitlines():
                if line.startswith("data:"):
                    data = line[5:].strip()
                    if data:
                        messages.append(json.loads(data))
            return messages
        payload = self.json()
        return payload if isinstance(payload, list) else [payload]


@dataclass
class CookieJar:
    """Name → value; enough for one loopback origin (no paths, domains or expiry)."""

    cookies: dict[str, str] = field(default_factory=dict)

    def update(self, response: Response) -> None:
        for raw in response.set_cookies:
            pair = raw.split(";", 1)[0]
            name, _, value = pair.partition("=")
            if name.strip():
                self.cookies[name.strip()] = value.strip()

    def header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())


class Connection:
    """One keep-alive connection to ``host:port``; reconnects when the server closes it."""

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.host_header = f"{host}:{port}"
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _ensure_open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self._reader, self._writer

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None

    async def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> Response:
        return await asyncio.wait_for(self._request(method, path, headers or {}, body), self.timeout)

    async def _request(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        reader, writer = await self._ensure_open()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host_header}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        try:
            response = await self._read_response(reader, method)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            await self.close()
            raise HTTPError(f"connection lost during {method} {path}: {exc!r}") from exc
        if response.header("connection").lower() == "close":
            await self.close()
        return response

    async def _read_response(self, reader: asyncio.StreamReader, method: str) -> Response:
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise HTTPError(f"bad status line {status_line!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        set_cookies: list[str] = []
        for line in header_lines:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            value = value.strip()
            if name == "set-cookie":
                set_cookies.append(value)
            elif name in headers:
                headers[name] += ", " + value
            else:
                headers[name] = value
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = await self._read_chunked(reader)
        else:
            body = await reader.read()  # until the server closes
            headers["connection"] = "close"
        return Response(status, headers, set_cookies, body)

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        chunks: list[bytes] = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers
                return b"".join(chunks)
            chunk = await reader.readexactly(size + 2)
            chunks.append(chunk[:-2])

    # Conveniences -------------------------------------------------------------------

    async def get(self, path: str, headers: dict[str, str] | None = None) -> Response:
        return await self.request("GET", path, headers)

    async def post_form(self, path: str, data: dict[str, str], headers: dict[str, str] | None = None) -> Response:
        all_headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return await self.request("POST", path, all_headers, urlencode(data).encode())

    async def post_json(self, path: str, data: Any, headers: dict[str, str] | None = None) -> Response:
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        return await self.request("POST", path, all_headers, json.dumps(data).encode())
