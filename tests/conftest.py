"""Shared fixtures: one app and one migrated database per test process, tenants made fresh per test.

Tenants keep tests apart: every test makes its own tenants (unique slugs), so no test needs to clean up and
tests can run in parallel. The database under test is SQLite unless TEST_DATABASE_URL names PostgreSQL;
each xdist worker gets its own database, built from the migrations (so a model change without a migration
fails the schema check).
"""
from __future__ import annotations

import itertools
import os
import uuid
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer

from propsaas import create_app
from propsaas.auth import services as auth_services
from propsaas.auth.models import Operator, User
from propsaas.auth.passwords import hash_password
from propsaas.extensions import db
from propsaas.tenancy import provisioning, rls
from propsaas.tenancy.context import tenant_scope

PASSWORD = 'Correct-Horse-42'
CSRF_RAW = 'test-csrf-raw-token'
_counter = itertools.count(1)


def _worker() -> str:
    return os.environ.get('PYTEST_XDIST_WORKER', 'gw0')


OWNER_ROLE, APP_ROLE = 'propsaas_owner', 'propsaas_app'


def _database_urls(tmp_root) -> tuple[str, str | None]:
    """(the app's URL, the migration owner's URL or None)."""
    url = os.environ.get('TEST_DATABASE_URL')
    if not url:
        return f'sqlite:///{tmp_root / f"test-{_worker()}.db"}', None
    # One database per xdist worker on the server TEST_DATABASE_URL names (as a superuser), owned by the owner
    # role; the app connects as the app role, which owns nothing and can't bypass row-level security.
    admin = sa.create_engine(url.replace('postgresql://', 'postgresql+psycopg://', 1), isolation_level='AUTOCOMMIT')
    # Per run and per worker: two runs against one server (a laptop, CI) never drop each other's database.
    run = os.environ.get('PYTEST_XDIST_TESTRUNUID', uuid.uuid4().hex)[:8]
    name = f'propsaas_test_{run}_{_worker()}'
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS {name} WITH (FORCE)'))
    rls.create_database(admin, name, OWNER_ROLE, APP_ROLE)
    admin.dispose()
    base = admin.url.set(database=name, password=None)
    return (base.set(username=APP_ROLE).render_as_string(hide_password=False),
            base.set(username=OWNER_ROLE).render_as_string(hide_password=False))


def pytest_report_header(config):
    url = os.environ.get('TEST_DATABASE_URL')
    return f'database: {"PostgreSQL " + url if url else "SQLite"}; redis: {os.environ.get("TEST_REDIS_URL") or "none"}'


@pytest.fixture(scope='session')
def app(tmp_path_factory):
    tmp_root = tmp_path_factory.mktemp('propsaas')
    os.environ['PROPSAAS_INSTANCE_DIR'] = str(tmp_root / 'instance')
    app_url, owner_url = _database_urls(tmp_root)
    app = create_app({
        'TESTING': True,
        'SQLALCHEMY_DATABASE_URI': app_url,
        'MIGRATION_DATABASE_URL': owner_url,
        'FILES_DIR': str(tmp_root / 'files'),
        'REDIS_URL': None,
        'RATELIMIT_STORAGE_URI': 'memory://',
        'BASE_DOMAIN': 'localhost',
        'PAYMENT_SANDBOX': True,
    })
    app.test_client_class = CsrfClient
    with app.app_context():
        from flask_migrate import upgrade
        upgrade(revision='heads')  # 'heads': every branch, should two migrations ever share a parent
    yield app
    with app.app_context():
        db.engine.dispose()
    _drop_test_database(app_url)


def _drop_test_database(app_url: str) -> None:
    admin_url = os.environ.get('TEST_DATABASE_URL')
    if not admin_url:
        return
    admin_url = admin_url.replace('postgresql://', 'postgresql+psycopg://', 1)
    admin = sa.create_engine(admin_url, isolation_level='AUTOCOMMIT')
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS {sa.engine.make_url(app_url).database} WITH (FORCE)'))
    admin.dispose()


class CsrfClient(FlaskClient):
    """A test client that sends a valid CSRF token with every form POST, as the browser's page would.

    Pass ``csrf=False`` to send none (the CSRF tests do).
    """

    base: str | None = None  # default base_url: the tenant's host

    def open(self, *args, csrf: bool = True, **kwargs):
        if self.base and not kwargs.get('base_url') and not (args and not isinstance(args[0], str)):
            kwargs['base_url'] = self.base
        method = kwargs.get('method', 'GET').upper()
        if csrf and method in ('POST', 'PUT', 'PATCH', 'DELETE') and kwargs.get('json') is None:
            base_url = kwargs.get('base_url')
            with self.session_transaction(base_url=base_url) as session:
                session['csrf_token'] = CSRF_RAW
            token = URLSafeTimedSerializer(self.application.secret_key, salt='wtf-csrf-token').dumps(CSRF_RAW)
            data = kwargs.get('data')
            if data is None or isinstance(data, dict):
                kwargs['data'] = {**(data or {}), 'csrf_token': token}
        return super().open(*args, **kwargs)


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture(scope='session')
def password_hash():
    return hash_password(PASSWORD)  # argon2 once per session, not per user


@pytest.fixture
def operator(app, password_hash):
    """operator(name='运营小张') -> a client on the platform host logged in as a new operator."""
    def make(name: str = '运营小张'):
        email = f'op-{uuid.uuid4().hex[:8]}@propsaas.cn'
        with app.app_context():
            db.session.add(Operator(email=email, name=name, password_hash=password_hash))
            db.session.commit()
        client = app.test_client()
        client.base = 'http://localhost'
        assert client.post('/operator/login', data={'login': email, 'password': PASSWORD}).status_code == 302
        return client

    return make


@pytest.fixture
def make_tenant(app):
    """make_tenant(name=..., template=...) -> Tenant (detached, with .id and .slug), with its first admin."""

    def make(name: str = '测试小区', template: str = 'standard-residential', slug: str | None = None):
        slug = slug or f't{next(_counter)}-{uuid.uuid4().hex[:8]}'
        with app.app_context():
            done = provisioning.create_tenant(slug, name=name, template=template,
                                              admin_email=f'admin@{slug}.cn', admin_password=PASSWORD)
            db.session.commit()
            db.session.refresh(done.tenant)
            db.session.expunge(done.tenant)
            return done.tenant

    return make


@pytest.fixture
def in_tenant(app):
    """``with in_tenant(tenant): ...`` works inside the tenant's scope and commits at the end."""

    @contextmanager
    def scope(tenant):
        with app.app_context(), tenant_scope(tenant.id):
            yield db.session
            db.session.commit()

    return scope


@pytest.fixture
def make_user(app, in_tenant, password_hash):
    """make_user(tenant, role='staff', duties=(), mobile=None, email=None) -> user id."""

    def make(tenant, role: str = 'staff', *, duties=(), mobile: str | None = None, email: str | None = None,
             name: str | None = None, active: bool = True) -> int:
        n = next(_counter)
        if mobile is None and email is None:
            if role == 'resident':
                mobile = f'139{n:08d}'
            else:
                email = f'{role}{n}@{tenant.slug}.cn'
        with in_tenant(tenant) as session:
            user = User(name=name or f'{role}{n}', email=email, mobile=mobile, role=role, duties=list(duties),
                        password_hash=password_hash, active=active)
            session.add(user)
            session.flush()
            return user.id

    return make


def host(tenant) -> str:
    return f'http://{tenant.slug}.localhost'


@pytest.fixture
def client_for(app, in_tenant):
    """client_for(tenant, user_id=None) -> a client on the tenant's host, logged in as that user if given.

    The session is opened the way a login opens it (a server-side token), without paying argon2 per test.
    """

    def make(tenant, user_id: int | None = None) -> FlaskClient:
        client = app.test_client()
        client.base = host(tenant)
        if user_id is not None:
            with in_tenant(tenant) as session:
                user = session.get(User, user_id)
                raw = auth_services.start_session(user)
            with client.session_transaction(base_url=client.base) as s:
                s['_user_id'] = f'u:{raw}'
                s['_fresh'] = True
                s['_host'] = f't{tenant.id}'
        return client

    return make
