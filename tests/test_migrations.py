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


def test_projects_of_the_renamed_office_template_are_renamed_too(tmp_path):
    """Migration 0022: a project provisioned from `standard-office` names `office-building` afterwards (and back)."""
    from flask_migrate import downgrade, upgrade

    from propsaas import create_app

    url = f'sqlite:///{tmp_path}/renamed.db'
    other = create_app({'TESTING': True, 'SQLALCHEMY_DATABASE_URI': url, 'FILES_DIR': str(tmp_path / 'files'),
                        'REDIS_URL': None, 'RATELIMIT_STORAGE_URI': 'memory://'})
    with other.app_context():
        upgrade(revision='0021')
        with db.engine.begin() as conn:
            for slug, template in (('old-office', 'standard-office'), ('homes', 'standard-residential')):
                conn.execute(sa.text("INSERT INTO tenants (slug, name, status, timezone, locale, template, settings, "
                                     "created_at) VALUES (:slug, :slug, 'active', 'Asia/Shanghai', 'zh_CN', :t, '{}', "
                                     "'2026-01-01 00:00:00')"), {'slug': slug, 't': template})

        def templates():
            with db.engine.connect() as conn:
                return dict(conn.execute(sa.text('SELECT slug, template FROM tenants')).all())

        upgrade(revision='0022')
        assert templates() == {'old-office': 'office-building', 'homes': 'standard-residential'}
        downgrade(revision='0021')
        assert templates() == {'old-office': 'standard-office', 'homes': 'standard-residential'}
        db.engine.dispose()
