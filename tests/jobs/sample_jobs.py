"""Job functions registered for the job tests only (the registry is global by dotted name; fine in-process).

Imported as ``tests.jobs.sample_jobs`` everywhere, so each job has one dotted name. A worker subprocess
started from ``wsgi`` does not import this module: for it these jobs are unknown kinds (test_faults.py starts
its workers with this module imported first, for the fault jobs at the end).
"""
from __future__ import annotations

import hashlib
import os
import signal
import time
from pathlib import Path
from unittest import mock

import sqlalchemy as sa
from flask import current_app

from propsaas.auth.models import User
from propsaas.errors import DomainError
from propsaas.extensions import db
from propsaas.jobs.models import JobRecord
from propsaas.jobs.queue import _running_record, job
from propsaas.storage import write_atomically
from propsaas.tenancy.context import current_tenant_id


@job('测试失败')
def explode(message: str) -> dict:
    raise RuntimeError(message)


@job('测试失败')
def refuse(message: str) -> dict:
    raise DomainError(message)


@job('测试：看到的用户')
def users_seen() -> dict:
    """What a job sees of the database: its tenant and the names of the users it can read."""
    names = db.session.execute(sa.select(User.name).order_by(User.name)).scalars().all()
    return {'tenant_id': current_tenant_id(), 'names': names}


@job('测试失败')
def explode_at_length(length: int) -> dict:
    raise RuntimeError('长' * length)


@job('测试失败')
def refuse_at_length(repeat: int) -> dict:
    raise DomainError('账单已锁定，' * repeat)


# --- fault jobs: run only by a real worker process that tests/jobs/test_faults.py starts with this module
# imported (and FAULT_JOBS_ENV set, so nothing in the test process itself ever kills or parks itself) ------

FAULT_JOBS_ENV = 'PROPSAAS_TEST_FAULT_JOBS'
PARK_SECONDS = 30  # a parked job gives up waiting after this and carries on (the tests kill it long before)
_os_replace = os.replace  # the real one, while stall_once patches os.replace


def fault_key(name: str) -> str:
    return f'faults/{name}.bin'


def fault_payload(name: str) -> bytes:
    """What a fault job stores: its name, then 512 KiB derived from it (a torn file would not match)."""
    return f'{name}\n'.encode() + hashlib.sha256(name.encode()).hexdigest().encode() * 8192


def fault_marker(files_dir: str, name: str, what: str) -> Path:
    """Files through which a fault job and its test talk: ``runs`` (one "pid attempt" line per run),
    ``parked`` (the pid, written once the job waits), ``release`` (created by the test: stop waiting)."""
    return Path(files_dir) / 'fault-markers' / f'{name}.{what}'


def _fault_run(name: str) -> int:
    """Check we are in a test worker, log this run (pid, attempt) and return the attempt number."""
    if os.environ.get(FAULT_JOBS_ENV) != '1':
        raise RuntimeError('fault jobs run only in a test worker process')
    attempt = db.session.execute(sa.select(JobRecord.attempts)
                                 .where(JobRecord.id == _running_record.get())).scalar_one()
    db.session.rollback()  # hold no read transaction while parked (SQLite: it would block the heartbeat)
    runs = fault_marker(current_app.config['FILES_DIR'], name, 'runs')
    runs.parent.mkdir(parents=True, exist_ok=True)
    with runs.open('a') as fh:
        fh.write(f'{os.getpid()} {attempt}\n')
    return attempt


def _first_time(name: str, what: str) -> bool:
    """True once per name: creates the marker exclusively."""
    try:
        fault_marker(current_app.config['FILES_DIR'], name, what).open('x').close()
    except FileExistsError:
        return False
    return True


def _park(name: str) -> None:
    """Say so (``parked`` holds our pid), then wait for ``release`` (at most PARK_SECONDS)."""
    files_dir = current_app.config['FILES_DIR']
    parked = fault_marker(files_dir, name, 'parked')
    parked.with_suffix('.tmp').write_text(str(os.getpid()))
    _os_replace(parked.with_suffix('.tmp'), parked)
    deadline = time.monotonic() + PARK_SECONDS
    while not fault_marker(files_dir, name, 'release').exists() and time.monotonic() < deadline:
        time.sleep(0.05)


@job('测试：第一次执行时停住')
def stall_once(name: str, where: str) -> dict:
    """Writes fault_payload(name) with write_atomically. The first time, it parks ``where``: 'before-write'
    (nothing on disk yet) or 'before-rename' (the whole file written under its temp name, not yet renamed)."""
    if where not in ('before-write', 'before-rename'):
        raise ValueError(where)
    attempt = _fault_run(name)
    data = fault_payload(name)
    first = _first_time(name, 'stalled')
    if first and where == 'before-write':
        _park(name)
    if first and where == 'before-rename':
        def parked_replace(src, dst):
            _park(name)
            return _os_replace(src, dst)

        with mock.patch.object(os, 'replace', parked_replace):
            write_atomically(fault_key(name), data)
    else:
        write_atomically(fault_key(name), data)
    return {'file': fault_key(name), 'attempt': attempt, 'size': len(data)}


@job('测试：第一次执行时进程被杀')
def die_once(name: str) -> dict:
    """The first time, kills its own process (the work horse) with SIGKILL; afterwards writes its file."""
    attempt = _fault_run(name)
    if _first_time(name, 'killed'):
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(PARK_SECONDS)  # not reached
    data = fault_payload(name)
    write_atomically(fault_key(name), data)
    return {'file': fault_key(name), 'attempt': attempt, 'size': len(data)}


@job('测试：慢慢写')
def slow_write(name: str, tenths: int) -> dict:
    """Waits ``tenths`` tenths of a second, then writes its file: long enough for two deliveries to overlap."""
    attempt = _fault_run(name)
    time.sleep(tenths / 10)
    data = fault_payload(name)
    write_atomically(fault_key(name), data)
    return {'file': fault_key(name), 'attempt': attempt, 'size': len(data)}
