"""Fail-closed tenant scoping on the ORM session (SQLAlchemy's global-criteria recipe).

- every SELECT, UPDATE and DELETE that touches a ``TenantScoped`` model gets ``tenant_id = :current``;
- with no tenant set (and not in ``platform_scope()``) such a statement raises ``NoTenantError``;
- new rows are stamped with the current tenant; a row of another tenant can't be written, its
  ``tenant_id`` can't change, and it can't be attached to a row of this tenant;
- rows loaded are checked again, so an identity-map hit can't hand over another tenant's object.
"""
from __future__ import annotations

import weakref

import sqlalchemy as sa
from sqlalchemy import event, inspect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column, with_loader_criteria
from sqlalchemy.orm.interfaces import MANYTOONE
from sqlalchemy.sql import visitors

from .context import CrossTenantError, NoTenantError, current_tenant_id, in_platform_scope


class TenantScoped:
    """Mixin for every table a tenant owns: ``tenant_id`` not null, indexed, immutable."""

    @declared_attr
    def tenant_id(cls) -> Mapped[int]:
        return mapped_column(sa.ForeignKey('tenants.id', ondelete='RESTRICT'), nullable=False, index=True)


def _scoped_tables() -> set:
    from ..extensions import db

    return {m.local_table for m in db.Model.registry.mappers if issubclass(m.class_, TenantScoped)}


def _touches_scoped_table(statement) -> bool:
    """Walk the whole statement: ``select(func.count()).select_from(User)`` names no entity, only a table."""
    scoped = _scoped_tables()
    return any(isinstance(element, sa.Table) and element in scoped for element in visitors.iterate(statement))


def _tenant_for_sql() -> int:
    tenant_id = current_tenant_id()
    if tenant_id is None:
        raise NoTenantError('a tenant-scoped statement ran with no tenant set')
    return tenant_id


#: the current tenant as a parameter read each time a statement runs, not when it is built or compiled: the
#: statements and the SQL compiled from them (SQLAlchemy's compiled cache) are shared by every tenant
_CURRENT_TENANT = sa.bindparam('scoped_tenant_id', type_=sa.Integer, callable_=_tenant_for_sql)

#: added to every statement while a tenant is set: it only affects the scoped entities it finds. It is also the mark
#: that makes the compiler scope every SELECT in the statement (_compile_select below), and, being part of the
#: statement's cache key, keeps the SQL compiled for a tenant apart from the SQL compiled in platform scope.
_TENANT_CRITERIA = with_loader_criteria(TenantScoped, lambda cls: cls.tenant_id == _CURRENT_TENANT,
                                        include_aliases=True)

#: statement -> the same with _TENANT_CRITERIA: a statement built once and run on every request (see
#: core.prepared) is scoped once, and SQLAlchemy keeps the scoped one's cache key instead of walking it each time
_SCOPED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@event.listens_for(Session, 'do_orm_execute')
def _scope_statement(state) -> None:
    if not (state.is_select or state.is_update or state.is_delete) or state.is_column_load:
        return
    if in_platform_scope():
        return
    if current_tenant_id() is None:
        if _touches_scoped_table(state.statement):
            raise NoTenantError('tenant-scoped data queried with no tenant set; use tenant_scope() or platform_scope()')
        return
    statement = state.statement
    scoped = _SCOPED.get(statement)
    if scoped is None:
        scoped = _SCOPED[statement] = statement.options(_TENANT_CRITERIA)
    state.statement = scoped


def _is_tenant_scoped(statement) -> bool:
    return _TENANT_CRITERIA in getattr(statement, '_with_options', ())


@compiles(sa.sql.Select)
def _compile_select(select, compiler, **kw):
    """Every SELECT of a tenant-scoped statement, nested ones included (EXISTS, IN, scalar and derived subqueries,
    CTEs, whose tables the entity criteria don't reach), gets ``tenant_id = :current`` for each scoped table in its
    own FROM.

    Done as the SQL is compiled, which happens once per statement shape (SQLAlchemy's compiled cache), rather than
    by copying every statement before it runs: that copy was the largest cost of pages of aggregates."""
    if _is_tenant_scoped(getattr(compiler, 'statement', None)):
        scoped = _scoped_tables()
        criteria = [table.c.tenant_id == _CURRENT_TENANT for table in _plain_tables(_final_froms(select))
                    if table in scoped]
        if criteria:
            select = select.where(*criteria)  # a copy: the caller's statement is left as it was
    return compiler.visit_select(select, **kw)


def _final_froms(select) -> list:
    """``select.get_final_froms()`` without its cost: SQLAlchemy compiles the whole statement to SQL only to have a
    compiler to hand to the compile state, which needs one with an empty stack (a top-level statement), not the SQL.
    An empty compiler does that; compiling each nested SELECT of every scoped statement was most of the scoping's
    time on pages of aggregates (the dashboard)."""
    dialect = select._default_dialect()
    return select._compile_state_factory(select, dialect.statement_compiler(dialect, None))._get_display_froms()


def _plain_tables(froms):
    """Tables that stand in FROM themselves (alone or in joins), not inside aliases or subqueries.

    The nullable side of an outer join is left out: a WHERE on it would drop the rows it doesn't match (the
    entity criteria put its filter in the ON clause instead).
    """
    for element in froms:
        if isinstance(element, sa.Table):
            yield element
        elif isinstance(element, sa.sql.selectable.Join):
            if element.full:
                continue
            yield from _plain_tables([element.left] if element.isouter else [element.left, element.right])


@event.listens_for(TenantScoped, 'load', propagate=True)
def _check_loaded(obj, context) -> None:
    if in_platform_scope():
        return
    if obj.tenant_id != current_tenant_id():
        raise CrossTenantError(f'{type(obj).__name__} of another tenant loaded')


@event.listens_for(Session, 'before_flush')
def _stamp_and_check(session, flush_context, instances) -> None:
    platform = in_platform_scope()
    tenant_id = current_tenant_id()
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, TenantScoped):
            continue
        state = inspect(obj)
        if obj in session.new and obj.tenant_id is None:
            if tenant_id is None:
                raise NoTenantError(f'new {type(obj).__name__} with no tenant set')
            obj.tenant_id = tenant_id
        history = state.attrs.tenant_id.history
        if state.persistent and history.deleted and history.deleted[0] is not None:
            raise CrossTenantError(f'{type(obj).__name__}.tenant_id is immutable')
        if not platform and obj.tenant_id != tenant_id:
            raise CrossTenantError(f'{type(obj).__name__} of another tenant written')
        for rel in state.mapper.relationships:
            if rel.direction is not MANYTOONE:
                continue
            other = state.attrs[rel.key].loaded_value
            if isinstance(other, TenantScoped) and other.tenant_id is not None and other.tenant_id != obj.tenant_id:
                raise CrossTenantError(f'{type(other).__name__} of another tenant attached to {type(obj).__name__}')
    for obj in session.deleted:
        if isinstance(obj, TenantScoped) and not platform and obj.tenant_id != tenant_id:
            raise CrossTenantError(f'{type(obj).__name__} of another tenant deleted')
