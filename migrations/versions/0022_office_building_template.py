"""projects provisioned from the office template under its old name (standard-office) name it office-building

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03 17:00:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    # The folder was renamed; `notices add-templates` and the operator console find a project's template by name.
    op.execute("UPDATE tenants SET template = 'office-building' WHERE template = 'standard-office'")


def downgrade():
    op.execute("UPDATE tenants SET template = 'standard-office' WHERE template = 'office-building'")
