"""The throwaway PostgreSQL database the benchmarks run on, made like the test suite's (tests/conftest.py): owned by
the owner role, used by the app role (not the owner, no BYPASSRLS), dropped at the end.

Imported as ``scripts.bench.throwaway`` (the benchmarks drop their own folder from sys.path: ``http.py`` there
would shadow the standard library's ``http``).
"""
from __future__ import annotations

import os
import re
import secrets
import sys
import time
import uuid

OWNER_ROLE, APP_ROLE = 'propsaas_owner', 'propsaas_app'  # as tests/conftest.py


def normalize(url: str) -> str:
    return re.sub(r'^(postgresql|postgres)(\+psycopg)?://', 'postgresql+psycopg://', url)


def reachable(admin_url: str) -> str | None:
    """None when the server answers, else the first line of why not."""
    import sqlalchemy as sa

    engine = sa.create_engine(admin_url, connect_args={'connect_timeout': 3}, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text('SELECT 1'))
    except sa.exc.OperationalError as exc:
        return str(exc.orig or exc).strip().splitlines()[0]
    finally:
        engine.dispose()
    return None


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class PostgresDatabase:
    """A database that exists only for this run, named ``propsaas_bench_<kind>_<pid>_<hex>``."""

    def __init__(self, admin_url: str, kind: str, log=_stderr):
        import sqlalchemy as sa

        self.admin = sa.create_engine(admin_url, isolation_level='AUTOCOMMIT', poolclass=sa.pool.NullPool)
        self.name = f'propsaas_bench_{kind}_{os.getpid()}_{uuid.uuid4().hex[:8]}'
        base = self.admin.url.set(database=self.name, password=None)
        self.app_url = base.set(username=APP_ROLE).render_as_string(hide_password=False)
        self.owner_url = base.set(username=OWNER_ROLE).render_as_string(hide_password=False)
        self.created = False
        self.log = log

    def create(self) -> None:
        from propsaas.tenancy import rls

        rls.create_database(self.admin, self.name, OWNER_ROLE, APP_ROLE)
        self.created = True
        self.log(f'created database {self.name} (owner {OWNER_ROLE}, app role {APP_ROLE})')

    def drop(self) -> None:
        import sqlalchemy as sa

        if self.created:
            with self.admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS {self.name} WITH (FORCE)'))
            self.log(f'dropped database {self.name}')
        self.admin.dispose()


def run_phase(script: str, *args: str, relay: str | None = None, env: dict | None = None) -> dict:
    """Run ``script --phase args...`` in a fresh interpreter (each phase starts cold, with its own settings) and
    return the JSON its last stdout line holds. Its stderr lines starting with ``relay`` are passed on as progress;
    on failure the tail of its stderr is shown and the benchmark stops."""
    import json
    import subprocess  # nosec B404 - runs this benchmark's own script with this interpreter

    result = subprocess.run([sys.executable, os.path.abspath(script), '--phase', *args],  # nosec B603
                            capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=1800,
                            check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stderr[-4000:])
        raise SystemExit(f'phase {args[0]} failed (exit {result.returncode})')
    if relay:
        for line in result.stderr.splitlines():
            if line.startswith(relay):
                _stderr(line)
    return json.loads(result.stdout.strip().splitlines()[-1])


def make_app(kind: str, app_url: str, owner_url: str | None, instance: str):
    """The app a benchmark phase measures: its own instance folder and secret, no Redis, rate limits in memory,
    tenants at <slug>.localhost."""
    os.environ.update(PROPSAAS_INSTANCE_DIR=instance, SECRET_KEY=f'bench-{kind}-' + uuid.uuid4().hex)
    from propsaas import create_app

    return create_app({'SQLALCHEMY_DATABASE_URI': app_url, 'MIGRATION_DATABASE_URL': owner_url or None,
                       'FILES_DIR': os.path.join(instance, 'files'), 'REDIS_URL': None,
                       'RATELIMIT_STORAGE_URI': 'memory://', 'BASE_DOMAIN': 'localhost'})


def session_cookie(app, tenant_id: int, user_id: int) -> str:
    """A Cookie header value that logs ``user_id`` in on the tenant's host (a real session token)."""
    from propsaas.auth import services as auth_services
    from propsaas.auth.models import User
    from propsaas.extensions import db
    from propsaas.tenancy.context import tenant_scope

    with app.app_context(), tenant_scope(tenant_id):
        raw = auth_services.start_session(db.session.get(User, user_id))
        db.session.commit()
    data = {'_user_id': f'u:{raw}', '_fresh': True, '_host': f't{tenant_id}', 'csrf_token': secrets.token_hex(20)}
    value = app.session_interface.get_signing_serializer(app).dumps(data)
    return f'{app.config["SESSION_COOKIE_NAME"]}={value}'


def timed_get(app, slug: str, cookie: str, path: str) -> tuple[int, float]:
    """(statements, seconds) of one GET as the cookie's user; SystemExit unless it is a 200."""
    import sqlalchemy as sa

    from propsaas.extensions import db

    with app.app_context():
        engine = db.engine
    seen = []

    def record(*args, **kwargs):
        seen.append(1)

    client = app.test_client(use_cookies=False)
    sa.event.listen(engine, 'before_cursor_execute', record)
    try:
        started = time.perf_counter()
        response = client.get(path, base_url=f'http://{slug}.localhost', headers={'Cookie': cookie})
        seconds = time.perf_counter() - started
    finally:
        sa.event.remove(engine, 'before_cursor_execute', record)
    if response.status_code != 200:
        raise SystemExit(f'GET {path}: HTTP {response.status_code}; not benchmarking a wrong page')
    return len(seen), seconds
