"""The second wall on PostgreSQL: row-level security holds even where the ORM wall is bypassed."""
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from propsaas import create_app
from propsaas.auth import services as auth_services
from propsaas.auth.models import User
from propsaas.extensions import db
from propsaas.tenancy.context import platform_scope, tenant_scope

on_postgres = pytest.mark.skipif(not os.environ.get('TEST_DATABASE_URL'),
                                 reason='row-level security needs PostgreSQL (set TEST_DATABASE_URL)')


@pytest.fixture
def pair(make_tenant, make_user):
    a, b = make_tenant(name='RLS-A'), make_tenant(name='RLS-B')
    for i in range(3):
        make_user(a, 'resident', name=f'A-{i}')
        make_user(b, 'resident', name=f'B-{i}')
    return a, b


@on_postgres
def test_every_tenant_table_has_forced_rls_and_a_policy(app):
    with app.app_context(), platform_scope():
        rows = db.session.execute(sa.text("""
            SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                   EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid) AS has_policy
            FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
            JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
            WHERE c.relkind = 'r'""")).all()
    assert {r.relname for r in rows} >= {'users', 'access_tokens', 'job_records', 'tenant_hostnames'}
    for row in rows:
        assert row.relrowsecurity and row.relforcerowsecurity and row.has_policy, f'{row.relname} lacks RLS'


@on_postgres
def test_app_role_cannot_bypass(app):
    with app.app_context(), platform_scope():
        role = db.session.execute(sa.text(
            'SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user')).one()
        assert not role.rolsuper and not role.rolbypassrls
        owned = db.session.execute(sa.text(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user")).scalar()
        assert owned == 0
        with pytest.raises(sa.exc.ProgrammingError):  # not the owner: can't switch the wall off
            db.session.execute(sa.text('ALTER TABLE users DISABLE ROW LEVEL SECURITY'))
        db.session.rollback()


@on_postgres
def test_raw_sql_sees_only_the_current_tenant(app, pair):
    a, b = pair
    with app.app_context():
        with tenant_scope(a.id):
            names = db.session.execute(sa.text('SELECT name FROM users')).scalars().all()
            assert names and all(n.startswith('A-') or n == '管理员' for n in names)
            assert db.session.execute(sa.text('SELECT count(*) FROM users WHERE tenant_id = :b'),
                                      {'b': b.id}).scalar() == 0
            db.session.commit()
        # No tenant at all: nothing, not everything.
        assert db.session.execute(sa.text('SELECT count(*) FROM users')).scalar() == 0
        db.session.rollback()


@on_postgres
def test_rows_of_another_tenant_cannot_be_written_with_raw_sql(app, pair):
    a, b = pair
    with app.app_context(), tenant_scope(a.id):
        updated = db.session.execute(sa.text("UPDATE users SET name = 'pwned' WHERE tenant_id = :b"), {'b': b.id})
        assert updated.rowcount == 0
        with pytest.raises(sa.exc.ProgrammingError, match='row-level security'):
            db.session.execute(sa.text(
                "INSERT INTO users (tenant_id, name, role, duties, active, created_at) "
                "VALUES (:b, 'planted', 'resident', '[]', true, now())"), {'b': b.id})
        db.session.rollback()


@on_postgres
def test_pooled_connection_carries_no_tenant_into_the_next_transaction(app, pair):
    a, _b = pair
    with app.app_context():
        engine = db.engine
    with engine.connect() as conn:
        with tenant_scope(a.id):
            assert conn.execute(sa.text("SELECT current_setting('app.tenant_id', true)")).scalar() == str(a.id)
            conn.commit()
        raw = conn.connection.dbapi_connection  # bypass every hook: what is really left on the connection?
        with raw.cursor() as cursor:
            cursor.execute("SELECT coalesce(current_setting('app.tenant_id', true), '')")
            assert cursor.fetchone()[0] == ''


def test_200_concurrent_requests_alternating_tenants_over_a_small_pool(app, pair, in_tenant):
    """A real threaded server, a pool of 2 connections, 200 requests in 20 threads: no row of the other tenant."""
    a, b = pair
    tokens = {}
    for tenant in (a, b):
        with in_tenant(tenant) as session:
            admin = session.execute(sa.select(User).where(User.role == 'admin')).scalar_one()
            tokens[tenant.slug], _ = auth_services.issue_api_token(admin)
    small = create_app({**{k: app.config[k] for k in ('SQLALCHEMY_DATABASE_URI', 'FILES_DIR', 'BASE_DOMAIN')},
                        'REDIS_URL': None, 'RATELIMIT_STORAGE_URI': 'memory://',
                        'SQLALCHEMY_ENGINE_OPTIONS': {'pool_size': 2, 'max_overflow': 0, 'pool_timeout': 30}})
    server = make_server('127.0.0.1', 0, small, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def fetch(i):
        tenant = (a, b)[i % 2]
        conn = HTTPConnection('127.0.0.1', server.server_port, timeout=30)
        conn.request('GET', '/api/v1/users?per_page=100', headers={
            'Host': f'{tenant.slug}.localhost', 'Authorization': f'Bearer {tokens[tenant.slug]}'})
        response = conn.getresponse()
        body = response.read()
        conn.close()
        return tenant, response.status, body

    try:
        import json
        with ThreadPoolExecutor(max_workers=20) as pool:
            results = list(pool.map(fetch, range(200)))
    finally:
        server.shutdown()
        with small.app_context():
            db.engine.dispose()
    assert len(results) == 200
    for tenant, status, body in results:
        assert status == 200, body
        names = {item['name'] for item in json.loads(body)['items']}
        mine = 'A-' if tenant is a else 'B-'
        assert names - {'管理员'} == {f'{mine}{i}' for i in range(3)}
