"""scripts/bench/dashboard.py runs end to end (--tiny) and prints every figure: the dashboard's statements with one
month and with two years of data (equal, which this asserts), the page against hand-written SQL and their ratio. It
never asserts a time."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / 'scripts' / 'bench' / 'dashboard.py'


def assert_figures(stdout: str, database: str) -> None:
    found = re.search(rf'^statements dashboard {database}\s+one month: (\d+), two years: (\d+)', stdout, re.MULTILINE)
    assert found, f'statements {database} missing:\n{stdout}'
    assert 0 < int(found.group(1)) == int(found.group(2)), stdout
    for name in ('dashboard page', 'dashboard sql'):
        assert re.search(rf'^{name} {database}\s+\d+\.\d ms', stdout, re.MULTILINE), stdout
    assert re.search(rf'^dashboard ratio {database}\s+\d+\.\d+\s.*target <= 2\.0', stdout, re.MULTILINE), stdout


def test_dashboard_bench_prints_its_figures_with_constant_statements():
    url = os.environ.get('TEST_DATABASE_URL')
    args = ['--tiny', '--db', url] if url else ['--tiny', '--no-postgres']
    result = subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, env=dict(os.environ),
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_figures(result.stdout, 'sqlite')
    if url:
        assert_figures(result.stdout, 'postgresql')
        created = re.search(r'created database (\w+)', result.stderr)
        assert created and f'dropped database {created.group(1)}' in result.stderr, result.stderr
    else:
        assert 'postgresql' not in result.stdout
