"""scripts/bench/http.py runs end to end (--tiny), prints every figure and cleans up after itself.

It checks that the benchmark works, never how fast anything is: no time or ratio is asserted. Against
PostgreSQL (TEST_DATABASE_URL set) the script makes and drops its own database and roles on that server.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / 'scripts' / 'bench' / 'http.py'

NUMBER = r'\d+(?:\.\d+)?'
LINES = {
    'staff home req/s': rf'^http: staff home\s+{NUMBER} req/s',
    'bare hello req/s': rf'^http: bare hello\s+{NUMBER} req/s',
    'ratio': rf'^ratio\s+{NUMBER}\s',
    'statements, both sizes': r'^sql statements/request: 10 rows: \d+(?:-\d+)?, 100 rows: \d+(?:-\d+)?\s',
    'host resolution': rf'^host resolution: 1 tenant {NUMBER} ms, 50 tenants {NUMBER} ms, ratio {NUMBER}\s',
}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _left_on_server(url: str, databases: list[str], roles: list[str]) -> list[str]:
    admin = sa.create_engine(re.sub(r'^postgresql(\+psycopg)?://', 'postgresql+psycopg://', url),
                             poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as conn:
            left = [name for name in databases
                    if conn.execute(sa.text('SELECT 1 FROM pg_database WHERE datname = :n'), {'n': name}).first()]
            left += [name for name in roles
                     if conn.execute(sa.text('SELECT 1 FROM pg_roles WHERE rolname = :n'), {'n': name}).first()]
    finally:
        admin.dispose()
    return left


def test_bench_tiny_prints_every_figure_and_cleans_up():
    pg_url = os.environ.get('TEST_DATABASE_URL')
    command = [sys.executable, str(SCRIPT), '--tiny'] + (['--db', pg_url] if pg_url else [])
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    output = f'--- stdout\n{done.stdout}\n--- stderr\n{done.stderr[-4000:]}'
    assert done.returncode == 0, f'exit {done.returncode}\n{output}'
    missing = [name for name, pattern in LINES.items() if not re.search(pattern, done.stdout, re.M)]
    assert not missing, f'lines missing: {missing}\n{output}'

    temp_dir = re.search(r'^\[bench\] temp dir (\S+)$', done.stderr, re.M)
    assert temp_dir and not Path(temp_dir.group(1)).exists(), f'temp dir left behind\n{output}'
    pids = [int(pid) for pid in re.findall(r'^\[bench\] gunicorn pid (\d+) ', done.stderr, re.M)]
    assert len(pids) == 2 and not any(_pid_alive(pid) for pid in pids), f'gunicorn left running\n{output}'
    if pg_url:
        databases = re.findall(r'^\[bench\] created PostgreSQL database (\w+)$', done.stderr, re.M)
        roles = re.search(r'^\[bench\] created roles (.+)$', done.stderr, re.M)
        assert databases, output
        assert not _left_on_server(pg_url, databases, roles.group(1).split(', ') if roles else []), output
