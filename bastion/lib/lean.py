"""Inserting new rows, and reading one row by equality, without the ORM's query compiler.

For intake's hot path, where the ORM's Python, not SQLite, was most of what a report cost.

``Model.save(force_insert=True)`` builds its INSERT afresh every time: a query object, a compiler,
one SQL fragment and one placeholder per field. For a report's ten rows that is most of the Python
a submission costs under the database's write lock (measured: the compiler, not SQLite, dominated).
:func:`insert` keeps one statement per model and database, and does per row only what a row needs:
each field's ``pre_save`` (``auto_now_add`` and the like) and ``get_db_prep_save`` (the backend's own
conversion), so the stored values are exactly what ``save()`` would store, on SQLite and PostgreSQL.

It is for plain new rows only: a model with save-signal receivers is refused (they would not
run), and so is multi-table inheritance; there is no ``update_fields``. Anything else goes
through ``save()``.

The reads (:func:`get`, :func:`first`, :func:`exists`) are likewise one cached statement per
shape: equality on fields, an optional order, ``LIMIT 1``, and the backend's and the fields' own
converters on the way out, so a value reads back as the ORM would return it. Anything richer
(joins, ``Q`` objects, ranges) is the ORM's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model, signals


@dataclass(frozen=True)
class _Statement:
    sql: str
    fields: tuple[Field[object, object], ...]
    returning: Field[object, object] | None  # the auto-increment key the database assigns
    relations: tuple[Field[object, object], ...]  # foreign keys, whose ids may come from saved objects


_STATEMENTS: dict[tuple[str, type[Model], bool], _Statement] = {}

M = TypeVar("M", bound=Model)
Converter = Callable[[Any, Any, BaseDatabaseWrapper], Any]


def insert(*rows: Model, using: str = DEFAULT_DB_ALIAS, skip_signals: bool = False) -> None:
    """INSERT each of ``rows`` (unsaved model instances) as ``save(force_insert=True)`` would.

    A database-assigned key is set on the instance afterwards, and the instance counts as saved.
    A model with ``pre_save`` or ``post_save`` receivers is refused (TypeError): they would not run.
    ``skip_signals=True`` says the caller has done what they do itself.
    """
    connection = connections[using]
    with connection.cursor() as cursor:
        for row in rows:
            model = type(row)
            has_key = row.pk is not None
            key = (using, model, has_key)
            statement = _STATEMENTS.get(key) or _STATEMENTS.setdefault(key, _plan(model, connection, has_key))
            # Asked on every call (Django caches the answer per sender): a receiver may connect late.
            if not skip_signals and (
                signals.pre_save.has_listeners(model) or signals.post_save.has_listeners(model)
            ):
                raise TypeError(f"{model._meta.label} has save signal receivers; insert() would not run them")
            _take_related_keys(row, statement.relations)
            values = [
                field.get_db_prep_save(field.pre_save(row, True), connection) for field in statement.fields
            ]
            # As save() does: a failed INSERT in an atomic block dooms it, so it cannot commit half done.
            with transaction.mark_for_rollback_on_error(using):
                cursor.execute(statement.sql, values)
                if statement.returning is not None:
                    setattr(row, statement.returning.attname, cursor.fetchone()[0])
            row._state.adding = False
            row._state.db = using


def _plan(model: type[Model], connection: BaseDatabaseWrapper, has_key: bool) -> _Statement:
    meta = model._meta
    if meta.parents or meta.proxy:
        raise TypeError(f"{meta.label}: insert() takes plain models; save() the others")
    auto = meta.auto_field
    returning = auto if auto is not None and not has_key else None
    fields = tuple(
        field
        for field in meta.local_concrete_fields
        if field is not returning and not getattr(field, "generated", False)
    )
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608 - identifiers only
    if returning is not None:
        sql += f" RETURNING {quote(returning.column)}"
    relations = tuple(field for field in fields if field.is_relation)
    return _Statement(sql=sql, fields=fields, returning=returning, relations=relations)


def _take_related_keys(row: Model, relations: tuple[Field[object, object], ...]) -> None:
    """Copy the key of each related object assigned before it was saved, as ``save()`` does."""
    for field in relations:
        if getattr(row, field.attname) is None and field.is_cached(row):  # type: ignore[attr-defined]
            related = getattr(row, field.name)
            if related is not None:
                if related.pk is None:
                    raise ValueError(f"{type(row).__name__}.{field.name}: save the related object first")
                setattr(row, field.name, related)  # sets the id and keeps the object cached


@dataclass(frozen=True)
class _Query:
    sql: str
    keys: tuple[Field[Any, Any], ...]  # the fields compared with =, in ``equals`` order
    # Each column read, with its field's converters. The backend's are asked for per call: they
    # are methods of one thread's connection, which a shared cache must not keep alive.
    columns: tuple[tuple[Any, tuple[Converter, ...]], ...]


_QUERIES: dict[tuple[str, type[Model], tuple[str, ...], tuple[str, ...], str], _Query] = {}


def first(
    model: type[Model],
    names: Sequence[str],
    *,
    order_by: str = "",
    using: str = DEFAULT_DB_ALIAS,
    **equals: object,
) -> tuple[Any, ...] | None:
    """The fields ``names`` of the first row whose fields equal ``equals``, or None.

    ``order_by`` is one field name, ``-`` first for descending; without it, any matching row.
    """
    return _first(model, tuple(names), order_by, using, equals)


def get(model: type[M], *, order_by: str = "", using: str = DEFAULT_DB_ALIAS, **equals: object) -> M | None:
    """The first row whose fields equal ``equals``, as a model instance, or None."""
    names = tuple(field.attname for field in model._meta.concrete_fields)
    found = _first(model, names, order_by, using, equals)
    return None if found is None else model.from_db(using, list(names), found)


def exists(model: type[Model], *, using: str = DEFAULT_DB_ALIAS, **equals: object) -> bool:
    """Whether any row's fields equal ``equals``."""
    return _first(model, (), "", using, equals) is not None


def _first(
    model: type[Model], names: tuple[str, ...], order_by: str, using: str, equals: dict[str, object]
) -> tuple[Any, ...] | None:
    cache_key = (using, model, names, tuple(equals), order_by)
    connection = connections[using]
    query = _QUERIES.get(cache_key)
    if query is None:
        query = _QUERIES.setdefault(cache_key, _compile(model, names, order_by, connection, tuple(equals)))
    params = []
    for field, value in zip(query.keys, equals.values(), strict=True):
        if value is None or isinstance(value, Model):
            # "= NULL" matches nothing, where the ORM writes IS NULL; pass a related row's id.
            raise TypeError(f"{field.name}: lean reads compare with values, not None or model instances")
        params.append(field.get_db_prep_value(value, connection))
    with connection.cursor() as cursor:
        cursor.execute(query.sql, params)
        found = cursor.fetchone()
    if found is None or not query.columns:  # no columns asked for: whether a row matched
        return None if found is None else ()
    values = []
    backend = connection.ops
    for (column, own), value in zip(query.columns, found, strict=True):
        for convert in (*backend.get_db_converters(column), *own):
            value = convert(value, column, connection)
        values.append(value)
    return tuple(values)


def _compile(
    model: type[Model],
    names: tuple[str, ...],
    order_by: str,
    connection: BaseDatabaseWrapper,
    keys: tuple[str, ...],
) -> _Query:
    meta = model._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    fields = tuple(_field(model, name) for name in names)
    key_fields = tuple(_field(model, name) for name in keys)
    selected = ", ".join(f"{table}.{quote(field.column)}" for field in fields) or "1"
    sql = f"SELECT {selected} FROM {table}"  # noqa: S608 - identifiers only; values are parameters
    if key_fields:
        sql += " WHERE " + " AND ".join(f"{table}.{quote(field.column)} = %s" for field in key_fields)
    if order_by:
        order = _field(model, order_by.removeprefix("-"))
        sql += f" ORDER BY {table}.{quote(order.column)} {'DESC' if order_by.startswith('-') else 'ASC'}"
    sql += " LIMIT 1"
    columns = []
    for field in fields:
        column = field.get_col(meta.db_table)
        own = field.get_db_converters(connection)  # type: ignore[attr-defined]  # Django's, not in django-stubs
        columns.append((column, tuple(own)))
    return _Query(sql=sql, keys=key_fields, columns=tuple(columns))


def _field(model: type[Model], name: str) -> Field[Any, Any]:
    """The concrete field ``name`` (or its attname, ``reporter_id``) of ``model``."""
    field = model._meta.get_field(name)
    if not isinstance(field, Field) or not field.concrete:
        raise TypeError(f"{model._meta.label}.{name} is not a column")
    return field
