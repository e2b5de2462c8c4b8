"""The second wall: PostgreSQL row-level security on every table with ``tenant_id``.

Policies compare ``tenant_id`` with the transaction's setting ``app.tenant_id``; platform code
(``platform_scope()``) sets ``app.platform = 'on'``, which the policies recognise explicitly. The application
connects as a role that is not superuser, has no BYPASSRLS and does not own the tables (so FORCE applies and
nothing can switch the policies off); migrations run as the owner role.

The settings are set with ``set_config(..., true)``, i.e. ``SET LOCAL``: they vanish when the transaction ends,
so a pooled connection never carries a tenant into the next request. They are (re)sent just before a statement
whenever the tenant context differs from what this transaction already has, which covers ORM and raw
``text()`` SQL alike.

Migrations call ``op.enable_tenant_rls('table')`` (registered below); autogenerate adds it by itself for every
new table with a ``tenant_id`` column (see ``migrations/env.py``). On SQLite the operation does nothing and the
ORM wall stands alone.
"""
from __future__ import annotations

from alembic.autogenerate import renderers, rewriter
from alembic.operations import MigrateOperation, Operations, ops
from sqlalchemy import event
from sqlalchemy.engine import Engine

from .context import current_tenant_id, in_platform_scope

_STATE_KEY = 'propsaas_rls'

FUNCTIONS_SQL = """
CREATE OR REPLACE FUNCTION app_current_tenant() RETURNS integer
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::integer $$;
CREATE OR REPLACE FUNCTION app_platform_scope() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(current_setting('app.platform', true), '') = 'on' $$;
"""


def policy_sql(table: str) -> list[str]:
    # Sub-selects make PostgreSQL evaluate each function once per query (an InitPlan), not once per row.
    condition = '(tenant_id = (SELECT app_current_tenant()) OR (SELECT app_platform_scope()))'
    return [
        f'ALTER TABLE {table} ENABLE ROW LEVEL SECURITY',
        f'ALTER TABLE {table} FORCE ROW LEVEL SECURITY',
        f'DROP POLICY IF EXISTS tenant_isolation ON {table}',
        f'CREATE POLICY tenant_isolation ON {table} USING {condition} WITH CHECK {condition}',
    ]


# --- the migration operation ----------------------------------------------------------------------------------

@Operations.register_operation('enable_tenant_rls')
class EnableTenantRLSOp(MigrateOperation):
    def __init__(self, table_name: str):
        self.table_name = table_name

    @classmethod
    def enable_tenant_rls(cls, operations, table_name: str):
        return operations.invoke(cls(table_name))

    def reverse(self):
        return DisableTenantRLSOp(self.table_name)


@Operations.register_operation('disable_tenant_rls')
class DisableTenantRLSOp(MigrateOperation):
    def __init__(self, table_name: str):
        self.table_name = table_name

    @classmethod
    def disable_tenant_rls(cls, operations, table_name: str):
        return operations.invoke(cls(table_name))

    def reverse(self):
        return EnableTenantRLSOp(self.table_name)


@Operations.implementation_for(EnableTenantRLSOp)
def _enable(operations, operation) -> None:
    if operations.get_bind().dialect.name != 'postgresql':
        return
    operations.execute(FUNCTIONS_SQL)
    for statement in policy_sql(operation.table_name):
        operations.execute(statement)


@Operations.implementation_for(DisableTenantRLSOp)
def _disable(operations, operation) -> None:
    if operations.get_bind().dialect.name != 'postgresql':
        return
    operations.execute(f'DROP POLICY IF EXISTS tenant_isolation ON {operation.table_name}')
    operations.execute(f'ALTER TABLE {operation.table_name} NO FORCE ROW LEVEL SECURITY')
    operations.execute(f'ALTER TABLE {operation.table_name} DISABLE ROW LEVEL SECURITY')


@renderers.dispatch_for(EnableTenantRLSOp)
def _render_enable(autogen_context, op) -> str:
    return f'op.enable_tenant_rls({op.table_name!r})'


@renderers.dispatch_for(DisableTenantRLSOp)
def _render_disable(autogen_context, op) -> str:
    return f'op.disable_tenant_rls({op.table_name!r})'


add_rls_to_new_tenant_tables = rewriter.Rewriter()


@add_rls_to_new_tenant_tables.rewrites(ops.CreateTableOp)
def _create_table_with_rls(context, revision, op):
    """Autogenerate: a new table with a tenant_id column is followed by ``op.enable_tenant_rls(...)``."""
    if any(getattr(column, 'name', None) == 'tenant_id' for column in op.columns):
        return [op, EnableTenantRLSOp(op.table_name)]
    return op


# --- per-transaction settings -----------------------------------------------------------------------------------

def _wanted() -> tuple[str, str]:
    tenant_id = current_tenant_id()
    return ('' if tenant_id is None else str(int(tenant_id)), 'on' if in_platform_scope() else '')


def _forget(conn, *args) -> None:
    conn.info.pop(_STATE_KEY, None)


def _apply(conn, cursor, statement, parameters, context, executemany) -> None:
    wanted = _wanted()
    if conn.info.get(_STATE_KEY) == wanted:
        return
    # Same cursor, same transaction, before the statement: SET LOCAL semantics, nothing survives the transaction.
    cursor.execute("SELECT set_config('app.tenant_id', %(tenant)s, true), "
                   "set_config('app.platform', %(platform)s, true)",
                   {'tenant': wanted[0], 'platform': wanted[1]})
    conn.info[_STATE_KEY] = wanted


def install(engine: Engine) -> None:
    """Send the tenant settings on every PostgreSQL transaction of ``engine`` (no-op on other databases)."""
    if engine.dialect.name != 'postgresql' or event.contains(engine, 'before_cursor_execute', _apply):
        return
    event.listen(engine, 'begin', _forget)
    event.listen(engine, 'commit', _forget)
    event.listen(engine, 'rollback', _forget)
    event.listen(engine, 'before_cursor_execute', _apply)


# --- database roles ---------------------------------------------------------------------------------------------

def roles_sql(owner: str, app_role: str) -> list[str]:
    """Create the two roles if missing (run as a superuser, once per server)."""
    return [
        f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{owner}') THEN "
        f"CREATE ROLE {owner} LOGIN NOSUPERUSER NOBYPASSRLS; END IF; END $$",
        f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{app_role}') THEN "
        f"CREATE ROLE {app_role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE; END IF; END $$",
        f'ALTER ROLE {app_role} NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE',
    ]


def database_grants_sql(owner: str, app_role: str) -> list[str]:
    """Inside the application's database: the app role may read and write rows of the owner's tables."""
    return [
        f'GRANT USAGE ON SCHEMA public TO {app_role}',
        f'ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public '
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app_role}',
        f'ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {app_role}',
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {app_role}',
        f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {app_role}',
    ]


#: advisory lock key held while the roles are created: parallel test workers and benchmarks start together
ROLES_LOCK = 727001


def create_database(admin_engine, name: str, owner: str, app_role: str) -> None:
    """As a superuser (an AUTOCOMMIT engine): the two roles, one process at a time (else ALTER ROLE fails with
    "tuple concurrently updated"), the database owned by ``owner``, and ``app_role``'s grants inside it.

    A database whose grants fail is dropped again, so the caller has nothing half-made to clean up.
    """
    import sqlalchemy as sa

    with admin_engine.connect() as conn:
        conn.execute(sa.text('SELECT pg_advisory_lock(:key)'), {'key': ROLES_LOCK})
        try:
            for statement in roles_sql(owner, app_role):
                conn.execute(sa.text(statement))
        finally:
            conn.execute(sa.text('SELECT pg_advisory_unlock(:key)'), {'key': ROLES_LOCK})
        conn.execute(sa.text(f'CREATE DATABASE {name} OWNER {owner}'))
    inside = sa.create_engine(admin_engine.url.set(database=name), isolation_level='AUTOCOMMIT',
                              poolclass=sa.pool.NullPool)
    try:
        with inside.connect() as conn:
            for statement in database_grants_sql(owner, app_role):
                conn.execute(sa.text(statement))
    except BaseException:
        with admin_engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS {name} WITH (FORCE)'))
        raise
    finally:
        inside.dispose()
