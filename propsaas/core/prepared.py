"""Statements built once and run many times with bind parameters.

Building a SELECT in Python (a dozen CASE branches, subqueries, window functions) can cost more than running it,
and SQLAlchemy walks every new statement again to find its cached SQL. A page of aggregates (the dashboard) spent
more time building its statements than the database spent answering them. A prepared statement is built once per
process, database dialect and *shape* (the arguments that change its SQL, such as the number of months); the
values that change from one run to the next are named bind parameters, given when it runs::

    @prepared
    def _orders_per_month(months: int):
        starts = [sa.bindparam(f'start_{i}') for i in range(months)]
        return sa.select(...)

    db.session.execute(_orders_per_month(12), {'start_0': ..., ...})

Tenant scoping is unaffected: it is added when the statement runs (tenancy.scoping), with the tenant read then,
so one prepared statement serves every tenant. A builder must not read the tenant, the clock or the request.
"""
from __future__ import annotations

import functools

from ..extensions import db


def prepared(build):
    """Decorate a builder of a statement: calling it returns the statement built for this dialect and these
    arguments, building it the first time only."""
    built: dict[tuple, object] = {}

    @functools.wraps(build)
    def statement(*shape):
        key = (db.session.get_bind().dialect.name, *shape)
        found = built.get(key)
        if found is None:
            found = built[key] = build(*shape)
        return found

    return statement
