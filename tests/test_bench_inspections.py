"""scripts/bench/inspections.py runs end to end (--tiny) and prints every figure: generating a month of tasks for
20 plans against a bare insert of the same rows, and a re-run that adds 0 rows in equal statement counts (which it
asserts). It never asserts a time."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / 'scripts' / 'bench' / 'inspections.py'


def assert_figures(stdout: str, database: str) -> None:
    made = re.search(rf'^generate {database}\s+\d+\.\d ms\s+\(20 plans, 31 days: (\d+) tasks', stdout, re.MULTILINE)
    assert made and int(made.group(1)) > 0, stdout
    bare = re.search(rf'^bare insert {database}\s+\d+\.\d ms\s+\(Core executemany of the same (\d+) rows', stdout,
                     re.MULTILINE)
    assert bare and bare.group(1) == made.group(1), stdout
    assert re.search(rf'^generate ratio {database}\s+\d+\.\d+\s.*target <= 2\.0', stdout, re.MULTILINE), stdout
    rerun = re.search(rf'^re-run {database}\s+(\d+) rows, (\d+) statements with 20 plans, (\d+) with 2', stdout,
                      re.MULTILINE)
    assert rerun and rerun.group(1) == '0' and rerun.group(2) == rerun.group(3), stdout


def test_inspections_bench_prints_its_figures_and_a_rerun_adds_nothing():
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
