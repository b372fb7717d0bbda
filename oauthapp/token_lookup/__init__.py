"""How the bearer-token validator loads an access token: one indexed read, with its client and user.

The rules (expired, scope, audience, usable client, active user) are decided by DOT's model
methods in :mod:`oauthapp.validator`; this package only reads. It builds the same unsaved
model instances the ORM's ``select_related("application", "user")`` query would build, from
a query written once per backend from the models' metadata (the ORM spends far longer
compiling that query than the database spends answering it), with each column passed
through the converters Django itself applies. ``tests/unit/oauthapp/test_token_lookup.py``
shows both ways give the same answers for every kind of token.

Where the read runs:
- on the event loop, through a reader of our own (``sqlite``: a query-only connection that
  never waits; ``postgres``: one async psycopg connection per worker, opened by the ``/mcp``
  lifespan), because handing a sub-millisecond read to a thread and back costs more CPU;
- otherwise on a small pool of threads with Django's connection (the same SQL), which is
  also where a reader that cannot answer at once sends the read;
- on any other database engine, through the ORM.

Other apps may have one more value read with the token (:func:`read_along`): a column of one
row of their own, by primary key, set as an attribute on the loaded token. mcpapp reads its
tool policy version that way, so a permission change is seen on the next request at no
extra round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, IntegerField, Model, Subquery, Value
from django.db.models.functions import Coalesce
from oauth2_provider.models import AbstractAccessToken, get_access_token_model, get_application_model

from ..tokens import checksum

# Backends whose SQL this module writes; anything else reads through the ORM.
RAW_SQL_VENDORS = frozenset({"sqlite", "postgresql"})
# Threads for reads that cannot run on the event loop; each keeps its database connection.
LOOKUP_THREADS = 2


class Unavailable(Exception):
    """A loop reader cannot answer now without waiting: read on a thread instead."""


class LoopReader(Protocol):
    """Reads the token row on the event loop (``sql`` from :func:`token_query`), or raises :class:`Unavailable`."""

    async def fetchone(self, sql: str, token_checksum: str) -> Sequence[Any] | None: ...


Converter = Callable[[Any, Any, BaseDatabaseWrapper], Any]


@dataclass(frozen=True)
class _Part:
    """One model's columns in the row: where they start, their names, and what turns each value into Python."""

    model: type[Model]
    start: int
    names: tuple[str, ...]
    pk_index: int
    # (index within the part, the column expression, Django's backend and field converters for it)
    converters: tuple[tuple[int, Any, tuple[Converter, ...]], ...]


@dataclass(frozen=True)
class ReadAlong:
    """An integer read with every token: ``model.field`` of the row ``pk``, set as ``attribute``
    on the loaded token (``default`` when the row is missing)."""

    attribute: str
    model: type[Model]
    field: str
    pk: int
    default: int = 0

    def subquery(self) -> Coalesce:
        """The same read for the ORM (``load_with_orm``)."""
        column = self.model._default_manager.filter(pk=self.pk).values(self.field)[:1]
        return Coalesce(Subquery(column, output_field=IntegerField()), Value(self.default))


_read_along: list[ReadAlong] = []


def read_along(extra: ReadAlong) -> None:
    """Read ``extra`` with every token from now on (apps call this from ``AppConfig.ready``)."""
    if not isinstance(extra.pk, int) or not isinstance(extra.default, int):
        raise TypeError("ReadAlong takes an integer primary key and default")  # they go into the SQL text
    if extra not in _read_along:
        _read_along.append(extra)
        token_query.cache_clear()


@dataclass(frozen=True)
class TokenQuery:
    sql: str  # with one %s placeholder, for the checksum
    parts: tuple[_Part, _Part, _Part]  # access token, application, user
    wrapper: BaseDatabaseWrapper  # what the converters are given as ``connection`` (never connected)
    extras: tuple[ReadAlong, ...] = ()  # one column each, after the three models' columns

    @property
    def vendor(self) -> str:
        return self.wrapper.vendor


@functools.cache
def token_query(alias: str = DEFAULT_DB_ALIAS) -> TokenQuery:
    """``SELECT`` every concrete column of the token, its application and its user, by checksum.

    Written once per process from the models' metadata; each column keeps the converters the
    ORM would apply to it (``ops.get_db_converters`` and the field's own ``from_db_value``).
    """
    wrapper = connections.create_connection(alias)
    quote = wrapper.ops.quote_name
    token_model, application_model, user_model = get_access_token_model(), get_application_model(), get_user_model()
    parts: list[_Part] = []
    columns: list[str] = []
    for model, table_alias in ((token_model, "t"), (application_model, "a"), (user_model, "u")):
        fields = list(model._meta.concrete_fields)
        converters = []
        for index, field in enumerate(fields):
            expression = field.get_col(table_alias)
            chain = tuple(wrapper.ops.get_db_converters(expression) + expression.get_db_converters(wrapper))
            if chain:
                converters.append((index, expression, chain))
        parts.append(
            _Part(
                model=model,
                start=len(columns),
                names=tuple(field.attname for field in fields),
                pk_index=fields.index(model._meta.pk),
                converters=tuple(converters),
            )
        )
        columns += [f"{table_alias}.{quote(field.column)}" for field in fields]

    def column(model: type[Model], table_alias: str, name: str) -> str:
        field = model._meta.get_field(name)
        assert isinstance(field, Field) and field.column  # a concrete column, not a reverse relation
        return f"{table_alias}.{quote(field.column)}"

    extras = tuple(_read_along)
    for index, extra in enumerate(extras):
        table = f"x{index}"
        pk_name = extra.model._meta.pk.name
        columns.append(
            f"COALESCE((SELECT {column(extra.model, table, extra.field)} FROM {quote(extra.model._meta.db_table)}"  # noqa: S608
            f" {table} WHERE {column(extra.model, table, pk_name)} = {int(extra.pk)}), {int(extra.default)})"
        )

    # Only names from the models' metadata (and integers) go into the text; the checksum is a parameter.
    sql = (
        f"SELECT {', '.join(columns)} FROM {quote(token_model._meta.db_table)} t"  # noqa: S608
        f" LEFT JOIN {quote(application_model._meta.db_table)} a"
        f" ON {column(application_model, 'a', 'id')} = {column(token_model, 't', 'application')}"
        f" LEFT JOIN {quote(user_model._meta.db_table)} u"
        f" ON {column(user_model, 'u', user_model._meta.pk.name)} = {column(token_model, 't', 'user')}"
        f" WHERE {column(token_model, 't', 'token_checksum')} = %s"
    )
    return TokenQuery(sql, (parts[0], parts[1], parts[2]), wrapper, extras)


def _instance(row: Sequence[Any], part: _Part, query: TokenQuery) -> Any:
    values = list(row[part.start : part.start + len(part.names)])
    if values[part.pk_index] is None:
        return None  # the LEFT JOIN found nothing (a token without a client or user)
    for index, expression, chain in part.converters:
        value = values[index]
        for convert in chain:
            value = convert(value, expression, query.wrapper)
        values[index] = value
    return part.model.from_db(query.wrapper.alias, part.names, values)


def build(row: Sequence[Any] | None, query: TokenQuery) -> AbstractAccessToken | None:
    """The unsaved ``AccessToken`` (with ``application`` and ``user`` loaded) a row describes."""
    if row is None:
        return None
    token_part, application_part, user_part = query.parts
    access_token = _instance(row, token_part, query)
    access_token.application = _instance(row, application_part, query)
    access_token.user = _instance(row, user_part, query)
    start = user_part.start + len(user_part.names)
    for offset, extra in enumerate(query.extras):
        setattr(access_token, extra.attribute, int(row[start + offset]))
    return access_token


def load_with_orm(token: str) -> AbstractAccessToken | None:
    """The token as DOT's own validator loads it (with the values read along, as annotations)."""
    return (
        get_access_token_model()
        .objects.select_related("application", "user")
        .annotate(**{extra.attribute: extra.subquery() for extra in _read_along})
        .filter(token_checksum=checksum(token))
        .first()
    )


def load(token: str) -> AbstractAccessToken | None:
    """The token, read through Django's connection of this thread (raw SQL where we write it, else the ORM)."""
    if connection.vendor not in RAW_SQL_VENDORS:
        return load_with_orm(token)
    query = token_query()
    with connection.cursor() as cursor:
        cursor.execute(query.sql, [checksum(token)])
        row = cursor.fetchone()
    return build(row, query)


def _load_and_release(token: str) -> AbstractAccessToken | None:
    # The lookup thread keeps its connection between reads (reconnecting costs more than the
    # read); one that failed is dropped, so the next read reconnects.
    try:
        return load(token)
    except DatabaseError:
        connection.close()
        raise


_threads = ThreadPoolExecutor(max_workers=LOOKUP_THREADS, thread_name_prefix="token-lookup")


def run_on_lookup_thread(function: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
    """Run a function that reads the database on a lookup thread (which keeps its connection)."""
    return asyncio.get_running_loop().run_in_executor(_threads, function, *args)


def submit(function: Callable[..., Any], *args: Any) -> None:
    """Bookkeeping on a lookup thread, not waited for (dropped while shutting down)."""
    with contextlib.suppress(RuntimeError):
        _threads.submit(function, *args)


def loop_reader() -> LoopReader | None:
    from . import postgres, sqlite

    return sqlite.loop_reader() or postgres.loop_reader()


async def aload(token: str) -> AbstractAccessToken | None:
    """``load`` for the event loop: on a loop reader when there is one that can answer now, else on a thread."""
    reader = loop_reader()
    if reader is not None:
        query = token_query()
        try:
            row = await reader.fetchone(query.sql, checksum(token))
        except Unavailable:
            pass  # locked or failing: the thread path waits, and raises if the database is down
        else:
            return build(row, query)
    return await run_on_lookup_thread(_load_and_release, token)


def reading(alias: str = DEFAULT_DB_ALIAS) -> contextlib.AbstractAsyncContextManager[None]:
    """For the server's lifespan: the loop reader that needs opening and closing (PostgreSQL's)."""
    from . import postgres

    return postgres.reading(alias)
