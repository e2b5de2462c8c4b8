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


@event.listens_for(Session, 'do_orm_execute')
def _scope_statement(state) -> None:
    if not (state.is_select or state.is_update or state.is_delete) or state.is_column_load:
        return
    if in_platform_scope():
        return
    tenant_id = current_tenant_id()
    if tenant_id is None:
        if _touches_scoped_table(state.statement):
            raise NoTenantError('tenant-scoped data queried with no tenant set; use tenant_scope() or platform_scope()')
        return
    statement = state.statement
    if state.is_select and _has_core_froms(statement, state):
        statement = _scope_plain_selects(statement, tenant_id)
    # Added to every statement while a tenant is set: it only affects the scoped entities it finds.
    state.statement = statement.options(
        with_loader_criteria(TenantScoped, lambda cls: cls.tenant_id == tenant_id, include_aliases=True)
    )


#: statement -> whether it nests a SELECT; statements built once and run on every request are looked at once
_NESTED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _has_core_froms(statement, state) -> bool:
    """Whether a scoped table can be in some FROM without its entity: an entity-free statement
    (``select(func.count()).select_from(Room)``) or any nested SELECT (EXISTS, IN, scalar and derived subqueries),
    whose tables the entity criteria don't reach."""
    if not state.all_mappers:
        return True
    nested = _NESTED.get(statement)
    if nested is None:
        nested = _NESTED[statement] = any(isinstance(element, sa.sql.selectable.Select) and element is not statement
                                          for element in visitors.iterate(statement))
    return nested


def _scope_plain_selects(statement, tenant_id):
    """Every SELECT in the statement, nested ones included, gets ``tenant_id = :current`` for each scoped table that
    stands in its own FROM (correlated tables belong to the enclosing SELECT, which gets them)."""
    scoped = _scoped_tables()

    def visit_select(select) -> None:
        criteria = tuple(table.c.tenant_id == tenant_id for table in _plain_tables(_final_froms(select))
                         if table in scoped)
        if criteria:
            select._where_criteria += criteria  # the clone made for this statement, never the caller's object

    # Loader options (joinedload, loader criteria) are not clause elements and can't be cloned: set them aside.
    options = statement._with_options
    bare = statement._generate()
    bare._with_options = ()
    scoped_statement = visitors.cloned_traverse(bare, {}, {'select': visit_select})
    scoped_statement._with_options = options
    return scoped_statement


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
