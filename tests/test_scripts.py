"""The operator scripts, run for real as subprocesses against a throwaway SQLite database.

They never touch the developer's instance/ directory: every run gets PROPSAAS_INSTANCE_DIR and (for
provisioning) DATABASE_URL under tmp_path. PROPSAAS_NO_APT keeps the scripts from installing Debian packages.
"""
from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

# The scripts bring their own SQLite database, so the PostgreSQL run of scripts/test would only repeat them.
pytestmark = pytest.mark.skipif(bool(os.environ.get('TEST_DATABASE_URL')),
                                reason='runs once, in the SQLite run: the scripts use their own database')

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 180
PASSWORD = 'Correct-Horse-42'
HEADER = 'slug,name,template,admin_email,admin_password,org\n'
GOOD_ROW = f'sunshine,阳光花园,standard-residential,admin@sunshine.cn,{PASSWORD},阳光物业\n'


def script_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ('DATABASE_URL', 'REDIS_URL', 'SECRET_KEY', 'FLASK_APP', 'PROPSAAS_FILES_DIR')}
    env.update(PROPSAAS_INSTANCE_DIR=str(tmp_path / 'instance'), PROPSAAS_BASE_DOMAIN='localhost',
               PROPSAAS_NO_APT='1', **extra)
    return env


def run(args: list[str], env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)


def flask(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return run([sys.executable, '-m', 'flask', '--app', 'wsgi', *args], env)


def provision(env: dict[str, str], path: Path) -> subprocess.CompletedProcess:
    return run([str(ROOT / 'scripts' / 'provision-tenant'), str(path)], env)


def row_outcome(output: str, line: int) -> tuple[str, str, str]:
    """(slug, outcome, detail) of the line the CLI printed for file line ``line``."""
    match = re.search(rf'^line {line}\s+(\S+)\s+(\S+)\s*(.*)$', output, re.MULTILINE)
    assert match, f'no result for line {line} in:\n{output}'
    return match.group(1), match.group(2), match.group(3)


def test_provision_tenant_reports_each_row_and_is_safe_to_rerun(tmp_path):
    env = script_env(tmp_path, DATABASE_URL=f'sqlite:///{tmp_path / "x.db"}')
    migrated = flask(env, 'db', 'upgrade')
    assert migrated.returncode == 0, migrated.stderr

    # UTF-8 with BOM, as Excel saves "CSV UTF-8": good row, reserved slug, the good row again.
    batch = tmp_path / 'projects.csv'
    batch.write_text(HEADER + GOOD_ROW + 'www,坏的,,admin@www.cn,,\n' + GOOD_ROW, encoding='utf-8-sig')
    first = provision(env, batch)
    assert first.returncode != 0, first.stdout  # a failed row fails the command
    assert row_outcome(first.stdout, 2)[:2] == ('sunshine', 'created')
    slug, outcome, detail = row_outcome(first.stdout, 3)
    assert (slug, outcome) == ('www', 'failed') and 'reserved' in detail
    assert row_outcome(first.stdout, 4)[:2] == ('sunshine', 'skipped')
    assert '1 created, 1 skipped, 1 failed' in first.stdout

    listed = flask(env, 'tenants', 'list', '--json')
    assert listed.returncode == 0, listed.stderr
    assert [t['slug'] for t in json.loads(listed.stdout)] == ['sunshine']

    # Again, from another directory and as GBK (what WPS writes): the existing tenant is skipped, exit 0.
    again = tmp_path / 'again.csv'
    again.write_bytes((HEADER + GOOD_ROW).encode('gbk'))
    second = run([str(ROOT / 'scripts' / 'provision-tenant'), again.name], env, cwd=tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert row_outcome(second.stdout, 2)[:2] == ('sunshine', 'skipped')
    assert '0 created, 1 skipped, 0 failed' in second.stdout


def test_provision_tenant_usage(tmp_path):
    env = script_env(tmp_path)
    script = str(ROOT / 'scripts' / 'provision-tenant')
    helped = run([script, '--help'], env)
    assert helped.returncode == 0 and 'slug,name,template,admin_email,admin_password,org' in helped.stdout
    bare = run([script], env)
    assert bare.returncode == 2 and 'Usage' in bare.stdout + bare.stderr
    missing = provision(env, tmp_path / 'missing.csv')
    assert missing.returncode == 2 and 'no such file' in missing.stderr


def test_demo_no_serve_sets_up_the_demo_tenant_twice(tmp_path):
    env = script_env(tmp_path, PORT='5099')  # embedded defaults: SQLite under the instance dir, jobs inline
    for attempt in (1, 2):
        done = run([str(ROOT / 'scripts' / 'demo'), '--no-serve'], env)
        assert done.returncode == 0, f'run {attempt}:\n{done.stdout}\n{done.stderr}'
        for login in ('admin@demo.propsaas.cn', 'tech@demo.propsaas.cn', '13800000003'):
            assert f'login: {login}' in done.stdout
        assert 'http://demo.localhost:5099/' in done.stdout
    database = tmp_path / 'instance' / 'propsaas.db'
    assert database.exists()
    # the demo has something to show on every new page, made once however often it is set up
    with sqlite3.connect(database) as conn:
        notices = conn.execute('SELECT count(*) FROM announcements').fetchone()[0]
        bills, households = conn.execute('SELECT count(*), count(DISTINCT room_id) FROM bills').fetchone()
        runs = conn.execute('SELECT count(*) FROM bill_runs').fetchone()[0]
        devices = conn.execute('SELECT count(*) FROM devices').fetchone()[0]
        lift_tasks = conn.execute("SELECT count(*) FROM inspection_tasks WHERE device_id IS NOT NULL").fetchone()[0]
        packs = conn.execute("SELECT status, result_file FROM job_records WHERE key = 'onboarding:pack'").fetchall()
    assert notices == 1 and runs == 1 and bills == households > 0
    assert devices == 3 and lift_tasks > 0
    (status, pack_file), = packs  # the onboarding pack, rendered once
    assert status == 'done' and len(list((tmp_path / 'instance' / 'files' / 'tenants').glob(f'*/{pack_file}'))) == 1
