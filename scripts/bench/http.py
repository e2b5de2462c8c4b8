"""HTTP and per-request cost benchmark for PropSaaS. Prints figures; never asserts a time.

    .venv/bin/python scripts/bench/http.py [--tiny] [--seconds N] [--threads N] [--workers N] [--db URL]
                                            [--client auto|python|wrk] [--show-sql]

Builds throwaway databases (SQLite in a temp dir, or uniquely named databases, and roles when the app has
row-level security, created on the PostgreSQL server that ``--db`` names), migrates them, provisions the
tenant ``bench`` with a staff user and a logged-in session cookie, then measures:

- requests/s of the staff home page (``GET /`` on ``bench.localhost``) under gunicorn, and of a bare Flask
  hello-world under the same gunicorn settings, and their ratio (plus the page's in-process time);
- SQL statements per staff-home request with few and with many users in the tenant (and, on PostgreSQL, the
  round trips the driver makes);
- ``resolve_host`` per-call time with 1 tenant and with many tenants.

Everything it made (gunicorn, the temp dir, PostgreSQL databases and roles) is removed in ``finally``.
See scripts/bench/README.md.
"""
# This file is called http.py: with its folder first on sys.path, ``import http.client`` (werkzeug, requests,
# urllib ...) would find this script instead of the standard library. Drop the folder before importing anything.
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
ROOT = os.path.dirname(os.path.dirname(_HERE))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import argparse  # noqa: E402
import http.client  # noqa: E402
import re  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import textwrap  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from contextlib import contextmanager, nullcontext  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

BENCH_SLUG = 'bench'
BENCH_NAME = 'Bench 基准小区'
BASE_DOMAIN = 'localhost'
BENCH_HOST = f'{BENCH_SLUG}.{BASE_DOMAIN}'
ADMIN_PASSWORD = 'Bench-Horse-42-' + secrets.token_hex(4)


def log(message: str) -> None:
    """Progress goes to stderr; the figures table goes to stdout."""
    print(f'[bench] {message}', file=sys.stderr, flush=True)


@dataclass
class Sizes:
    seconds: float
    warmup: float
    few_rows: int
    many_rows: int
    tenants: int
    resolve_calls: int
    resolve_rounds: int


def sizes_for(args) -> Sizes:
    if args.tiny:
        sizes = Sizes(seconds=1.0, warmup=0.2, few_rows=10, many_rows=100, tenants=50,
                      resolve_calls=300, resolve_rounds=5)
    else:
        sizes = Sizes(seconds=10.0, warmup=1.0, few_rows=10, many_rows=10_000, tenants=1_000,
                      resolve_calls=2_000, resolve_rounds=7)
    if args.seconds is not None:
        sizes.seconds = args.seconds
    return sizes


# --- throwaway database ------------------------------------------------------------------------------------

class Database:
    """Databases that exist only for this run: SQLite files in the temp dir, or PostgreSQL databases.

    On PostgreSQL, when the app has row-level security (``propsaas.tenancy.rls``), they are set up the way
    production and tests/conftest.py set them up: owned by an owner role that runs the migrations, used by an
    app role that owns nothing and can't bypass RLS. Both roles are made for this run and dropped with it.
    ``url``/``migration_url`` are the main database's; ``extra()`` makes one more on the same server.
    """

    def __init__(self, url: str | None, tmp: Path):
        self.tmp = tmp
        self.admin_url = None
        self.pg_names: list[str] = []
        self.pg_roles: list[str] = []
        self.sqlite_files: list[Path] = []
        self.url = self.migration_url = None
        self.rls = False
        self._suffix = f'{os.getpid()}_{uuid.uuid4().hex[:8]}'
        self._owner = self._app_role = self._password = None
        if not url:
            pass
        elif url.startswith('sqlite:///'):
            given = Path(url[len('sqlite:///'):])
            if given.exists():
                raise SystemExit(f'{given} exists: --db sqlite needs a new file (it is removed afterwards)')
            self.sqlite_files.append(given)
        elif url.startswith(('postgresql://', 'postgres://', 'postgresql+psycopg://')):
            self.admin_url = re.sub(r'^(postgresql|postgres)(\+psycopg)?://', 'postgresql+psycopg://', url)
        else:
            raise SystemExit('--db takes a postgresql:// server URL or a new sqlite:/// file')

    @property
    def kind(self) -> str:
        if not self.admin_url:
            return 'SQLite'
        return 'PostgreSQL (app role under row-level security)' if self.rls else 'PostgreSQL'

    def create(self) -> None:
        """The main database (and, on PostgreSQL with RLS, the two roles)."""
        if self.admin_url:
            try:
                from propsaas.tenancy import rls
            except ImportError:
                rls = None
            if rls is not None and hasattr(rls, 'roles_sql') and hasattr(rls, 'database_grants_sql'):
                self._rls_module = rls
                self._owner = f'propsaas_bench_owner_{self._suffix}'
                self._app_role = f'propsaas_bench_app_{self._suffix}'
                self._password = secrets.token_hex(16)
                self._admin(lambda conn: self._create_roles(conn))
                self.rls = True
        elif not self.sqlite_files:
            self.sqlite_files.append(self.tmp / 'bench.db')
        self.url, self.migration_url = self._new_database()

    def extra(self) -> tuple[str, str | None]:
        """One more empty database like the main one: (app URL, migration URL or None)."""
        return self._new_database()

    def _admin(self, work) -> None:
        import sqlalchemy as sa

        admin = sa.create_engine(self.admin_url, isolation_level='AUTOCOMMIT', poolclass=sa.pool.NullPool)
        try:
            with admin.connect() as conn:
                work(conn)
        finally:
            admin.dispose()

    def _create_roles(self, conn) -> None:
        import sqlalchemy as sa

        self.pg_roles = [self._app_role, self._owner]  # dropped in this order, after the databases
        for statement in self._rls_module.roles_sql(self._owner, self._app_role):
            conn.execute(sa.text(statement))
        for role in (self._owner, self._app_role):  # a password: works with trust, md5 and scram alike
            conn.execute(sa.text(f"ALTER ROLE {role} PASSWORD '{self._password}'"))
        log(f'created roles {", ".join(self.pg_roles)}')

    def _new_database(self) -> tuple[str, str | None]:
        if not self.admin_url:
            if self.url is None:
                path = self.sqlite_files[0]
            else:
                path = self.tmp / f'bench-{len(self.sqlite_files)}.db'
                self.sqlite_files.append(path)
            return f'sqlite:///{path}', None
        import sqlalchemy as sa

        name = f'propsaas_bench_{self._suffix}' + (f'_{len(self.pg_names)}' if self.pg_names else '')
        base = sa.engine.make_url(self.admin_url).set(database=name)

        def create(conn):
            conn.execute(sa.text(f'CREATE DATABASE {name}' + (f' OWNER {self._owner}' if self.rls else '')))
            self.pg_names.append(name)

        self._admin(create)
        log(f'created PostgreSQL database {name}')
        if not self.rls:
            return base.render_as_string(hide_password=False), None
        in_db = sa.create_engine(base, isolation_level='AUTOCOMMIT', poolclass=sa.pool.NullPool)
        try:
            with in_db.connect() as conn:
                for statement in self._rls_module.database_grants_sql(self._owner, self._app_role):
                    conn.execute(sa.text(statement))
        finally:
            in_db.dispose()
        return (base.set(username=self._app_role, password=self._password).render_as_string(hide_password=False),
                base.set(username=self._owner, password=self._password).render_as_string(hide_password=False))

    def drop(self) -> None:
        if self.admin_url and (self.pg_names or self.pg_roles):
            import sqlalchemy as sa

            def drop(conn):
                while self.pg_names:
                    name = self.pg_names.pop()
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS {name} WITH (FORCE)'))
                    log(f'dropped PostgreSQL database {name}')
                for role in self.pg_roles:
                    conn.execute(sa.text(f'DROP ROLE IF EXISTS {role}'))
                if self.pg_roles:
                    log(f'dropped roles {", ".join(self.pg_roles)}')
                self.pg_roles = []

            self._admin(drop)
        for path in self.sqlite_files:
            for suffix in ('', '-journal', '-wal', '-shm'):
                Path(f'{path}{suffix}').unlink(missing_ok=True)


def bench_env(database: Database, tmp: Path) -> dict:
    """The environment of this process and of the gunicorn children: only our database, instance dir, key."""
    env = dict(os.environ)
    for key in list(env):
        if key.startswith('PROPSAAS_') or key in ('REDIS_URL', 'FLASK_APP', 'FLASK_DEBUG', 'MIGRATION_DATABASE_URL'):
            del env[key]  # nothing from the caller's setup (Redis, another base domain ...) leaks in
    env.update({
        'DATABASE_URL': database.url,
        'PROPSAAS_INSTANCE_DIR': str(tmp / 'instance'),
        'PROPSAAS_FILES_DIR': str(tmp / 'files'),
        'PROPSAAS_BASE_DOMAIN': BASE_DOMAIN,
        'SECRET_KEY': secrets.token_hex(32),
    })
    if database.migration_url:
        env['MIGRATION_DATABASE_URL'] = database.migration_url
    return env


# --- setup: migrate, tenants, users, session cookie -------------------------------------------------------

@dataclass
class Bench:
    app: object
    tenant_id: int
    staff_id: int
    password_hash: str
    cookie: str = ''


def migrate(app) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()


def bulk_insert_tenants(app, slugs: list[str]) -> None:
    """Cheap tenants straight into ``tenants`` (no template, no admin, no argon2)."""
    import sqlalchemy as sa

    from propsaas.extensions import db
    from propsaas.tenancy.context import platform_scope
    from propsaas.tenancy.models import Tenant

    now = datetime.now(UTC)
    rows = [dict(slug=slug, name=f'Tenant {slug}', status=Tenant.ACTIVE, timezone='Asia/Shanghai', locale='zh_CN',
                 template='standard-residential', settings={}, created_at=now) for slug in slugs]
    with app.app_context(), platform_scope():
        if rows:
            db.session.execute(sa.insert(Tenant), rows)
        db.session.commit()


def provision_bench(app) -> Bench:
    """Tenant ``bench`` via create_tenant (one argon2 hash, reused for every other user) plus a staff user."""
    import sqlalchemy as sa

    from propsaas.auth.models import User
    from propsaas.extensions import db
    from propsaas.tenancy import provisioning
    from propsaas.tenancy.context import tenant_scope

    with app.app_context():
        done = provisioning.create_tenant(BENCH_SLUG, name=BENCH_NAME, template='standard-residential',
                                          admin_email=f'admin@{BENCH_SLUG}.cn', admin_password=ADMIN_PASSWORD)
        db.session.commit()
        tenant_id = done.tenant.id
        with tenant_scope(tenant_id):
            password_hash = db.session.execute(
                sa.select(User.password_hash).where(User.role == 'admin')).scalar_one()
            staff = User(name='Bench Staff', email=f'staff@{BENCH_SLUG}.cn', role='staff', duties=[],
                         password_hash=password_hash, active=True)
            db.session.add(staff)
            db.session.commit()
            staff_id = staff.id
    return Bench(app=app, tenant_id=tenant_id, staff_id=staff_id, password_hash=password_hash)


def user_count(bench: Bench) -> int:
    import sqlalchemy as sa

    from propsaas.auth.models import User
    from propsaas.extensions import db
    from propsaas.tenancy.context import tenant_scope

    with bench.app.app_context(), tenant_scope(bench.tenant_id):
        return db.session.execute(sa.select(sa.func.count()).select_from(User)).scalar_one()


def fill_users(bench: Bench, total: int) -> int:
    """Add residents in bulk (one precomputed hash) until the tenant has ``total`` users; returns the count."""
    import sqlalchemy as sa

    from propsaas.auth.models import User
    from propsaas.extensions import db
    from propsaas.tenancy.context import tenant_scope

    have = user_count(bench)
    now = datetime.now(UTC)
    rows = [dict(tenant_id=bench.tenant_id, name=f'住户{i}', email=None, mobile=f'139{i:08d}', role='resident',
                 duties=[], password_hash=bench.password_hash, active=True, created_at=now)
            for i in range(have, total)]
    with bench.app.app_context(), tenant_scope(bench.tenant_id):
        for start in range(0, len(rows), 5_000):
            db.session.execute(sa.insert(User), rows[start:start + 5_000])
        db.session.commit()
    return user_count(bench)


def login_cookie(bench: Bench) -> str:
    """A session opened the way a login opens it (tests/conftest.py client_for), signed like Flask signs it.

    Includes a CSRF token, as the browser's cookie has after its first page: without it every response would
    carry a new Set-Cookie (the page's logout form mints one), which is not the steady state.
    """
    from propsaas.auth import services as auth_services
    from propsaas.auth.models import User
    from propsaas.extensions import db
    from propsaas.tenancy.context import tenant_scope

    app = bench.app
    with app.app_context(), tenant_scope(bench.tenant_id):
        user = db.session.get(User, bench.staff_id)
        raw = auth_services.start_session(user)
        db.session.commit()
    data = {'_user_id': f'u:{raw}', '_fresh': True, '_host': f't{bench.tenant_id}',
            'csrf_token': secrets.token_hex(20)}
    value = app.session_interface.get_signing_serializer(app).dumps(data)
    return f'{app.config["SESSION_COOKIE_NAME"]}={value}'


# --- 3. SQL statements per request --------------------------------------------------------------------------

@dataclass
class StatementCount:
    rows: int
    statements: list[int]  # per request, through SQLAlchemy (before_cursor_execute on db.engine)
    round_trips: list[int]  # per request, at the driver (PostgreSQL only; empty on SQLite)
    sql: list[str]  # the statements of the last request


@contextmanager
def pg_round_trips(counter: list[int]):
    """Count what psycopg sends to the server: every execute (the pool's pre-ping and the RLS settings, which
    SQLAlchemy's events don't see, included), the BEGIN it sends before a query on an idle connection, and
    COMMIT/ROLLBACK of an open transaction. Patched on the classes for the duration of the block only.
    """
    import psycopg
    from psycopg.pq import TransactionStatus

    idle = TransactionStatus.IDLE
    orig_execute, orig_commit, orig_rollback = psycopg.Cursor.execute, psycopg.Connection.commit, \
        psycopg.Connection.rollback

    def execute(self, *args, **kwargs):
        conn = self.connection
        if not conn.autocommit and conn.info.transaction_status == idle:
            counter[0] += 1  # BEGIN
        counter[0] += 1
        return orig_execute(self, *args, **kwargs)

    def commit(self):
        if self.info.transaction_status != idle:
            counter[0] += 1
        return orig_commit(self)

    def rollback(self):
        if self.info.transaction_status != idle:
            counter[0] += 1
        return orig_rollback(self)

    psycopg.Cursor.execute, psycopg.Connection.commit, psycopg.Connection.rollback = execute, commit, rollback
    try:
        yield counter
    finally:
        psycopg.Cursor.execute, psycopg.Connection.commit, psycopg.Connection.rollback = \
            orig_execute, orig_commit, orig_rollback


def count_statements(bench: Bench, rows: int, requests: int = 3) -> StatementCount:
    """Statements per staff-home request through the test client (after one warm-up request)."""
    import sqlalchemy as sa

    from propsaas.extensions import db

    app = bench.app
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    client = app.test_client(use_cookies=False)
    headers = {'Cookie': bench.cookie}
    check_page(client.get('/', base_url=f'http://{BENCH_HOST}', headers=headers))
    result = StatementCount(rows, [], [], [])
    trips = [0]
    on_pg = engine.dialect.name == 'postgresql'
    sa.event.listen(engine, 'before_cursor_execute', before_cursor_execute)
    try:
        with pg_round_trips(trips) if on_pg else nullcontext():
            for _ in range(requests):
                seen.clear()
                trips[0] = 0
                response = client.get('/', base_url=f'http://{BENCH_HOST}', headers=headers)
                check_page(response)
                result.statements.append(len(seen))
                if on_pg:
                    result.round_trips.append(trips[0])
                result.sql = list(seen)
    finally:
        sa.event.remove(engine, 'before_cursor_execute', before_cursor_execute)
    return result


def time_in_process(bench: Bench, sizes: Sizes) -> float:
    """Best-of-rounds seconds per staff-home request through the test client: the page's own cost, with no
    HTTP, no gunicorn and no load generator competing for the CPU."""
    client = bench.app.test_client(use_cookies=False)
    headers = {'Cookie': bench.cookie}

    def get():
        return client.get('/', base_url=f'http://{BENCH_HOST}', headers=headers)

    check_page(get())
    calls = max(20, sizes.resolve_calls // 10)
    for _ in range(calls // 2):
        get()
    per_call = []
    for _ in range(sizes.resolve_rounds):
        start = time.perf_counter()
        for _ in range(calls):
            get()
        per_call.append((time.perf_counter() - start) / calls)
    return min(per_call)


def check_page(response) -> None:
    body = response.get_data(as_text=True)
    if response.status_code != 200 or BENCH_NAME not in body:
        raise SystemExit(f'staff home via test client: HTTP {response.status_code}, tenant name '
                         f'{"present" if BENCH_NAME in body else "missing"}; not benchmarking a wrong page')


# --- 4. host resolution ---------------------------------------------------------------------------------------

def time_resolve(apps: list, host: str, slug: str, calls: int, rounds: int) -> list[float]:
    """Best-of-rounds seconds per ``resolve_host`` call in each app (like timeit: the minimum is the least
    disturbed). Rounds alternate between the apps (A B B A ...), so a change of load or CPU speed during the
    run hits them alike."""
    from propsaas.tenancy.hosts import resolve_host

    for app in apps:
        with app.app_context():
            match = resolve_host(host, BASE_DOMAIN)
            if match is None or match.tenant is None or match.tenant.slug != slug:
                raise SystemExit(f'resolve_host({host!r}) did not find tenant {slug}')
            for _ in range(min(calls, 200)):
                resolve_host(host, BASE_DOMAIN)
    best = [float('inf')] * len(apps)
    for round_ in range(rounds):
        order = range(len(apps)) if round_ % 2 == 0 else reversed(range(len(apps)))
        for i in order:
            with apps[i].app_context():
                start = time.perf_counter()
                for _ in range(calls):
                    resolve_host(host, BASE_DOMAIN)
                best[i] = min(best[i], (time.perf_counter() - start) / calls)
    return best


# --- 2. HTTP under gunicorn ---------------------------------------------------------------------------------

HELLO_APP = textwrap.dedent('''\
    from flask import Flask

    app = Flask(__name__)


    @app.get('/')
    def hello():
        return 'hello'
''')


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def gunicorn_command() -> list[str]:
    exe = Path(sys.executable).with_name('gunicorn')
    return [str(exe)] if exe.exists() else [sys.executable, '-m', 'gunicorn']


class Gunicorn:
    """``gunicorn -w 2 -b 127.0.0.1:<port> <app>`` in its own process group, stopped for sure on exit."""

    def __init__(self, app_spec: str, cwd: Path, env: dict, log_file: Path, workers: int):
        self.port = free_port()
        self.log_file = log_file
        self.command = gunicorn_command() + ['-w', str(workers), '-b', f'127.0.0.1:{self.port}', app_spec]
        self._log = open(log_file, 'wb')  # noqa: SIM115  (closed in stop)
        self.proc = subprocess.Popen(self.command, cwd=cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        log(f'gunicorn pid {self.proc.pid} serves {app_spec} on 127.0.0.1:{self.port}')

    def wait_ready(self, host: str, headers: dict, timeout: float = 60.0) -> tuple[int, str]:
        """Poll until gunicorn answers; returns the first response's status and body."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f'gunicorn exited ({self.proc.returncode}):\n{self.log_tail()}')
            try:
                conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=10)
                conn.request('GET', '/', headers={'Host': host, **headers})
                response = conn.getresponse()
                body = response.read().decode('utf-8', 'replace')
                conn.close()
                return response.status, body
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f'gunicorn did not answer within {timeout:.0f} s:\n{self.log_tail()}')

    def log_tail(self, lines: int = 30) -> str:
        try:
            self._log.flush()
            return '\n'.join(self.log_file.read_text(errors='replace').splitlines()[-lines:])
        except OSError:
            return ''

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # master and workers (own session, see Popen)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=5)
        # Workers left behind by a killed master: same process group, gone for sure.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._log.close()


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    client_cpu: float  # seconds of CPU the load generator used (python client only)
    tool: str

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def python_load(port: int, host: str, headers: dict, seconds: float, threads: int, expect: str) -> LoadResult:
    """N threads, each with an ``http.client`` connection (reopened whenever the server closes it)."""
    stop_at = [0.0]
    counts = [0] * threads
    errors = [0] * threads
    ended = [0.0] * threads
    barrier = threading.Barrier(threads + 1)
    request_headers = {'Host': host, **headers}

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
        barrier.wait()
        try:
            while time.perf_counter() < stop_at[0]:
                try:
                    conn.request('GET', '/', headers=request_headers)
                    response = conn.getresponse()
                    body = response.read()
                    if response.status == 200 and expect.encode() in body:
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
    cpu0 = time.process_time()
    start = time.perf_counter()
    stop_at[0] = start + seconds
    barrier.wait()
    for t in pool:
        t.join(timeout=seconds + 30)  # bounded: every request has a 10 s timeout
    if any(t.is_alive() for t in pool):
        raise SystemExit('load generator threads did not finish')
    elapsed = max(ended) - start
    return LoadResult(sum(counts), sum(errors), elapsed, time.process_time() - cpu0, 'python http.client')


def wrk_load(port: int, host: str, headers: dict, seconds: float, threads: int, expect: str) -> LoadResult:
    """The same load with wrk (only when it is installed)."""
    command = [shutil.which('wrk'), f'-t{min(threads, 4)}', f'-c{threads}', f'-d{max(1, round(seconds))}s',
               '-H', f'Host: {host}']
    for key, value in headers.items():
        command += ['-H', f'{key}: {value}']
    command.append(f'http://127.0.0.1:{port}/')
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    total = re.search(r'(\d+) requests in ([\d.]+)(us|ms|s|m)', out)
    if not total:
        raise SystemExit(f'cannot read wrk output:\n{out}')
    scale = {'us': 1e-6, 'ms': 1e-3, 's': 1.0, 'm': 60.0}[total.group(3)]
    bad = re.search(r'Non-2xx or 3xx responses: (\d+)', out)
    sock = re.search(r'Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)', out)
    errors = (int(bad.group(1)) if bad else 0) + (sum(int(x) for x in sock.groups()) if sock else 0)
    return LoadResult(int(total.group(1)) - (int(bad.group(1)) if bad else 0), errors,
                      float(total.group(2)) * scale, 0.0, 'wrk')


def check_server(label: str, server: Gunicorn, host: str, headers: dict, expect: str) -> None:
    status, body = server.wait_ready(host, headers)
    if status != 200 or expect not in body:
        raise SystemExit(f'{label}: first response HTTP {status}, expected text '
                         f'{"present" if expect in body else "missing"}; not benchmarking a wrong page\n'
                         f'{body[:500]}\n{server.log_tail()}')


def measure_http(targets: dict, sizes: Sizes, threads: int, client: str) -> dict[str, LoadResult]:
    """Load each target for ``sizes.seconds`` in all. Full runs split that into two halves in ABBA order
    (staff, hello, hello, staff) so a load change on the machine during the run hits both about equally."""
    load = wrk_load if client == 'wrk' else python_load
    for label, (server, host, headers, expect) in targets.items():
        check_server(label, server, host, headers, expect)
        if sizes.warmup:
            python_load(server.port, host, headers, sizes.warmup, threads, expect)
    labels = list(targets)
    order = labels + labels[::-1] if sizes.seconds >= 4 else labels
    per_phase = sizes.seconds * len(labels) / len(order)
    totals: dict[str, LoadResult] = {}
    for label in order:
        server, host, headers, expect = targets[label]
        log(f'{label}: {per_phase:g} s with {threads} connections ({client})')
        result = load(server.port, host, headers, per_phase, threads, expect)
        if result.errors:
            log(f'{label}: {result.errors} failed requests\n{server.log_tail()}')
        done = totals.get(label)
        totals[label] = result if done is None else LoadResult(
            done.requests + result.requests, done.errors + result.errors, done.seconds + result.seconds,
            done.client_cpu + result.client_cpu, result.tool)
    return totals


# --- run -------------------------------------------------------------------------------------------------------

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--tiny', action='store_true', help='small sizes and 1 s per HTTP phase (for the test suite)')
    parser.add_argument('--seconds', type=float, help='seconds per HTTP phase (default 10, --tiny 1)')
    parser.add_argument('--threads', type=int, default=8, help='concurrent client connections (default 8)')
    parser.add_argument('--workers', type=int, default=2, help='gunicorn workers for both apps (default 2)')
    parser.add_argument('--db', help='postgresql://user:pw@host/maintenance_db (a throwaway database is created '
                                     'on that server and dropped afterwards), or a new sqlite:///file')
    parser.add_argument('--client', choices=('auto', 'python', 'wrk'), default='auto',
                        help='load generator: wrk when installed (auto), else the Python client')
    parser.add_argument('--show-sql', action='store_true', help='print the statements of one staff-home request')
    args = parser.parse_args(argv)
    if args.seconds is not None and not 0 < args.seconds <= 600:
        parser.error('--seconds must be in (0, 600]')
    if not 1 <= args.threads <= 256:
        parser.error('--threads must be 1..256')
    if args.client == 'auto':
        args.client = 'wrk' if shutil.which('wrk') else 'python'
    elif args.client == 'wrk' and not shutil.which('wrk'):
        parser.error('wrk is not installed')
    return args


def run(args) -> dict:
    sizes = sizes_for(args)
    tmp = Path(tempfile.mkdtemp(prefix='propsaas-bench-'))
    log(f'temp dir {tmp}')
    database = None
    servers: list[Gunicorn] = []
    apps: list = []  # every Flask app made here: their engines are disposed before the databases are dropped
    try:
        database = Database(args.db, tmp)
        database.create()
        env = bench_env(database, tmp)
        os.environ.clear()
        os.environ.update(env)

        from propsaas import create_app
        from propsaas.extensions import db

        app = create_app()
        apps.append(app)
        log(f'migrating {database.kind} database')
        migrate(app)
        results = {'load_before': os.getloadavg()[0], 'db': database.kind, 'sizes': sizes, 'client': args.client,
                   'threads': args.threads, 'workers': args.workers}

        # 4. host resolution: a database with only the looked-up tenant vs one with sizes.tenants tenants
        slugs = [f't{i:04d}' for i in range(1, sizes.tenants + 1)]
        target = slugs[len(slugs) // 2 - 1] if len(slugs) > 1 else slugs[0]
        host = f'{target}.{BASE_DOMAIN}'
        # A second database holds only that tenant, so the two are timed in alternating rounds.
        one_url, one_migration_url = database.extra()
        one_app = create_app({'SQLALCHEMY_DATABASE_URI': one_url, 'MIGRATION_DATABASE_URL': one_migration_url})
        apps.append(one_app)
        migrate(one_app)
        bulk_insert_tenants(one_app, [target])
        bulk_insert_tenants(app, slugs)
        one, many = time_resolve([one_app, app], host, target, sizes.resolve_calls, sizes.resolve_rounds)
        with one_app.app_context():
            db.engine.dispose()
        results['resolve'] = (host, one, many)
        log(f'resolve_host({host!r}): 1 tenant {one * 1e3:.3f} ms, {sizes.tenants} tenants {many * 1e3:.3f} ms')

        # 1. tenant bench, staff user, session cookie
        bench = provision_bench(app)
        few = fill_users(bench, sizes.few_rows)
        bench.cookie = login_cookie(bench)

        # 3. statements per request, few and many users
        few_count = count_statements(bench, few)
        many_count = count_statements(bench, fill_users(bench, sizes.many_rows))
        results['sql'] = (few_count, many_count)
        for c in (few_count, many_count):
            log(f'{c.rows} users: statements/request {c.statements}'
                + (f', round trips/request {c.round_trips}' if c.round_trips else ''))
        results['in_process'] = time_in_process(bench, sizes)
        log(f'in-process staff home: {results["in_process"] * 1e3:.3f} ms/request')
        with app.app_context():
            db.engine.dispose()  # gunicorn's workers open their own connections

        # 2. HTTP: the staff home page and a bare hello-world, same gunicorn settings
        hello_dir = tmp / 'hello'
        hello_dir.mkdir()
        (hello_dir / 'hello.py').write_text(HELLO_APP)
        staff = Gunicorn('wsgi:app', Path(ROOT), env, tmp / 'gunicorn-app.log', args.workers)
        servers.append(staff)
        hello = Gunicorn('hello:app', hello_dir, env, tmp / 'gunicorn-hello.log', args.workers)
        servers.append(hello)
        loads = measure_http({
            'staff home': (staff, BENCH_HOST, {'Cookie': bench.cookie}, BENCH_NAME),
            'bare hello': (hello, '127.0.0.1', {}, 'hello'),
        }, sizes, args.threads, args.client)
        results['staff'], results['hello'] = loads['staff home'], loads['bare hello']
        return results
    finally:
        for server in servers:
            server.stop()
        for each in apps:
            try:
                from propsaas.extensions import db

                with each.app_context():
                    db.engine.dispose()
            except Exception as exc:  # noqa: BLE001  (cleanup goes on)
                log(f'engine dispose failed: {exc}')
        if database is not None:
            database.drop()
        shutil.rmtree(tmp, ignore_errors=True)


def mark(ok: bool) -> str:
    return 'ok' if ok else 'MISSED'


def report(results: dict, show_sql: bool) -> None:
    sizes: Sizes = results['sizes']
    staff, hello = results['staff'], results['hello']
    few, many = results['sql']
    host, one, many_t = results['resolve']

    def counted(counts: list[int]) -> str:
        return str(counts[0]) if len(set(counts)) == 1 else f'{min(counts)}-{max(counts)}'

    ratio = staff.rate / hello.rate if hello.rate else 0.0
    sql_equal = len(set(few.statements) | set(many.statements)) == 1
    resolve_ratio = many_t / one if one else 0.0
    split = ' (ABBA halves)' if sizes.seconds >= 4 else ''
    print(f'# {results["db"]}, gunicorn -w {results["workers"]} (sync), {results["threads"]} connections, '
          f'{staff.tool}, {sizes.seconds:g} s per app{split}; {os.cpu_count()} CPUs, load average '
          f'{results["load_before"]:.2f} before, {os.getloadavg()[0]:.2f} after')
    for label, result in (('http: staff home', staff), ('http: bare hello', hello)):
        extra = f'   ({result.requests} ok, {result.errors} failed in {result.seconds:.1f} s'
        extra += f', client cpu {result.client_cpu / result.seconds:.2f} cores)' if result.client_cpu else ')'
        print(f'{label:<18}{result.rate:>10.1f} req/s{extra}')
    print(f'{"ratio":<18}{ratio:>10.2f}         (target >= 0.30: {mark(ratio >= 0.30)})')
    print(f'in-process: staff home {results["in_process"] * 1e3:.3f} ms/request   (test client, no HTTP; '
          f'best of {sizes.resolve_rounds} rounds)')
    print(f'sql statements/request: {few.rows} rows: {counted(few.statements)}, '
          f'{many.rows} rows: {counted(many.statements)}   (target: equal: {mark(sql_equal)})')
    if few.round_trips:
        print(f'db round trips/request: {few.rows} rows: {counted(few.round_trips)}, '
              f'{many.rows} rows: {counted(many.round_trips)}   (statements + BEGIN, pool pre-ping, '
              f'RLS settings, ROLLBACK)')
    print(f'host resolution: 1 tenant {one * 1e3:.3f} ms, {sizes.tenants} tenants {many_t * 1e3:.3f} ms, '
          f'ratio {resolve_ratio:.2f} (target <= 1.10: {mark(resolve_ratio <= 1.10)})   [{host}]')
    if show_sql or not sql_equal:
        for count in (few, many):
            print(f'-- statements of one staff-home request with {count.rows} rows:')
            for statement in count.sql:
                print('   ' + ' '.join(statement.split()))


def main(argv=None) -> int:
    args = parse_args(argv)

    def on_term(signum, frame):
        raise SystemExit(128 + signum)  # run the finally blocks: gunicorn, temp dir, PG database

    signal.signal(signal.SIGTERM, on_term)
    results = run(args)
    report(results, args.show_sql)
    return 0


if __name__ == '__main__':
    sys.exit(main())
