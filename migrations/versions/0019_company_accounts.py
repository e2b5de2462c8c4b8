"""company accounts: sign-ups, company logins and sessions, login links into projects

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    # Platform tables (no tenant_id, no row-level security): a company spans projects.
    op.create_table('company_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('contact_name', sa.String(length=60), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('mobile', sa.String(length=11), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_login_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_company_accounts_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_company_accounts')),
    sa.UniqueConstraint('email', name=op.f('uq_company_accounts_email')),
    sa.UniqueConstraint('mobile', name=op.f('uq_company_accounts_mobile')),
    sa.UniqueConstraint('organization_id', name=op.f('uq_company_accounts_organization_id'))
    )
    op.create_table('company_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['company_accounts.id'], name=op.f('fk_company_sessions_account_id_company_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_company_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_company_sessions_token_hash'))
    )
    with op.batch_alter_table('company_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_company_sessions_account_id'), ['account_id'], unique=False)

    op.create_table('company_signups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_name', sa.String(length=120), nullable=False),
    sa.Column('contact_name', sa.String(length=60), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('mobile', sa.String(length=11), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('project_name', sa.String(length=120), nullable=False),
    sa.Column('project_slug', sa.String(length=63), nullable=False),
    sa.Column('template', sa.String(length=63), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('reject_reason', sa.String(length=200), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status in ('verifying', 'pending', 'done', 'rejected')", name=op.f('ck_company_signups_status')),
    sa.ForeignKeyConstraint(['account_id'], ['company_accounts.id'], name=op.f('fk_company_signups_account_id_company_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['operators.id'], name=op.f('fk_company_signups_decided_by_id_operators'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['tenants.id'], name=op.f('fk_company_signups_project_id_tenants'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_company_signups'))
    )
    with op.batch_alter_table('company_signups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_company_signups_email'), ['email'], unique=False)
        batch_op.create_index('ix_company_signups_status', ['status', 'created_at'], unique=False)

    op.create_table('project_login_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('user_email', sa.String(length=254), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['company_accounts.id'], name=op.f('fk_project_login_links_account_id_company_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['tenants.id'], name=op.f('fk_project_login_links_project_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_project_login_links_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_login_links')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_project_login_links_token_hash'))
    )
    with op.batch_alter_table('project_login_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_login_links_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_login_links_project_id'), ['project_id'], unique=False)


def downgrade():
    with op.batch_alter_table('project_login_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_login_links_project_id'))
        batch_op.drop_index(batch_op.f('ix_project_login_links_account_id'))

    op.drop_table('project_login_links')
    with op.batch_alter_table('company_signups', schema=None) as batch_op:
        batch_op.drop_index('ix_company_signups_status')
        batch_op.drop_index(batch_op.f('ix_company_signups_email'))

    op.drop_table('company_signups')
    with op.batch_alter_table('company_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_company_sessions_account_id'))

    op.drop_table('company_sessions')
    op.drop_table('company_accounts')
