"""scripts/bench/notify.py runs end to end (--tiny) on the test database and prints every figure. It never asserts a
time: figures on a shared CI machine say nothing; that they are all there, that the fan-out really wrote its rows,
and that targeting + fan-out issue as many statements for 50 recipients as for 500, do."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / 'scripts' / 'bench' / 'notify.py'
TIMEOUT = 300


def assert_figures(stdout: str, database: str) -> None:
    fanout = re.search(rf'^fanout {database}\s+(\d+) deliveries/s\s+\((\d+) messages \+ (\d+) deliveries',
                       stdout, re.MULTILINE)
    assert fanout, f'fanout {database} missing:\n{stdout}'
    assert (int(fanout.group(2)), int(fanout.group(3))) == (500, 1500)  # inbox + SMS + e-mail each
    bare = re.search(rf'^bare {database}\s+(\d+) deliveries/s\s+\((\d+) messages \+ (\d+) deliveries', stdout,
                     re.MULTILINE)
    assert bare and (int(bare.group(2)), int(bare.group(3))) == (500, 1500), stdout
    assert re.search(rf'^ratio {database}\s+\d+\.\d+\s.*target >= 0\.50', stdout, re.MULTILINE), stdout
    counts = re.search(rf'^statements {database}\s+50 recipients: (\d+), 500 recipients: (\d+)', stdout,
                       re.MULTILINE)
    assert counts, f'statements {database} missing:\n{stdout}'
    small, big = int(counts.group(1)), int(counts.group(2))
    assert 0 < small == big, stdout


def test_notify_bench_prints_its_figures_with_constant_statements():
    url = os.environ.get('TEST_DATABASE_URL')
    args = ['--tiny', '--db', url] if url else ['--tiny', '--no-postgres']
    result = subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, env=dict(os.environ),
                            capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_figures(result.stdout, 'sqlite')
    if url:
        assert_figures(result.stdout, 'postgresql')
        created = re.search(r'created database (\w+)', result.stderr)
        assert created and f'dropped database {created.group(1)}' in result.stderr, result.stderr
    else:
        assert 'postgresql' not in result.stdout
