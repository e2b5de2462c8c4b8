"""row-level security on every table with tenant_id (PostgreSQL; nothing on SQLite)

Revision ID: 0002
Revises: 0001
"""
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

TABLES = ('users', 'access_tokens', 'job_records', 'tenant_hostnames')


def upgrade():
    for table in TABLES:
        op.enable_tenant_rls(table)


def downgrade():
    for table in TABLES:
        op.disable_tenant_rls(table)
