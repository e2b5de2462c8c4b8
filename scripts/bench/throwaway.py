"""The throwaway PostgreSQL database the benchmarks run on, made like the test suite's (tests/conftest.py): owned by
the owner role, used by the app role (not the owner, no BYPASSRLS), dropped at the end.

Imported as ``scripts.bench.throwaway`` (the benchmarks drop their own folder from sys.path: ``http.py`` there
would shadow the standard library's ``http``).
"""
from __future__ import annotations

import os
import re
import sys
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
