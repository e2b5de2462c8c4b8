"""scripts/bench/provision.py runs end to end (--tiny) and prints every figure: the 1st and the last of 12
provisionings in a row, the medians of the first and the last 6, and the statements per provisioning, which must be
the same for every tenant (asserted); then the onboarding pack's pages/s (10 households) against bare WeasyPrint on
the same HTML, and their ratio, with as many pages on both sides (asserted). It never asserts a time or a ratio."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / 'scripts' / 'bench' / 'provision.py'
MS = r'\d+\.\d ms'
RATE = r'\d+\.\d'


def assert_figures(stdout: str, database: str) -> None:
    assert re.search(rf'^provision {database}\s+1st\s+{MS}\s+12th\s+{MS}\s+ratio\s+\d+\.\d\d\s+\(target <= 1\.1: ',
                     stdout, re.MULTILINE), stdout
    assert re.search(rf'^median {database}\s+first 6\s+{MS}\s+last 6\s+{MS}\s+ratio\s+\d+\.\d\d\s+\(target <= 1\.1',
                     stdout, re.MULTILINE), stdout
    statements = re.search(rf'^statements {database}\s+(\d+) for the 1st, (\d+) for the 12th, (\d+)-(\d+) in all',
                           stdout, re.MULTILINE)
    assert statements, stdout
    first, last, low, high = map(int, statements.groups())
    assert first == last == low == high > 0, stdout  # constant: nothing grows with the number of tenants
    pack = re.search(rf'^pack pages/s {database}\s+{RATE}\s+\((\d+) pages in \d+\.\d\d s; render_onboarding_pack: '
                     rf'10 households', stdout, re.MULTILINE)
    bare = re.search(rf'^bare weasyprint pages/s {database}\s+{RATE}\s+\((\d+) pages in \d+\.\d\d s; the same HTML',
                     stdout, re.MULTILINE)
    assert pack and bare, stdout
    # the front part (configuration, manuals, FAQ, the admin's login) and a sheet per household, both sides alike
    assert int(pack.group(1)) == int(bare.group(1)) > 10, stdout
    assert re.search(rf'^pack ratio {database}\s+\d+\.\d\d\s+\(pack / bare pages/s; target >= 0\.85: (ok|MISSED)\)',
                     stdout, re.MULTILINE), stdout


def test_provision_bench_prints_its_figures_with_constant_statements():
    url = os.environ.get('TEST_DATABASE_URL')
    args = ['--tiny', '--db', url] if url else ['--tiny', '--no-postgres']
    result = subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, env=dict(os.environ),
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_figures(result.stdout, 'sqlite')
    if url:
        assert_figures(result.stdout, 'postgresql')
        created = re.search(r'created database (\w+)', result.stderr)
        assert created and f'dropped database {created.group(1)}' in result.stderr, result.stderr
    else:
        assert 'postgresql' not in result.stdout
