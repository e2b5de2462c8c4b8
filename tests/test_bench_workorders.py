"""scripts/bench/workorders.py runs end to end (--tiny) and prints every figure: the board's and the statistics
page's statements for 200 and 1,000 orders (equal, which it asserts), the statistics page against hand-written SQL,
and the photo re-encoding against Pillow's bare resize. It never asserts a time."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / 'scripts' / 'bench' / 'workorders.py'


def assert_figures(stdout: str, database: str) -> None:
    for page in ('board', 'stats'):
        found = re.search(rf'^statements {page} {database}\s+200 orders: (\d+), 1000 orders: (\d+)', stdout,
                          re.MULTILINE)
        assert found, f'statements {page} {database} missing:\n{stdout}'
        assert 0 < int(found.group(1)) == int(found.group(2)), stdout
    for name in ('stats page', 'stats sql'):
        assert re.search(rf'^{name} {database}\s+\d+\.\d ms', stdout, re.MULTILINE), stdout
    assert re.search(rf'^stats ratio {database}\s+\d+\.\d+\s.*target <= 2\.0', stdout, re.MULTILINE), stdout


def test_workorders_bench_prints_its_figures_with_constant_statements():
    url = os.environ.get('TEST_DATABASE_URL')
    args = ['--tiny', '--db', url] if url else ['--tiny', '--no-postgres']
    result = subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, env=dict(os.environ),
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_figures(result.stdout, 'sqlite')
    for name in ('photo clean', 'photo bare'):
        assert re.search(rf'^{name}\s+\d+\.\d ms\s+\(', result.stdout, re.MULTILINE), result.stdout
    assert re.search(r'^photo ratio\s+\d+\.\d+\s.*target <= 1\.5', result.stdout, re.MULTILINE), result.stdout
    assert '12 MP JPEG' in result.stdout
    if url:
        assert_figures(result.stdout, 'postgresql')
        created = re.search(r'created database (\w+)', result.stderr)
        assert created and f'dropped database {created.group(1)}' in result.stderr, result.stderr
    else:
        assert 'postgresql' not in result.stdout
