"""Row-level security cost on PostgreSQL: the same requests and queries with RLS on, then off. Never asserts a time.

    .venv/bin/python scripts/bench/rls.py [--tiny] [--users N] [--seconds S] [--iterations N] [--rounds N]
                                          [--threads N] [--workers N] [--db URL]

``--db`` names a PostgreSQL server as a superuser (default postgresql+psycopg://postgres@127.0.0.1:5432/test,
the test suite's). When nothing answers there, the bench says so and exits 0. Otherwise, in one run:

- creates a throwaway database owned by ``propsaas_owner`` and used by ``propsaas_app`` (the roles the test
  suite uses, created when missing: tests/conftest.py, propsaas.tenancy.rls), migrates it as the owner;
- provisions tenants ``rls-a`` and ``rls-b`` with N users each (default 5,000, --tiny 200; bulk inserts with
  one precomputed password hash) and an admin API token each;
- per round, first with RLS on (as migrated: ENABLE + FORCE, policy ``tenant_isolation``), then with RLS
  off (``NO FORCE`` + ``DISABLE ROW LEVEL SECURITY`` on every table with tenant_id, as the superuser), and
  with nothing else changed (same data, same role, same statements; the ORM's tenant filter stays):
    query: ``SELECT count(*), max(created_at) FROM users`` through the ORM inside tenant_scope, in-process
           as propsaas_app, one transaction per query, alternating the two tenants;
    http:  GET /api/v1/users?per_page=50 with each tenant's admin bearer token, served by gunicorn
           connecting as propsaas_app, from N client threads (half per tenant), bodies compared byte for
           byte with the first response;
- prints each figure with RLS on and off, and the ratio on/off (1.00 = RLS costs nothing; target >= 0.90);
- drops the database (finally). The roles stay: the test suite shares them.

With --rounds above 1 the phases alternate (on, off, on, off ...) and each figure is the best round, like
timeit. See scripts/bench/README.md.
"""
# scripts/bench/ holds http.py: with this folder first on sys.path, ``import http.client`` (werkzeug, psycopg
# ...) would find that script instead of the standard library. Drop the folder before importing anything.
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
ROOT = os.path.dirname(os.path.dirname(_HERE))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import argparse  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

from scripts.bench.throwaway import APP_ROLE, OWNER_ROLE, PostgresDatabase, normalize, reachable  # noqa: E402

DEFAULT_DB = 'postgresql+psycopg://postgres@127.0.0.1:5432/test'
SLUGS = ('rls-a', 'rls-b')
BASE_DOMAIN = 'localhost'
PATH = '/api/v1/users?per_page=50'
TARGET = 0.90
ADMIN_PASSWORD = 'Bench-Horse-42-' + secrets.token_hex(4)


def log(message: str) -> None:
    """Progress goes to stderr; the figures go to stdout."""
    print(f'[bench-rls] {message}', file=sys.stderr, flush=True)


@dataclass
class Sizes:
    users: int
    seconds: float
    warmup: float
    iterations: int
    rounds: int


def sizes_for(args) -> Sizes:
    if args.tiny:
        sizes = Sizes(users=200, seconds=1.0, warmup=0.3, iterations=100, rounds=1)
    else:
        sizes = Sizes(users=5_000, seconds=10.0, warmup=1.0, iterations=2_000, rounds=2)
    for name in ('users', 'seconds', 'iterations', 'rounds'):
        if getattr(args, name) is not None:
            setattr(sizes, name, getattr(args, name))
    return sizes


# --- the throwaway database --------------------------------------------------------------------------------------

class Database(PostgresDatabase):
    """The throwaway database, plus a superuser engine inside it (to switch RLS off and on, and ANALYZE)."""

    def __init__(self, admin_url: str):
        super().__init__(admin_url, 'rls', log)
        self.inside = None

    def create(self) -> None:
        import sqlalchemy as sa

        with self.admin.connect() as conn:
            if not conn.execute(sa.text('SELECT rolsuper FROM pg_roles WHERE rolname = current_user')).scalar():
                raise SystemExit(f'{self.admin.url.render_as_string()}: not a superuser (needed to create the '
                                 'database and the roles, and to switch RLS off)')
        super().create()
        self.inside = sa.create_engine(self.admin.url.set(database=self.name), isolation_level='AUTOCOMMIT',
                                       poolclass=sa.pool.NullPool)

    def execute(self, *statements: str) -> None:
        import sqlalchemy as sa

        with self.inside.connect() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))

    def query(self, statement: str) -> list:
        import sqlalchemy as sa

        with self.inside.connect() as conn:
            return conn.execute(sa.text(statement)).all()

    def tenant_tables(self) -> list[str]:
        return [row[0] for row in self.query("""
            SELECT c.relname FROM pg_class c
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
            JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
            WHERE c.relkind = 'r' ORDER BY c.relname""")]

    def set_rls(self, on: bool, tables: list[str]) -> None:
        """As the superuser: the switch the app role can't touch (it owns no table)."""
        if on:
            statements = [f'ALTER TABLE {t} ENABLE ROW LEVEL SECURITY' for t in tables]
            statements += [f'ALTER TABLE {t} FORCE ROW LEVEL SECURITY' for t in tables]
        else:
            statements = [f'ALTER TABLE {t} NO FORCE ROW LEVEL SECURITY' for t in tables]
            statements += [f'ALTER TABLE {t} DISABLE ROW LEVEL SECURITY' for t in tables]
        self.execute(*statements)

    def rls_flags(self, tables: list[str]) -> set[tuple[bool, bool]]:
        names = ', '.join(f"'{t}'" for t in tables)
        rows = self.query(f"SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname IN ({names}) "
                          "AND relnamespace = 'public'::regnamespace")
        return {(bool(a), bool(b)) for a, b in rows}

    def drop(self) -> None:
        if self.inside is not None:
            self.inside.dispose()
        super().drop()
        self.created = False


def bench_env(database: Database, tmp: Path) -> dict:
    """This process's and gunicorn's environment: only our database, instance dir and key."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith('PROPSAAS_')
           and key not in ('DATABASE_URL', 'REDIS_URL', 'FLASK_APP', 'FLASK_DEBUG', 'MIGRATION_DATABASE_URL')}
    env.update({
        'DATABASE_URL': database.app_url,
        'MIGRATION_DATABASE_URL': database.owner_url,
        'PROPSAAS_INSTANCE_DIR': str(tmp / 'instance'),
        'PROPSAAS_FILES_DIR': str(tmp / 'files'),
        'PROPSAAS_BASE_DOMAIN': BASE_DOMAIN,
        'SECRET_KEY': secrets.token_hex(32),
    })
    return env


# --- tenants, users, tokens ------------------------------------------------------------------------------------------

@dataclass
class Tenant:
    slug: str
    id: int
    token: str = ''
    users: int = 0  # users in the tenant, admin included

    @property
    def host(self) -> str:
        return f'{self.slug}.{BASE_DOMAIN}'


def provision(app, users: int) -> list[Tenant]:
    """Two tenants (create_tenant: one argon2 hash each), N residents each in bulk with that hash, a token each."""
    import sqlalchemy as sa

    from propsaas.auth import services as auth_services
    from propsaas.auth.models import User
    from propsaas.extensions import db
    from propsaas.tenancy import provisioning
    from propsaas.tenancy.context import tenant_scope

    tenants = []
    now = datetime.now(UTC)
    with app.app_context():
        for slug in SLUGS:
            done = provisioning.create_tenant(slug, name=f'RLS {slug}', template='standard-residential',
                                              admin_email=f'admin@{slug}.cn', admin_password=ADMIN_PASSWORD)
            db.session.commit()
            tenant = Tenant(slug, done.tenant.id)
            with tenant_scope(tenant.id):
                admin = db.session.execute(sa.select(User).where(User.role == 'admin')).scalar_one()
                rows = [dict(tenant_id=tenant.id, name=f'住户{i:05d}', email=None, mobile=f'139{i:08d}',
                             role='resident', duties=[], password_hash=admin.password_hash, active=True,
                             created_at=now) for i in range(users)]
                for start in range(0, len(rows), 5_000):
                    db.session.execute(sa.insert(User), rows[start:start + 5_000])
                tenant.token, _ = auth_services.issue_api_token(admin)
                db.session.commit()
            tenant.users = users + 1
            tenants.append(tenant)
        db.engine.dispose()
    return tenants


# --- (b) the scoped aggregate, in-process --------------------------------------------------------------------------

def aggregate(app, tenants: list[Tenant], iterations: int) -> float:
    """Seconds per ``count(*), max(created_at)`` over users, one transaction each, tenants alternating."""
    import sqlalchemy as sa

    from propsaas.auth.models import User
    from propsaas.extensions import db
    from propsaas.tenancy.context import tenant_scope

    statement = sa.select(sa.func.count(), sa.func.max(User.created_at)).select_from(User)
    with app.app_context():
        for tenant in tenants:  # right answers first, and a warm connection
            with tenant_scope(tenant.id):
                count = db.session.execute(statement).one()[0]
                db.session.rollback()
            if count != tenant.users:
                raise SystemExit(f'{tenant.slug}: count(*) is {count}, expected {tenant.users}; not benchmarking')
        for i in range(min(iterations, 50)):
            with tenant_scope(tenants[i % 2].id):
                db.session.execute(statement).one()
                db.session.rollback()
        start = time.perf_counter()
        for i in range(iterations):
            with tenant_scope(tenants[i % 2].id):
                db.session.execute(statement).one()
                db.session.rollback()
        elapsed = time.perf_counter() - start
    return elapsed / iterations


def unscoped_count(app) -> int:
    """``SELECT count(*) FROM users`` as the app role with no tenant set: 0 under RLS, every row without."""
    import sqlalchemy as sa

    from propsaas.extensions import db

    with app.app_context():
        with db.engine.connect() as conn:
            return conn.execute(sa.text('SELECT count(*) FROM users')).scalar()


# --- (a) the list page under gunicorn ------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class Gunicorn:
    """``gunicorn -w N -b 127.0.0.1:<port> wsgi:app`` in its own process group, stopped for sure."""

    def __init__(self, env: dict, log_file: Path, workers: int):
        self.port = free_port()
        self.log_file = log_file
        exe = Path(sys.executable).with_name('gunicorn')
        command = ([str(exe)] if exe.exists() else [sys.executable, '-m', 'gunicorn']) + [
            '-w', str(workers), '-b', f'127.0.0.1:{self.port}', 'wsgi:app']
        self._log = open(log_file, 'ab')  # noqa: SIM115  (closed in stop)
        self.proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    def first(self, tenant: Tenant, timeout: float = 60.0) -> bytes:
        """Poll until gunicorn answers; the body of the tenant's first 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f'gunicorn exited ({self.proc.returncode}):\n{self.log_tail()}')
            try:
                conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=10)
                conn.request('GET', PATH, headers=request_headers(tenant))
                response = conn.getresponse()
                body = response.read()
                conn.close()
            except OSError:
                time.sleep(0.1)
                continue
            total = json.loads(body).get('total') if response.status == 200 else None
            if total != tenant.users:
                raise SystemExit(f'{tenant.host}{PATH}: HTTP {response.status}, total {total} (expected '
                                 f'{tenant.users}); not benchmarking a wrong page\n{body[:300]!r}\n{self.log_tail()}')
            return body
        raise SystemExit(f'gunicorn did not answer within {timeout:.0f} s:\n{self.log_tail()}')

    def log_tail(self, lines: int = 30) -> str:
        try:
            self._log.flush()
            return '\n'.join(self.log_file.read_text(errors='replace').splitlines()[-lines:])
        except (OSError, ValueError):
            return ''

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # master and workers (own session, see Popen)
                self.proc.wait(timeout=15)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # workers a killed master left behind
        except (ProcessLookupError, PermissionError):
            pass
        self._log.close()


def request_headers(tenant: Tenant) -> dict:
    return {'Host': tenant.host, 'Authorization': f'Bearer {tenant.token}'}


@dataclass
class Load:
    requests: int
    errors: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def python_load(port: int, tenants: list[Tenant], expected: dict[str, bytes], seconds: float, threads: int) -> Load:
    """N threads, each with an ``http.client`` connection, thread i asking as tenant i % 2."""
    stop_at = [0.0]
    counts, errors, ended = [0] * threads, [0] * threads, [0.0] * threads
    barrier = threading.Barrier(threads + 1)

    def worker(i: int) -> None:
        tenant = tenants[i % len(tenants)]
        headers, body_expected = request_headers(tenant), expected[tenant.slug]
        conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
        barrier.wait()
        try:
            while time.perf_counter() < stop_at[0]:
                try:
                    conn.request('GET', PATH, headers=headers)
                    response = conn.getresponse()
                    body = response.read()
                    if response.status == 200 and body == body_expected:
                        counts[i] += 1
                    else:
                        errors[i] += 1
                except (OSError, http.client.HTTPException):
                    errors[i] += 1
                    conn.close()
                    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
        finally:
            ended[i] = time.perf_counter()
            conn.close()

    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for t in pool:
        t.start()
    start = time.perf_counter()
    stop_at[0] = start + seconds
    barrier.wait()
    for t in pool:
        t.join(timeout=seconds + 30)  # bounded: every request has a 10 s timeout
    if any(t.is_alive() for t in pool):
        raise SystemExit('load generator threads did not finish')
    return Load(sum(counts), sum(errors), max(ended) - start)


def measure_http(env: dict, tmp: Path, tenants: list[Tenant], sizes: Sizes, threads: int, workers: int,
                 label: str) -> Load:
    """A fresh gunicorn per phase, so both phases start alike: first responses checked, warm-up, then the load."""
    server = Gunicorn(env, tmp / 'gunicorn.log', workers)
    try:
        expected = {tenant.slug: server.first(tenant) for tenant in tenants}
        if sizes.warmup:
            python_load(server.port, tenants, expected, sizes.warmup, threads)
        log(f'{label}: {sizes.seconds:g} s with {threads} connections')
        result = python_load(server.port, tenants, expected, sizes.seconds, threads)
        if result.errors:
            log(f'{label}: {result.errors} failed requests\n{server.log_tail()}')
        return result
    finally:
        server.stop()


# --- run -------------------------------------------------------------------------------------------------------------

@dataclass
class Phase:
    query: list[float] = field(default_factory=list)  # seconds per query, per round
    http: list[Load] = field(default_factory=list)

    @property
    def best_query(self) -> float:
        return min(self.query)

    @property
    def best_http(self) -> Load:
        return max(self.http, key=lambda load: load.rate)


def run(args, admin_url: str) -> dict:
    sizes = sizes_for(args)
    tmp = Path(tempfile.mkdtemp(prefix='propsaas-bench-rls-'))
    database = Database(admin_url)
    app = None
    load_before = os.getloadavg()[0]
    try:
        database.create()
        env = bench_env(database, tmp)
        os.environ.clear()
        os.environ.update(env)

        from flask_migrate import upgrade

        from propsaas import create_app
        from propsaas.extensions import db

        app = create_app()
        log(f'migrating as {OWNER_ROLE}')
        with app.app_context():
            upgrade()
        log(f'provisioning {", ".join(SLUGS)} with {sizes.users} users each')
        tenants = provision(app, sizes.users)
        database.execute('ANALYZE')
        tables = database.tenant_tables()
        server_version = database.query('SELECT version()')[0][0].split(' (')[0].split(' on ')[0]
        phases = {True: Phase(), False: Phase()}
        every_row = sum(t.users for t in tenants)
        for round_no in range(1, sizes.rounds + 1):
            for on in (True, False):
                state = 'on' if on else 'off'
                database.set_rls(on, tables)
                flags = database.rls_flags(tables)
                seen = unscoped_count(app)
                if flags != {(on, on)} or seen != (0 if on else every_row):
                    raise SystemExit(f'RLS {state}: flags {flags}, unscoped count {seen}: the switch did not work')
                log(f'round {round_no}/{sizes.rounds}: RLS {state} ({len(tables)} tables, '
                    f'unscoped count(*) as {APP_ROLE}: {seen})')
                phases[on].query.append(aggregate(app, tenants, sizes.iterations))
                with app.app_context():
                    db.engine.dispose()  # the in-process pool holds nothing while gunicorn runs
                phases[on].http.append(measure_http(env, tmp, tenants, sizes, args.threads, args.workers,
                                                    f'http RLS {state}'))
        return {'sizes': sizes, 'tables': tables, 'phases': phases, 'version': server_version,
                'threads': args.threads, 'workers': args.workers, 'load': (load_before, os.getloadavg()[0])}
    finally:
        if app is not None:
            try:
                from propsaas.extensions import db

                with app.app_context():
                    db.engine.dispose()
            except Exception as exc:  # noqa: BLE001  (cleanup goes on)
                log(f'engine dispose failed: {exc}')
        database.drop()
        shutil.rmtree(tmp, ignore_errors=True)


def mark(ratio: float) -> str:
    return f'(target >= {TARGET:.2f}: {"ok" if ratio >= TARGET else "MISSED"})'


def report(results: dict) -> None:
    sizes: Sizes = results['sizes']
    on, off = results['phases'][True], results['phases'][False]
    rounds = f'best of {sizes.rounds} rounds' if sizes.rounds > 1 else '1 round'
    print(f'# {results["version"]}, RLS on {len(results["tables"])} tables ({", ".join(results["tables"])}); '
          f'{len(SLUGS)} tenants x {sizes.users} users; {rounds}; {os.cpu_count()} CPUs, load average '
          f'{results["load"][0]:.2f} before, {results["load"][1]:.2f} after')
    print(f'# query: SELECT count(*), max(created_at) FROM users via the ORM in tenant_scope, in-process as '
          f'{APP_ROLE}, {sizes.iterations} transactions')
    for label, phase in (('query RLS on', on), ('query RLS off', off)):
        per = phase.best_query
        print(f'{label:<20}{per * 1e3:>10.3f} ms/query {1 / per:>10.0f} queries/s   '
              f'(rounds: {", ".join(f"{q * 1e3:.3f}" for q in phase.query)} ms)')
    query_ratio = off.best_query / on.best_query  # rate on / rate off
    print(f'{"query ratio on/off":<20}{query_ratio:>10.2f}   {mark(query_ratio)}')
    print(f'# http: GET {PATH} (bearer token, both tenants), gunicorn -w {results["workers"]} (sync) as '
          f'{APP_ROLE}, {results["threads"]} connections, python http.client, {sizes.seconds:g} s per phase')
    for label, phase in (('http RLS on', on), ('http RLS off', off)):
        best = phase.best_http
        print(f'{label:<20}{best.rate:>10.1f} req/s   ({best.requests} ok, {best.errors} failed in '
              f'{best.seconds:.1f} s; rounds: {", ".join(f"{load.rate:.1f}" for load in phase.http)} req/s)')
    http_ratio = on.best_http.rate / off.best_http.rate if off.best_http.rate else 0.0
    print(f'{"http ratio on/off":<20}{http_ratio:>10.2f}   {mark(http_ratio)}')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--tiny', action='store_true',
                        help='200 users per tenant, 1 s per HTTP phase, 100 queries, 1 round (for the test suite)')
    parser.add_argument('--users', type=int, help='users per tenant (default 5000, --tiny 200)')
    parser.add_argument('--seconds', type=float, help='seconds per HTTP phase (default 10, --tiny 1)')
    parser.add_argument('--iterations', type=int, help='queries per query phase (default 2000, --tiny 100)')
    parser.add_argument('--rounds', type=int, help='on/off rounds; figures are the best round (default 2, --tiny 1)')
    parser.add_argument('--threads', type=int, default=8, help='concurrent client connections (default 8)')
    parser.add_argument('--workers', type=int, default=2, help='gunicorn workers (default 2)')
    parser.add_argument('--db', default=DEFAULT_DB,
                        help=f'PostgreSQL server URL as a superuser (default {DEFAULT_DB}); a throwaway '
                             'database is created there and dropped afterwards')
    args = parser.parse_args(argv)
    if args.users is not None and not 1 <= args.users <= 1_000_000:
        parser.error('--users must be 1..1000000')
    if args.seconds is not None and not 0 < args.seconds <= 600:
        parser.error('--seconds must be in (0, 600]')
    if args.iterations is not None and not 1 <= args.iterations <= 1_000_000:
        parser.error('--iterations must be 1..1000000')
    if args.rounds is not None and not 1 <= args.rounds <= 20:
        parser.error('--rounds must be 1..20')
    if not 2 <= args.threads <= 256:
        parser.error('--threads must be 2..256 (half ask as each tenant)')
    if not 1 <= args.workers <= 32:
        parser.error('--workers must be 1..32')
    if not args.db.startswith(('postgresql://', 'postgres://', 'postgresql+psycopg://')):
        parser.error('--db takes a postgresql:// URL')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    admin_url = normalize(args.db)
    problem = reachable(admin_url)
    if problem is not None:
        import sqlalchemy as sa

        shown = sa.engine.make_url(admin_url).render_as_string(hide_password=True)
        print(f'rls bench skipped: PostgreSQL is not reachable at {shown} ({problem})')
        return 0

    def on_term(signum, frame):
        raise SystemExit(128 + signum)  # run the finally blocks: gunicorn, temp dir, the database

    signal.signal(signal.SIGTERM, on_term)
    report(run(args, admin_url))
    return 0


if __name__ == '__main__':
    sys.exit(main())
