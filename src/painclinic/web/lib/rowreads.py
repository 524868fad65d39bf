"""Hot-path reads of rows by one column, without the ORM's per-query compile.

The infusion chart is the clinic's most-read page and reads six kinds of rows of one session;
compiling six querysets was about a third of its time (0.6 ms each, against 0.2 ms to run
them). These reads go through Django's own ``RawQuerySet``, so rows still become model
instances with the fields' converters applied and any omitted column deferred, but the SQL is
built once per shape from the model's metadata: identifiers come only from ``_meta``, every
value is a query parameter.

Only the reads the page bench (bench/bench_treatment.py) shows the ORM to be too slow for use
them: the chart's session read and its child rows (infusions/access.py, infusions/chart.py,
infusions/waste.py) and the chair board's booking read and its cancelled list
(scheduling/board.py, scheduling/services.py: cancelled_on). Everything else reads through the
ORM. They behave as the ORM's own reads do where it matters for correctness:

- the database is chosen by Django's router (``router.db_for_read(model)``, the root model for
  a joined read), and the instances are marked as read from that alias;
- joins are promoted as the ORM promotes them: a nullable foreign key is a LEFT JOIN, and every
  join below a LEFT JOIN is a LEFT JOIN too, so a missing row further down a nullable chain
  never turns the outer join back into an inner one and drops the root row;
- a reverse one-to-one (``booking.infusion_session``) is a LEFT JOIN cached on both sides, None
  when there is no row, as ``select_related`` caches it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, ForeignKey, Model, OneToOneRel


def _database(model: type[Model]) -> tuple[str, BaseDatabaseWrapper]:
    """The alias the router reads ``model`` from, and this thread's connection to it."""
    alias = router.db_for_read(model)
    return alias, connections[alias]


def _out_of_range(field: Any, value: Any, connection: BaseDatabaseWrapper) -> str | None:
    """ "over" or "under" when ``value`` is an integer beyond what ``field``'s column can hold on
    this database, else None. The ORM answers such a lookup without asking the database (which
    may refuse the value: SQLite's driver overflows past 64 bits); so do these reads."""
    target = field.target_field if isinstance(field, ForeignKey) else field
    kind = target.get_internal_type()
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    if kind not in connection.ops.integer_field_ranges:
        return None
    low, high = connection.ops.integer_field_range(kind)
    if low is not None and value < low:
        return "under"
    if high is not None and value > high:
        return "over"
    return None


# Whether a condition holds for every row (True) or none (False) when its value is out of the
# column's range, by operator and "over"/"under", as the ORM's integer lookups decide it.
_BEYOND: dict[str, dict[str, bool]] = {
    "=": {"over": False, "under": False},
    "!=": {"over": True, "under": True},
    ">": {"over": False, "under": True},
    ">=": {"over": False, "under": True},
    "<": {"over": True, "under": False},
    "<=": {"over": True, "under": False},
}


def _column(model: type[Model], name: str) -> str:
    field = model._meta.get_field(name)
    if not isinstance(field, Field) or not field.concrete:
        raise ValueError(f"{model.__name__}.{name} is not a column")
    return str(field.column)


@functools.cache
def _select(
    model: type[Model],
    alias: str,
    vendor: str,
    where: str,
    many: int,
    order_by: tuple[str, ...],
    limit: int | None,
    fields: tuple[str, ...],
) -> str:
    quote = connections[alias].ops.quote_name
    columns = ", ".join(quote(_column(model, name)) for name in fields)
    column = quote(_column(model, where))
    condition = f"{column} = %s" if many == 0 else f"{column} IN ({', '.join(['%s'] * many)})"
    order = ", ".join(
        f"{quote(_column(model, name.removeprefix('-')))}{' DESC' if name.startswith('-') else ''}"
        for name in order_by
    )
    sql = f"SELECT {columns} FROM {quote(model._meta.db_table)} WHERE {condition}"  # noqa: S608
    if order:
        sql += f" ORDER BY {order}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return sql


def _fields(model: type[Model], omit: Iterable[str], only: Iterable[str] | None) -> tuple[str, ...]:
    """The fields to select: ``only`` (plus the primary key), or every column but ``omit``."""
    pk = model._meta.pk.name if model._meta.pk else "id"
    if only is not None:
        return (pk, *sorted(set(only) - {pk}))
    skipped = set(omit)
    return tuple(f.name for f in model._meta.concrete_fields if f.name not in skipped)


def rows_where[M: Model](
    model: type[M],
    field: str,
    value: Any,
    *,
    order_by: Sequence[str] = ("pk",),
    limit: int | None = None,
    omit: Iterable[str] = (),
    only: Iterable[str] | None = None,
) -> list[M]:
    """``model`` rows whose ``field`` (a column, e.g. ``"session"``) equals ``value``.

    ``order_by`` names fields, ``-`` for descending; ``omit`` or ``only`` choose the columns
    (the rest are deferred and load on first access, as with ``QuerySet.defer``).
    """
    pk = model._meta.pk.name if model._meta.pk else "id"
    order = tuple(pk if n == "pk" else (f"-{pk}" if n == "-pk" else n) for n in order_by)
    fields = _fields(model, omit, only)
    alias, wrapper = _database(model)
    key = getattr(value, "pk", value)
    if _out_of_range(model._meta.get_field(field), key, wrapper):
        return []  # no row can hold it
    sql = _select(model, alias, wrapper.vendor, field, 0, order, limit, fields)
    return list(model._default_manager.raw(sql, [key], using=alias))


def rows_in[M: Model](
    model: type[M],
    field: str,
    values: Iterable[Any],
    *,
    omit: Iterable[str] = (),
    only: Iterable[str] | None = None,
) -> list[M]:
    """``model`` rows whose ``field`` is one of ``values`` (none: no query)."""
    alias, wrapper = _database(model)
    column = model._meta.get_field(field)
    keys = sorted(
        k
        for k in {getattr(v, "pk", v) for v in values}
        if not _out_of_range(column, k, wrapper)  # no row can hold it
    )
    if not keys:
        return []
    fields = _fields(model, omit, only)
    sql = _select(model, alias, wrapper.vendor, field, len(keys), (), None, fields)
    return list(model._default_manager.raw(sql, keys, using=alias))


@dataclass(frozen=True)
class _Part:
    path: str  # "" for the root, else "plan" or "plan__weight"
    model: type[Model]
    alias: str
    fields: tuple[Field, ...]  # in the model's concrete-field order, primary key included
    # What leads here from the parent part: its foreign key, or the reverse side of a
    # one-to-one field on this part's model (``booking.infusion_session``); None for the root.
    link: ForeignKey | OneToOneRel | None
    parent: int | None  # index of the parent part
    converters: tuple[tuple[tuple[Any, ...], Any], ...]  # per field: (converters, column)
    attnames: tuple[str, ...]
    pk_index: int


@dataclass(frozen=True)
class _JoinedSelect:
    sql: str
    parts: tuple[_Part, ...]
    counts: tuple[str, ...]
    alias: str  # the database alias the rows are read from


_OPERATORS = frozenset({"=", "!=", "<", "<=", ">", ">=", "in"})


def _joined_select(
    root: type[Model],
    alias: str,
    paths: tuple[tuple[str, tuple[str, ...]], ...],
    counts: tuple[tuple[str, type[Model], str, str], ...],
    where: tuple[tuple[str, str, int], ...],
    order_by: tuple[str, ...],
) -> _JoinedSelect:
    connection = connections[alias]
    quote = connection.ops.quote_name
    parts: list[_Part] = []
    joins: list[str] = []
    by_path: dict[str, int] = {}
    # Per part: is it reached through a LEFT JOIN anywhere on its path from the root?
    outer: list[bool] = []
    for path, names in paths:
        if path:
            parent_path, _, name = path.rpartition("__")
            parent = by_path[parent_path]
            link = parts[parent].model._meta.get_field(name)
            if not isinstance(link, ForeignKey | OneToOneRel):
                raise ValueError(f"{path} is neither a foreign key nor a reverse one-to-one")
            model = link.related_model
            assert isinstance(model, type)
        else:
            parent, link, model = None, None, root
        table = f"t{len(parts)}"
        pk = model._meta.pk
        wanted = set(names) | {pk.name if pk else "id"}
        fields = tuple(f for f in model._meta.concrete_fields if f.name in wanted or not names)
        if link is not None and parent is not None:
            # Join promotion, as the ORM does it: below a LEFT JOIN every join is LEFT, or a
            # root row whose nullable relation is empty would be dropped by the inner join of
            # that relation's own relations. A reverse one-to-one may have no row: LEFT.
            if isinstance(link, OneToOneRel):
                left = True
                mine, theirs = str(link.field.column), str(link.field.target_field.column)
            else:
                left = link.null or outer[parent]
                mine, theirs = str(link.target_field.column), str(link.column)
            outer.append(left)
            joins.append(
                f"{'LEFT OUTER JOIN' if left else 'INNER JOIN'} {quote(model._meta.db_table)} "
                f"{table} ON {table}.{quote(mine)} = {parts[parent].alias}.{quote(theirs)}"
            )
        else:
            outer.append(False)
        by_path[path] = len(parts)
        converters = []
        for f in fields:
            col = f.get_col(table)
            found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            converters.append((tuple(found), col))
        parts.append(
            _Part(
                path,
                model,
                table,
                fields,
                link,
                parent,
                tuple(converters),
                tuple(f.attname for f in fields),
                [f.primary_key for f in fields].index(True),
            )
        )
    columns = [f"{p.alias}.{quote(str(f.column))}" for p in parts for f in p.fields]
    for _name, child, child_field, root_field in counts:
        columns.append(
            f"(SELECT COUNT(*) FROM {quote(child._meta.db_table)} c WHERE "  # noqa: S608
            f"c.{quote(_column(child, child_field))} = t0.{quote(_column(root, root_field))})"
        )
    conditions = []
    for name, operator, many in where:
        if operator not in _OPERATORS:
            raise ValueError(f"unsupported operator {operator!r}")
        column = f"t0.{quote(_column(root, name))}"
        if operator == "in":
            conditions.append(f"{column} IN ({', '.join(['%s'] * many)})")
        else:
            conditions.append(f"{column} {operator} %s")
    order = ", ".join(
        f"t0.{quote(_column(root, n.removeprefix('-')))}{' DESC' if n.startswith('-') else ''}"
        for n in order_by
    )
    sql = f"SELECT {', '.join(columns)} FROM {quote(root._meta.db_table)} t0 "  # noqa: S608
    sql += " ".join(joins)
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    if order:
        sql += f" ORDER BY {order}"
    return _JoinedSelect(sql, tuple(parts), tuple(name for name, *_ in counts), alias)


def _converted(part: _Part, values: Sequence[Any], connection: BaseDatabaseWrapper) -> list[Any]:
    out = []
    for value, (converters, column) in zip(values, part.converters, strict=True):
        for converter in converters:
            value = converter(value, column, connection)
        out.append(value)
    return out


def joined_rows[M: Model](
    root: type[M],
    paths: dict[str, tuple[str, ...]],
    *,
    where: Sequence[tuple[str, str, Any]],
    order_by: Sequence[str] = (),
    counts: dict[str, tuple[type[Model], str, str]] | None = None,
) -> list[M]:
    """``root`` rows with the rows their foreign keys lead to, in one query.

    ``paths`` maps "" (the root) and each foreign-key path ("plan", "plan__weight") or reverse
    one-to-one ("infusion_session") to the fields to load (empty: all); the related instances
    are cached on their parents as ``select_related`` would cache them (None for a missing
    one), and fields left out are deferred. ``where`` is a list
    of ``(root field, operator, value)`` (operators ``= != < <= > >= in``), all of which must
    hold; values go through the field's ``get_db_prep_value``. ``order_by`` names root fields
    (``-`` for descending). ``counts`` adds ``name: (child model, child's foreign key, root
    field)`` as a count of child rows, set as an attribute of each root instance.
    """
    alias, connection = _database(root)
    shape: list[tuple[str, str, int]] = []
    params: list[Any] = []
    for name, operator, value in where:
        field = root._meta.get_field(name)
        assert isinstance(field, Field)
        if operator == "in":
            values = [v for v in value if not _out_of_range(field, v, connection)]
            if not values:
                return []
        else:
            beyond = _out_of_range(field, value, connection)
            if beyond and operator in _BEYOND:
                if not _BEYOND[operator][beyond]:
                    return []  # no row can match: no query, as the ORM does
                continue  # every row matches: no condition
            values = [value]
        shape.append((name, operator, len(values)))
        params.extend(field.get_db_prep_value(v, connection) for v in values)
    # Built once per shape and per connection: the converters are bound to this thread's
    # connection, so the cache lives on the connection object rather than in the module.
    cache: dict[tuple[Any, ...], _JoinedSelect] = connection.__dict__.setdefault(
        "_painclinic_joined_selects", {}
    )
    key = (
        root,
        tuple((path, tuple(sorted(names))) for path, names in paths.items()),
        tuple((name, *spec) for name, spec in (counts or {}).items()),
        tuple(shape),
        tuple(order_by),
    )
    plan = cache.get(key)
    if plan is None:
        plan = cache[key] = _joined_select(root, alias, *key[1:])
    with connection.cursor() as cursor:
        cursor.execute(plan.sql, params)
        rows = cursor.fetchall()
    return [_hydrate(plan, row, connection) for row in rows]  # type: ignore[misc]


def _hydrate(plan: _JoinedSelect, row: Sequence[Any], connection: BaseDatabaseWrapper) -> Model:
    instances: list[Model | None] = []
    position = 0
    for part in plan.parts:
        values = row[position : position + len(part.fields)]
        position += len(part.fields)
        parent = instances[part.parent] if part.parent is not None else None
        if part.parent is not None and parent is None:
            instances.append(None)  # below a missing row: missing too
            continue
        if values[part.pk_index] is None:
            instance = None
        else:
            instance = part.model.from_db(
                plan.alias, part.attnames, _converted(part, values, connection)
            )
        if part.link is not None and parent is not None:
            part.link.set_cached_value(parent, instance)
            if isinstance(part.link, OneToOneRel) and instance is not None:
                part.link.field.set_cached_value(instance, parent)  # and back, as the ORM does
        instances.append(instance)
    found = instances[0]
    assert found is not None
    for name, value in zip(plan.counts, row[position:], strict=True):
        setattr(found, name, int(value))
    return found


def joined_row[M: Model](
    root: type[M],
    pk: Any,
    paths: dict[str, tuple[str, ...]],
    *,
    counts: dict[str, tuple[type[Model], str, str]] | None = None,
) -> M | None:
    """One ``root`` row by primary key, as ``joined_rows`` reads them; None if there is none."""
    pk_name = root._meta.pk.name if root._meta.pk else "id"
    found = joined_rows(root, paths, where=[(pk_name, "=", pk)], counts=counts)
    return found[0] if found else None
