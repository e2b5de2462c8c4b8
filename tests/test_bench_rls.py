"""scripts/bench/rls.py runs end to end (--tiny) and prints every figure. It never asserts a time: figures on a
shared CI machine say nothing; that they are all there, and that the run cleans up, does."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / 'scripts' / 'bench' / 'rls.py'
TIMEOUT = 180
LABELS = ('query RLS on', 'query RLS off', 'query ratio on/off', 'http RLS on', 'http RLS off', 'http ratio on/off')


def bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, env=dict(os.environ), capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get('TEST_DATABASE_URL'),
                    reason='the RLS bench needs PostgreSQL (set TEST_DATABASE_URL)')
def test_rls_bench_prints_every_figure_and_drops_its_database():
    url = os.environ['TEST_DATABASE_URL']
    result = bench('--tiny', '--db', url)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for label in LABELS:
        figure = re.search(rf'^{re.escape(label)}\s+\d+\.\d+ ', result.stdout, re.MULTILINE)
        assert figure, f'{label!r} missing:\n{output}'
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


def test_rls_bench_skips_when_postgresql_is_not_reachable():
    result = bench('--tiny', '--db', 'postgresql+psycopg://postgres@127.0.0.1:1/test')
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'rls bench skipped: PostgreSQL is not reachable' in result.stdout
