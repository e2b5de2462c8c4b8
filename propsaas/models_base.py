"""Small shared pieces of the models: UTC timestamps and a scoped ``get_or_404``."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import abort

from .extensions import db

#: ids are 32-bit integers on PostgreSQL
MAX_ID = 2**31 - 1


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class UTCDateTime(sa.types.TypeDecorator):
    """Naive UTC in the database (same on SQLite and PostgreSQL), aware UTC in Python."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        return value.replace(tzinfo=UTC) if value is not None else None


def get_or_404(model, ident: int):
    """Load one row by id through the scoped session; another tenant's row is a 404 like a missing one.

    Always runs a SELECT (never an identity-map shortcut) so the tenant criteria apply.
    """
    try:
        ident = int(ident)
    except (TypeError, ValueError):
        abort(404)
    if not 0 < ident <= MAX_ID:  # ids past the column's range would make the database raise, not miss
        abort(404)
    obj = db.session.execute(sa.select(model).where(model.id == ident)).scalar_one_or_none()
    if obj is None:
        abort(404)
    return obj


@dataclass
class Page:
    """A page of rows (for selects of several columns, which ``db.paginate`` can't do), shaped like Flask-SQLAlchemy's
    Pagination for the templates' pager."""

    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def page_of(query: sa.Select, page: int, per_page: int) -> Page:
    """Two statements whatever the page: the count and the rows."""
    page = max(int(page or 1), 1)
    total = db.session.execute(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    rows = db.session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    return Page(items=list(rows), page=page, per_page=per_page, total=total)
