"""ASGI entry point: ``/mcp`` goes to the MCP server, everything else to Django.

Run with ``uvicorn mcpdemo.asgi:application`` (``manage.py runserver`` does that too).
The router answers the ASGI ``lifespan`` itself, because Django's handler refuses it
and the MCP session manager must be running before the first request.

Django itself (every view here is synchronous: DOT, the admin, our pages) is served as
WSGI on a fixed pool of ``MCPDEMO_DJANGO_THREADS`` threads (a2wsgi), not by Django's
ASGI handler: that one hops between the event loop and a new thread per request for
the synchronous middleware and view, and so can never reuse a database connection. The
pool uses far less CPU per token request (bench/run scenario 6).
"""

from __future__ import annotations

import os

from a2wsgi import WSGIMiddleware
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mcpdemo.settings")
wsgi_application = get_wsgi_application()

# Imported after Django is set up: these modules use the ORM and settings.
from django.conf import settings  # noqa: E402
from starlette.types import Receive, Scope, Send  # noqa: E402

from mcpapp.endpoint import MCP_PATHS, MCPEndpoint, build_mcp_endpoint  # noqa: E402
from mcpdemo import metrics, metrics_access  # noqa: E402
from mcpdemo.metrics_endpoint import METRICS_PATH, metered, serve_metrics  # noqa: E402

# django-stubs types WSGIHandler's answer as HttpResponseBase, which is the iterable of bytes WSGI wants.
django_application = WSGIMiddleware(wsgi_application, workers=settings.MCPDEMO_DJANGO_THREADS)  # type: ignore[arg-type]


class Router:
    def __init__(self, django_app, mcp_endpoint: MCPEndpoint) -> None:
        self.django_app = django_app
        self.mcp_endpoint = mcp_endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http" and scope["path"] in MCP_PATHS:
            if metrics.enabled():
                await metered(self.mcp_endpoint, "mcp", scope, receive, send)
            else:
                await self.mcp_endpoint(scope, receive, send)
        elif scope["type"] == "http" and scope["path"] == METRICS_PATH and metrics_access.allowed(scope):
            await metered(serve_metrics, "metrics", scope, receive, send)
        else:  # a /metrics request not allowed gets Django's 404, as for any unknown path
            await self.django_app(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"
        started = False
        try:
            async with self.mcp_endpoint.lifespan():
                metrics.worker_started()
                await send({"type": "lifespan.startup.complete"})
                started = True
                message = await receive()
                assert message["type"] == "lifespan.shutdown"
                metrics.worker_stopped()
        except Exception as exc:
            kind = "shutdown" if started else "startup"
            await send({"type": f"lifespan.{kind}.failed", "message": str(exc)})
            raise
        await send({"type": "lifespan.shutdown.complete"})


def build_application() -> Router:
    """A fresh application (its own MCP session manager, which can run only once)."""
    return Router(django_application, build_mcp_endpoint())


application = build_application()
