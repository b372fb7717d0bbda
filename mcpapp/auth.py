"""Bearer-token checks for /mcp, answered from DOT's token tables.

A token is accepted only if it is live (not expired, not revoked: DOT deletes a
revoked access token), carries the ``mcp`` scope, belongs to an active user, and was
issued for exactly this server's MCP resource (RFC 8707). There is no cache: a
revocation takes effect on the very next request. An accepted token also marks the
user's connection to the client as used (at most once a minute).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection
from django.utils import timezone
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken as MCPAccessToken
from mcp.server.mcpserver import Context
from oauth2_provider.models import get_access_token_model, get_application_model

from oauthapp import consents

from . import postgres_reader, sqlite_reader
from .sqlite_reader import Unavailable

# A timestamp column as whole seconds since the epoch (UTC), per database backend.
_EPOCH_SECONDS = {
    "sqlite": "CAST(strftime('%%s', {}) AS INTEGER)",  # naive UTC text; %% as the query has parameters
    "postgresql": "CAST(EXTRACT(EPOCH FROM {}) AS BIGINT)",
}


@functools.cache
def _token_query(vendor: str) -> str:
    """The one query behind a token check, written from the models' metadata.

    Built once per database backend: the ORM spent ~0.8 ms of CPU compiling this
    select_related() query on every /mcp request, ten times the query itself. Expiry, the
    client's block and the user's ``is_active`` are decided in SQL; scope and resource
    (JSON) in Python.
    """
    qn = connection.ops.quote_name
    token, client, user = get_access_token_model(), get_application_model(), get_user_model()

    def col(model: Any, alias: str, name: str) -> str:
        return f"{alias}.{qn(model._meta.get_field(name).column)}"

    user_pk = col(user, "u", user._meta.pk.name)
    expires = col(token, "t", "expires")
    columns = [
        col(token, "t", "scope"),
        col(token, "t", "resource"),
        _EPOCH_SECONDS[vendor].format(expires),  # for the MCP view; parsing it in Python cost more
        col(token, "t", "application"),
        col(client, "a", "client_id"),
        user_pk,
        col(user, "u", user.USERNAME_FIELD),
    ]
    # Only names from the models' metadata go into the text; values are parameters.
    return (
        f"SELECT {', '.join(columns)} FROM {qn(token._meta.db_table)} t"  # noqa: S608
        f" JOIN {qn(client._meta.db_table)} a ON {col(client, 'a', 'id')} = {col(token, 't', 'application')}"
        f" JOIN {qn(user._meta.db_table)} u ON {user_pk} = {col(token, 't', 'user')}"
        f" WHERE {col(token, 't', 'token_checksum')} = %s AND {expires} > %s"
        f" AND {col(client, 'a', 'blocked_at')} IS NULL AND {col(user, 'u', 'is_active')}"
    )


@functools.lru_cache(maxsize=64)
def _json_list(text: str) -> tuple[Any, ...] | None:
    """A JSON list as a tuple (cached: every token of this server names the same resource)."""
    value = json.loads(text)
    return tuple(value) if isinstance(value, list) else None


def _checksum(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _accept(
    row: tuple[Any, ...] | None, token: str, resource: str, issuer: str, note_use: Callable[[int, int], None]
) -> MCPAccessToken | None:
    """The MCP view of a looked-up token row, if the token may call ``resource``."""
    if row is None:
        return None
    scope, resources, expires, application_id, client_id, user_id, username = row
    scopes = scope.split()
    if settings.MCP_SCOPE not in scopes:
        return None
    if isinstance(resources, str):  # SQLite's JSON is text; psycopg may hand it over decoded
        resources = _json_list(resources)
    if not isinstance(resources, list | tuple) or resource not in resources:
        return None  # unbound tokens are not ours to accept
    note_use(user_id, application_id)
    return MCPAccessToken(
        token=token,
        client_id=client_id,
        scopes=scopes,
        expires_at=int(expires),
        resource=resource,
        subject=str(user_id),  # binds MCP sessions to the user, not just the client
        claims={"iss": issuer, "username": username},
    )


def check_token(token: str, resource: str, issuer: str) -> MCPAccessToken | None:
    """Return the MCP view of ``token`` if it may call ``resource``, else ``None``.

    Registration and client-credentials tokens have no user, so the join leaves them out;
    a blocked client's tokens are revoked when it is blocked, and the ``blocked_at`` test
    covers the moment in between.
    """
    with connection.cursor() as cursor:
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        cursor.execute(_token_query(connection.vendor), [_checksum(token), now])
        row = cursor.fetchone()
    return _accept(row, token, resource, issuer, consents.note_use)


def _check_token_and_release(token: str, resource: str, issuer: str) -> MCPAccessToken | None:
    # The checking thread keeps its database connection between checks: reconnecting (and
    # SQLite's PRAGMAs) per request cost more than the query itself (2.0 vs 0.75 ms of
    # CPU). A connection that failed is dropped, so the next check reconnects.
    try:
        return check_token(token, resource, issuer)
    except DatabaseError:
        connection.close()
        raise


# Token checks that need a thread (PostgreSQL, or SQLite when the loop reader cannot
# answer at once) run on their own small pool, not through sync_to_async on the shared
# executor: its per-call context copying and several threads contending for the GIL cost
# more CPU than the indexed lookup itself (tools/call 7.2 → 4.6 ms of CPU in bench/run).
_checker = ThreadPoolExecutor(max_workers=settings.MCPDEMO_TOKEN_CHECK_THREADS, thread_name_prefix="token-check")


def _note_use_soon(user_id: int, application_id: int) -> None:
    """Pass a use on to the cache and database on a checking thread, at most once a minute."""
    if consents.claim_use_note(user_id, application_id):
        with contextlib.suppress(RuntimeError):  # shutting down: bookkeeping is not worth a failed request
            _checker.submit(consents.record_use, user_id, application_id)


async def verify_token(token: str, resource: str, issuer: str) -> MCPAccessToken | None:
    """``check_token`` for the event loop: read right here on SQLite (``sqlite_reader``) and
    PostgreSQL (``postgres_reader``, while the /mcp lifespan runs), otherwise, or when that
    reader cannot answer, on a checking thread with a kept connection."""
    reader = sqlite_reader.loop_reader() or postgres_reader.loop_reader()
    if reader is not None:
        try:
            row = await reader.fetchone(_loop_token_query(reader.vendor), (_checksum(token), reader.now()))
        except Unavailable:
            pass  # locked or failing: the thread path waits, and answers 503 if the database is down
        else:
            return _accept(row, token, resource, issuer, _note_use_soon)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_checker, _check_token_and_release, token, resource, issuer)


@functools.cache
def _loop_token_query(vendor: str) -> str:
    query = _token_query(vendor)
    return query % ("?", "?") if vendor == "sqlite" else query  # sqlite3's own placeholders, "%%" → "%"


def current_user_id(ctx: Context) -> int | None:
    """The Django user id behind the MCP request a tool is serving (``None`` if anonymous)."""
    request: Any = ctx.request_context.request
    user = request.scope.get("user") if request is not None else None
    if isinstance(user, AuthenticatedUser) and user.access_token.subject:
        return int(user.access_token.subject)
    return None
