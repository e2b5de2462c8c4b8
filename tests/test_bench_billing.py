"""scripts/bench/billing.py runs end to end (--tiny) on the test database and prints every figure. It never asserts a
time; that the figures are there (the bill run's, and the PDF jobs' against bare WeasyPrint), that the bill run really
wrote its rows, and that its statements for 500 rooms stay within 1.1 × those for 50, it does."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / 'scripts' / 'bench' / 'billing.py'
TIMEOUT = 300


def assert_figures(stdout: str, database: str) -> None:
    run = re.search(rf'^billrun {database}\s+(\d+) lines/s\s+\((\d+) bills \+ (\d+) lines', stdout, re.MULTILINE)
    assert run, f'billrun {database} missing:\n{stdout}'
    assert (int(run.group(2)), int(run.group(3))) == (1000, 1500)  # a bill per room and per space
    bare = re.search(rf'^bare {database}\s+(\d+) lines/s\s+\((\d+) bills \+ (\d+) lines', stdout, re.MULTILINE)
    assert bare and (int(bare.group(2)), int(bare.group(3))) == (1000, 1500), stdout
    assert re.search(rf'^ratio {database}\s+\d+\.\d+\s.*target <= 3\.0', stdout, re.MULTILINE), stdout
    counts = re.search(rf'^statements {database}\s+50 rooms: (\d+), 500 rooms: (\d+)', stdout, re.MULTILINE)
    assert counts, f'statements {database} missing:\n{stdout}'
    small, big = int(counts.group(1)), int(counts.group(2))
    assert 0 < small and big <= small * 1.1, stdout


def assert_pdf_figures(stdout: str) -> None:
    """The PDF figures (SQLite process only): each job and its bare WeasyPrint baseline over the same 10 bills, and
    the ratios; never a time."""
    for name, unit, count in (('pdf pack', 'pages/s', 'pages'), ('pdf pack bare', 'pages/s', 'pages'),
                              ('pdf bills', 'PDFs/s', 'files'), ('pdf bills bare', 'PDFs/s', 'files')):
        found = re.search(rf'^{name}\s+(\d+\.\d) {unit}\s+\((\d+) {count} in', stdout, re.MULTILINE)
        assert found and int(found.group(2)) == 10, f'{name} missing:\n{stdout}'
    for name in ('pdf pack ratio', 'pdf bills ratio'):
        assert re.search(rf'^{name}\s+\d+\.\d+\s.*target >= 0\.85', stdout, re.MULTILINE), stdout


def test_billing_bench_prints_its_figures_with_constant_statements():
    url = os.environ.get('TEST_DATABASE_URL')
    args = ['--tiny', '--db', url] if url else ['--tiny', '--no-postgres']
    result = subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, env=dict(os.environ),
                            capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_figures(result.stdout, 'sqlite')
    assert_pdf_figures(result.stdout)
    if url:
        assert_figures(result.stdout, 'postgresql')
        created = re.search(r'created database (\w+)', result.stderr)
        assert created and f'dropped database {created.group(1)}' in result.stderr, result.stderr
    else:
        assert 'postgresql' not in result.stdout
