"""row-level security policies evaluate the tenant setting once per query, not once per row

Revision ID: 0004
Revises: 0003
"""
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

TABLES = ('users', 'access_tokens', 'job_records', 'tenant_hostnames')


def upgrade():
    for table in TABLES:
        op.enable_tenant_rls(table)  # re-creates the policy with the current condition


def downgrade():
    pass  # the older condition was equivalent, only slower
