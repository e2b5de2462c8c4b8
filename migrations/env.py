"""Alembic environment, run inside the app (flask db ...).

Migrations run as the table owner: MIGRATION_DATABASE_URL when set (PostgreSQL with row-level security, where
the app's own role must not own the tables), else the app's database URL.
"""
import logging
from logging.config import fileConfig

import sqlalchemy as sa
from alembic import context
from flask import current_app

from propsaas.tenancy import rls
from propsaas.tenancy.context import platform_scope

config = context.config
# Keep the app's loggers alive when migrations run inside it (tests, scripts).
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger('alembic.env')
target_db = current_app.extensions['migrate'].db


def get_engine():
    url = current_app.config.get('MIGRATION_DATABASE_URL')
    return sa.create_engine(url, poolclass=sa.pool.NullPool) if url else target_db.engine


config.set_main_option('sqlalchemy.url', get_engine().url.render_as_string(hide_password=False).replace('%', '%%'))

def process_revision_directives(context, revision, directives):
    # Every new table with tenant_id gets its row-level security in the same migration, without anyone remembering.
    rls.add_rls_to_new_tenant_tables(context, revision, directives)
    if getattr(config.cmd_opts, 'autogenerate', False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        logger.info('No changes in schema detected.')


def run_migrations_offline():
    context.configure(url=config.get_main_option('sqlalchemy.url'), target_metadata=target_db.metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    conf_args = dict(current_app.extensions['migrate'].configure_args)
    conf_args.setdefault('process_revision_directives', process_revision_directives)
    engine = get_engine()
    rls.install(engine)
    # Migrations are platform work: a data migration sees every tenant's rows, explicitly.
    with platform_scope(), engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_db.metadata, **conf_args)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
