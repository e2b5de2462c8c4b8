"""staff messages: a message goes to a resident or to a staff user

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 12:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('user_id', sa.Integer(), nullable=True))
        batch_op.alter_column('resident_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key(batch_op.f('fk_messages_user_id_users'), 'users', ['user_id'], ['id'],
                                    ondelete='CASCADE')
        batch_op.create_unique_constraint(batch_op.f('uq_messages_tenant_id_source_key_user_id'),
                                          ['tenant_id', 'source_key', 'user_id'])
        batch_op.create_check_constraint('one_recipient', '(resident_id is null) <> (user_id is null)')
        batch_op.create_index('ix_messages_staff_inbox', ['tenant_id', 'user_id', 'read_at'], unique=False)


def downgrade():
    op.execute('DELETE FROM deliveries WHERE message_id IN (SELECT id FROM messages WHERE user_id IS NOT NULL)')
    op.execute('DELETE FROM messages WHERE user_id IS NOT NULL')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_staff_inbox')
        batch_op.drop_constraint(batch_op.f('ck_messages_one_recipient'), type_='check')
        batch_op.drop_constraint(batch_op.f('uq_messages_tenant_id_source_key_user_id'), type_='unique')
        batch_op.drop_constraint(batch_op.f('fk_messages_user_id_users'), type_='foreignkey')
        batch_op.alter_column('resident_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('user_id')
