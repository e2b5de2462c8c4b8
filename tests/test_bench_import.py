"""scripts/bench/import.py runs end to end (--tiny) and prints every figure. It never asserts a time: figures on a
shared CI machine say nothing; that they are all there, that the import really wrote the rows, and that the run
cleans up, does."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / 'scripts' / 'bench' / 'import.py'
TIMEOUT = 300


def bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, env=dict(os.environ), capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)


def labels(database: str) -> tuple[str, ...]:
    return tuple(f'{kind} {database}' for kind in ('import', 'ratio', 'memory', 'inserts', 'flow'))


def assert_figures(stdout: str, database: str) -> None:
    assert re.search(r'^bare openpyxl read\s+\d+ rows/s', stdout, re.MULTILINE), stdout
    for label in labels(database):
        assert re.search(rf'^{re.escape(label)}\s+\d+(\.\d+)? ', stdout, re.MULTILINE), f'{label!r} missing:\n{stdout}'
    written = re.search(rf'^import {database}\s.*?(\d+) residents, (\d+) occupancies', stdout, re.MULTILINE)
    assert written and int(written.group(1)) > 400 and int(written.group(2)) > 400, stdout
    inserts = int(re.search(rf'^inserts {database}\s+(\d+)', stdout, re.MULTILINE).group(1))
    assert 0 < inserts < 50  # bulk statements, not one per row (500 rows)
    assert re.search(rf'^flow {database}\s.*batch committed', stdout, re.MULTILINE), stdout


def test_import_bench_on_sqlite_prints_every_figure():
    result = bench('--tiny', '--no-postgres')
    assert result.returncode == 0, result.stdout + result.stderr
    assert_figures(result.stdout, 'sqlite')
    assert 'postgresql' not in result.stdout


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get('TEST_DATABASE_URL'), reason='needs PostgreSQL (set TEST_DATABASE_URL)')
def test_import_bench_on_postgresql_prints_every_figure_and_drops_its_database():
    url = os.environ['TEST_DATABASE_URL']
    result = bench('--tiny', '--db', url)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert_figures(result.stdout, 'sqlite')
    assert_figures(result.stdout, 'postgresql')
    created = re.search(r'created database (\w+)', result.stderr)
    assert created, output
    admin = sa.create_engine(url.replace('postgresql://', 'postgresql+psycopg://', 1), poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as conn:
            left = conn.execute(sa.text('SELECT 1 FROM pg_database WHERE datname = :name'),
                                {'name': created.group(1)}).first()
    finally:
        admin.dispose()
    assert left is None, f'{created.group(1)} was not dropped'


def test_import_bench_says_when_postgresql_is_not_reachable():
    result = bench('--tiny', '--db', 'postgresql+psycopg://postgres@127.0.0.1:1/test')
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'import postgresql skipped: PostgreSQL is not reachable' in result.stdout
    assert_figures(result.stdout, 'sqlite')
