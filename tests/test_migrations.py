"""The schema under test comes from the migrations; models and migrations must agree."""
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata, render_python_code
from alembic.migration import MigrationContext
from alembic.operations import ops

from propsaas.extensions import db
from propsaas.tenancy.rls import EnableTenantRLSOp, add_rls_to_new_tenant_tables


def test_models_match_the_migrated_schema(app):
    """A model change without a migration fails here (the test database was built by `flask db upgrade`)."""
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={'compare_type': True})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f'models and migrations differ, run `flask --app wsgi db migrate`: {diff}'


def test_autogenerate_adds_rls_to_new_tenant_tables():
    script = ops.MigrationScript('x', ops.UpgradeOps(ops=[
        ops.CreateTableOp('rooms', [sa.Column('id', sa.Integer), sa.Column('tenant_id', sa.Integer)]),
        ops.CreateTableOp('holidays', [sa.Column('id', sa.Integer)]),
    ]), ops.DowngradeOps(ops=[]))
    add_rls_to_new_tenant_tables(None, None, [script])
    kinds = [type(op).__name__ for op in script.upgrade_ops.ops]
    assert kinds == ['CreateTableOp', 'EnableTenantRLSOp', 'CreateTableOp']
    assert isinstance(script.upgrade_ops.ops[1], EnableTenantRLSOp)
    assert "op.enable_tenant_rls('rooms')" in render_python_code(script.upgrade_ops)
