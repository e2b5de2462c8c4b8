"""Faults with a real worker process and a real Redis server: SECURITY.md items 21-23.

21. A worker killed mid-job (the whole worker, or only the work horse RQ forks per job): the job runs again,
    or after the last attempt ends FAILED with its reason, visible to staff; never RUNNING forever; one row,
    one complete file, never a partial file a user could download. A horse that outlives its killed worker
    (RQ gives every horse a process group of its own) keeps its heartbeat and finishes: the job runs once.
22. The same record delivered twice, to two workers at once: it runs once.
23. Redis stopped and started again (a private redis-server on a spare port, no persistence: it comes back
    empty): pages that don't need Redis keep working, enqueueing answers 503 with a clear message, the record
    is committed and runs at the next worker start.

Tests marked xfail(strict=True) pin findings, each named with its fix in the reason: temp files left by a
killed write, attempts that carry over to a re-run, an idle worker's maintenance that waits 405 s, a worker
that exits when Redis is gone as its job ends, and logins that fail while Redis is down.

Workers are ``flask --app wsgi worker`` subprocesses, each in its own process group, started through a
``python -c`` wrapper that imports tests.jobs.sample_jobs first (the fault jobs live there). Every test has
its own queue; only that queue's keys (and its jobs' and dead workers' keys) are deleted at the end.

Needs TEST_REDIS_URL (scripts/test sets redis://127.0.0.1:6379/15); the stop/start tests also need
``redis-server`` on PATH.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.serializers import JSONSerializer

import propsaas
from propsaas.auth.jobs import export_users
from propsaas.extensions import db
from propsaas.jobs.models import JobRecord
from propsaas.jobs.queue import _rq_job_id, enqueue, redis_connection, rq_queue, run_job
from propsaas.models_base import utcnow
from propsaas.storage import path_for
from tests.conftest import PASSWORD, host
from tests.jobs import sample_jobs
from tests.jobs.sample_jobs import FAULT_JOBS_ENV, fault_key, fault_marker, fault_payload
from tests.jobs.support import EXPORT_KEY, HEADER, read_export
from tests.jobs.test_worker import _delete_queue_keys, build_app, client_on, scope

REDIS_URL = os.environ.get('TEST_REDIS_URL')
ROOT = Path(propsaas.__file__).resolve().parent.parent
WAIT = 20  # the longest any single wait in this file may take, in seconds
HEARTBEAT, STALE = 0.5, 2  # what the workers here run with (PROPSAAS_JOB_HEARTBEAT_SECONDS / _STALE_SECONDS)
MAINTENANCE = 10  # PropsaasWorker's maintenance_interval: max(10, JOB_STALE_SECONDS)
QUEUE_DOWN = '后台处理暂时不可用'
# `flask --app wsgi worker ...`, with the test jobs registered first (argv[1:] is what flask parses).
WORKER_MAIN = 'import sys, tests.jobs.sample_jobs; from flask.cli import main; sys.argv[0] = "flask"; main()'

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(not REDIS_URL, reason='needs a real Redis server: set TEST_REDIS_URL '
                                             '(scripts/test sets redis://127.0.0.1:6379/15)'),
]
needs_redis_server = pytest.mark.skipif(shutil.which('redis-server') is None,
                                        reason='needs redis-server on PATH to stop and start a Redis of its own')


class WorkerExited(Exception):
    """The worker process ended while it should have been serving the queue."""


class TempFilesLeft(AssertionError):
    """Temp files of an interrupted write are still in the tenant's folder after the job was recovered."""


# --- waiting, processes ------------------------------------------------------------------------------------


def wait_for(what: str, check, timeout: float = WAIT, every: float = 0.05):
    """Poll ``check()`` until it returns something truthy (returned), or fail saying what never happened."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f'timed out after {timeout} s waiting for {what}')
        time.sleep(every)


def process_gone(pid: int) -> bool:
    """Dead (or a zombie nobody reaped yet)."""
    try:
        stat = Path(f'/proc/{pid}/stat').read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat.rsplit(')', 1)[1].split()[0] in ('Z', 'X')


def kill_horse(pid: int) -> None:
    """SIGKILL a work horse by its pid: RQ puts every horse in a process group of its own (os.setpgrp), so
    killing the worker's group leaves it running. Only a live process that is still one of our workers' forks."""
    if process_gone(pid):
        return
    with suppress(ProcessLookupError, FileNotFoundError):
        cmdline = Path(f'/proc/{pid}/cmdline').read_bytes()
        if WORKER_MAIN.encode() in cmdline or cmdline.startswith(b'rq:'):
            os.kill(pid, signal.SIGKILL)
    wait_for(f'work horse {pid} to die', lambda: process_gone(pid), timeout=10)


def children_of(pid: int) -> list[int]:
    children = []
    for stat in Path('/proc').glob('[0-9]*/stat'):
        with suppress(OSError):
            fields = stat.read_text().rsplit(')', 1)[1].split()
            if int(fields[1]) == pid:
                children.append(int(stat.parent.name))
    return children


class WorkerProcess:
    """A ``flask --app wsgi worker`` subprocess, leader of its own process group; its output in a file."""

    def __init__(self, proc: subprocess.Popen, log: Path):
        self.proc, self.log = proc, log

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors='replace')

    def wait(self, timeout: float = WAIT) -> str:
        """Wait for a burst worker to finish; its output. Fails (and kills it) when it takes too long or fails."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f'the worker did not finish within {timeout} s:\n{self.output()}')
        output = self.output()
        assert self.proc.returncode == 0, f'worker exited with {self.proc.returncode}:\n{output}'
        return output

    def kill(self, *, horses: bool = True) -> None:
        """SIGKILL the worker's process group and reap it; with ``horses``, first its work horses too (each has a
        group of its own; one left running would write to Redis after the test cleaned up). The worker is
        stopped (SIGSTOP) while its horses are found, so it can't fork another meanwhile."""
        if self.proc.poll() is None:
            with suppress(ProcessLookupError):
                if horses:
                    os.killpg(self.proc.pid, signal.SIGSTOP)
                    for pid in children_of(self.proc.pid):
                        kill_horse(pid)
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


@pytest.fixture
def workers(app, tmp_path):
    """workers(redis_url, queue, burst=False, **env) -> WorkerProcess; ``workers.horses`` takes the pids of work
    horses to kill at the end. Every worker and horse started here is killed and reaped by ``workers.stop_all()``
    (the app fixtures call it before they clean up) and again at teardown."""
    started: list[WorkerProcess] = []
    horses: list[int] = []

    def start(redis_url: str, queue: str, *, burst: bool = False, **env) -> WorkerProcess:
        environment = {**os.environ,
                       'DATABASE_URL': app.config['SQLALCHEMY_DATABASE_URI'],
                       'REDIS_URL': redis_url,
                       'PROPSAAS_JOB_QUEUE': queue,
                       'PROPSAAS_FILES_DIR': app.config['FILES_DIR'],
                       'PROPSAAS_INSTANCE_DIR': os.environ['PROPSAAS_INSTANCE_DIR'],
                       'PROPSAAS_JOB_HEARTBEAT_SECONDS': str(HEARTBEAT),
                       # these workers run the jobs under test only, not a day's sweeps of every project in the DB
                       'PROPSAAS_JOB_SWEEPS': '0',
                       'PROPSAAS_JOB_STALE_SECONDS': str(STALE),
                       'PYTHONUNBUFFERED': '1',
                       FAULT_JOBS_ENV: '1',
                       **{name: str(value) for name, value in env.items()}}
        environment.pop('FLASK_APP', None)
        log = tmp_path / f'worker-{len(started) + 1}.log'
        command = [sys.executable, '-c', WORKER_MAIN, '--app', 'wsgi', 'worker', *(['--burst'] if burst else [])]
        with log.open('wb') as out:
            proc = subprocess.Popen(command, env=environment, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        worker = WorkerProcess(proc, log)
        started.append(worker)
        return worker

    def stop_all() -> None:
        for worker in started:
            worker.kill()
        for pid in horses:
            kill_horse(pid)

    start.horses, start.stop_all = horses, stop_all
    try:
        yield start
    finally:
        stop_all()
        for worker in started:  # shown when the test failed
            print(f'--- {worker.log.name} (exit {worker.proc.returncode}) ---\n{worker.output()}')


def idle_workers(redis_url: str, queue: str) -> int:
    """How many live workers of this queue wait for a job (blocked on the queue, or about to be)."""
    connection = Redis.from_url(redis_url)
    try:
        found = Worker.all(connection=connection, queue=Queue(queue, connection=connection, serializer=JSONSerializer))
        return sum(worker.get_state() == 'idle' for worker in found)
    finally:
        connection.close()


# --- the shared test Redis: a queue per test, cleaned up after ----------------------------------------------


@pytest.fixture
def queue_name():
    return f'test-faults-{uuid.uuid4().hex}'


def forget_queue(connection: Redis, name: str) -> None:
    """Delete the queue, its registries, its jobs and its dead workers (and their entries in rq:workers)."""
    worker_keys = [key for key in connection.scan_iter(match='rq:worker:*')
                   if connection.type(key) == b'hash' and connection.hget(key, 'queues') == name.encode()]
    _delete_queue_keys(connection, name)
    if worker_keys:
        connection.srem('rq:workers', *worker_keys)
    assert not list(connection.scan_iter(match=f'*{name}*')), 'queue keys left in Redis'


@pytest.fixture
def fault_app(app, queue_name, workers):
    """An app on the session's database and files with the test Redis and this test's queue."""
    fapp = build_app(app, REDIS_URL=REDIS_URL, JOB_QUEUE=queue_name)
    yield fapp
    workers.stop_all()  # no live worker may write to the queue while its keys are deleted
    connection = Redis.from_url(REDIS_URL)
    try:
        forget_queue(connection, queue_name)
    finally:
        connection.close()
        with fapp.app_context():
            db.engine.dispose()


def enqueue_fault(fapp, tenant, func, *args) -> int:
    """Enqueue a fault job for the tenant; its record id.

    The record is created first under a random id: RQ's job id is ``propsaas-job-<record id>`` and the test
    Redis is shared by every xdist worker, each with a database of its own whose ids all start at 1; a random
    id keeps our job from overwriting another process's job of the same number (and theirs from ours).
    """
    key = f'fault:{args[0]}'
    record_id = random.randrange(10**8, 2 * 10**9)
    with scope(fapp, tenant) as session:
        session.add(JobRecord(id=record_id, kind=func.job_spec.name, key=key, args=list(args),
                              status=JobRecord.QUEUED, created_at=utcnow()))
    with scope(fapp, tenant):
        record = enqueue(func, *args, key=key)  # queued but not in the queue: enqueue sends it
        assert (record.id, record.status) == (record_id, JobRecord.QUEUED)
    return record_id


def one_row(job_rows, tenant, record_id: int) -> dict:
    rows = job_rows(tenant, id=record_id)
    assert len(rows) == 1
    assert len(job_rows(tenant, key=rows[0]['key'])) == 1  # one row for the key, whatever happened
    return rows[0]


def runs_of(app, name: str) -> list[tuple[int, int]]:
    """(pid, attempt) of every run of the fault job ``name``."""
    runs = fault_marker(app.config['FILES_DIR'], name, 'runs')
    if not runs.exists():
        return []
    return [tuple(map(int, line.split())) for line in runs.read_text().splitlines()]


def parked_pid(app, name: str) -> int:
    """Wait until the fault job ``name`` is parked; its (work horse's) pid."""
    parked = fault_marker(app.config['FILES_DIR'], name, 'parked')
    wait_for(f'job {name} to park', parked.exists)
    return int(parked.read_text())


def tenant_files(in_tenant, tenant, name: str) -> list[str]:
    """Every file in the folder the fault job ``name`` writes into (temp files included)."""
    with in_tenant(tenant):
        folder = path_for(fault_key(name)).parent
        return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def stored(in_tenant, tenant, name: str) -> bytes | None:
    with in_tenant(tenant):
        path = path_for(fault_key(name))
        return path.read_bytes() if path.exists() else None


def now() -> datetime:
    return datetime.now(UTC)  # aware, as records' datetimes read back


def wait_until_stale(job_rows, tenant, record_id: int) -> None:
    """Wait until the record's heartbeat is older than JOB_STALE_SECONDS (what a starting worker recovers)."""
    wait_for('the heartbeat to go stale', lambda: one_row(job_rows, tenant, record_id)['heartbeat_at']
             < now() - timedelta(seconds=STALE + 0.2), timeout=STALE + 5)


# --- 21: the whole worker killed mid-job ---------------------------------------------------------------------


def kill_mid_job(fault_app, workers, queue_name, tenant, job_rows, where: str, **env) -> tuple[int, str, int]:
    """Start a worker, let it run stall_once until it parks ``where``, then SIGKILL the worker's process group
    and the work horse (its own group): worker and job die together. (record id, name, horse pid)."""
    name = f'kill-{uuid.uuid4().hex[:12]}'
    record_id = enqueue_fault(fault_app, tenant, sample_jobs.stall_once, name, where)
    worker = workers(REDIS_URL, queue_name, **env)
    horse = parked_pid(fault_app, name)
    workers.horses.append(horse)
    assert horse != worker.proc.pid and os.getpgid(horse) == horse  # RQ gives the horse a group of its own
    # The heartbeat thread beats while the job waits.
    wait_for('a heartbeat', lambda: (row := one_row(job_rows, tenant, record_id))['heartbeat_at'] > row['started_at'])
    row = one_row(job_rows, tenant, record_id)
    assert (row['status'], row['attempts']) == (JobRecord.RUNNING, 1)

    worker.kill(horses=False)  # the worker first: once it is gone nothing reports the horse's death
    kill_horse(horse)
    return record_id, name, horse


def download(client, record_id: int) -> tuple[int, bytes]:
    """GET the record's file: (status, body), the response closed (send_file keeps the file open)."""
    response = client.get(f'/jobs/{record_id}/download')
    try:
        return response.status_code, response.get_data()
    finally:
        response.close()


def assert_nothing_to_download(app, client_for, admin_of, in_tenant, tenant, record_id: int, name: str) -> None:
    assert stored(in_tenant, tenant, name) is None
    # Whatever an interrupted write left is a temp file, never the result's name; nothing is served.
    assert all(f.startswith('.tmp-') for f in tenant_files(in_tenant, tenant, name))
    admin = client_for(tenant, admin_of(tenant))
    assert download(admin, record_id)[0] == 404
    page = admin.get(f'/jobs/{record_id}')
    assert page.status_code == 200 and '进行中' in page.text and '下载结果文件' not in page.text


@pytest.mark.parametrize('where', [
    'before-write',
    'before-rename',
])
def test_worker_killed_mid_job_runs_it_again_with_one_row_and_one_complete_file(
        app, fault_app, workers, queue_name, make_tenant, job_rows, in_tenant, client_for, admin_of, where):
    tenant = make_tenant()
    record_id, name, horse = kill_mid_job(fault_app, workers, queue_name, tenant, job_rows, where)

    row = one_row(job_rows, tenant, record_id)  # nobody is left to notice: RUNNING, no file
    assert (row['status'], row['attempts'], row['result_file'], row['finished_at']) == (JobRecord.RUNNING, 1,
                                                                                          None, None)
    assert_nothing_to_download(app, client_for, admin_of, in_tenant, tenant, record_id, name)

    wait_until_stale(job_rows, tenant, record_id)
    output = workers(REDIS_URL, queue_name, burst=True).wait()  # recovers stalled jobs as it starts
    assert 'recovered 1 interrupted job' in output, output

    row = one_row(job_rows, tenant, record_id)
    assert (row['status'], row['attempts'], row['error'], row['progress']) == (JobRecord.DONE, 2, None, 100)
    assert row['result'] == {'attempt': 2, 'size': len(fault_payload(name))} and row['result_file'] == fault_key(name)
    assert [attempt for _pid, attempt in runs_of(app, name)] == [1, 2]
    assert runs_of(app, name)[0][0] == horse
    assert stored(in_tenant, tenant, name) == fault_payload(name)
    assert download(client_for(tenant, admin_of(tenant)), record_id) == (200, fault_payload(name))
    files = tenant_files(in_tenant, tenant, name)
    if files != [f'{name}.bin']:
        raise TempFilesLeft(f'files in the folder after recovery: {files}')


def test_worker_killed_on_the_last_attempt_fails_the_job_with_its_reason_for_staff(
        app, fault_app, workers, queue_name, make_tenant, make_user, job_rows, in_tenant, client_for, admin_of):
    tenant = make_tenant()
    record_id, name, horse = kill_mid_job(fault_app, workers, queue_name, tenant, job_rows, 'before-write',
                                           PROPSAAS_JOB_MAX_ATTEMPTS=1)
    assert_nothing_to_download(app, client_for, admin_of, in_tenant, tenant, record_id, name)

    wait_until_stale(job_rows, tenant, record_id)
    output = workers(REDIS_URL, queue_name, burst=True, PROPSAAS_JOB_MAX_ATTEMPTS=1).wait()
    assert 'recovered 1 interrupted job' in output, output

    row = one_row(job_rows, tenant, record_id)
    assert (row['status'], row['attempts'], row['result_file']) == (JobRecord.FAILED, 1, None)
    assert row['finished_at'] is not None
    assert row['error'] == '任务执行进程意外中断；已尝试 1 次，不再自动重试，请稍后重新提交'
    assert runs_of(app, name) == [(horse, 1)]  # not run again
    assert stored(in_tenant, tenant, name) is None
    assert all(f.startswith('.tmp-') for f in tenant_files(in_tenant, tenant, name))
    for user_id in (admin_of(tenant), make_user(tenant, 'staff')):  # staff see why, and there is no file
        client = client_for(tenant, user_id)
        page = client.get(f'/jobs/{record_id}')
        assert page.status_code == 200 and '失败' in page.text and row['error'] in page.text
        assert '下载结果文件' not in page.text
        assert download(client, record_id)[0] == 404
        assert f'/jobs/{record_id}' in client.get('/jobs').text


def test_worker_killed_but_its_work_horse_lives_on_the_job_runs_once(
        app, fault_app, workers, queue_name, make_tenant, job_rows, in_tenant):
    """``kill -9`` of the worker's process group leaves RQ's work horse (a group of its own) running: it keeps
    the heartbeat going, so a new worker leaves the record alone, and the horse finishes it: one run."""
    tenant = make_tenant()
    name = f'orphan-{uuid.uuid4().hex[:12]}'
    record_id = enqueue_fault(fault_app, tenant, sample_jobs.stall_once, name, 'before-write')
    worker = workers(REDIS_URL, queue_name)
    horse = parked_pid(fault_app, name)
    workers.horses.append(horse)
    worker.kill(horses=False)  # `kill -9 -<worker's group>`
    assert not process_gone(horse)

    time.sleep(STALE + 0.5)  # longer than the stale time: only the heartbeat keeps the record from recovery
    row = one_row(job_rows, tenant, record_id)
    assert row['status'] == JobRecord.RUNNING and row['heartbeat_at'] > now() - timedelta(seconds=STALE)
    output = workers(REDIS_URL, queue_name, burst=True).wait()
    assert 'recovered' not in output, output
    assert one_row(job_rows, tenant, record_id)['status'] == JobRecord.RUNNING

    fault_marker(app.config['FILES_DIR'], name, 'release').touch()
    wait_for('the orphaned horse to finish the job',
             lambda: one_row(job_rows, tenant, record_id)['status'] != JobRecord.RUNNING)
    row = one_row(job_rows, tenant, record_id)
    assert (row['status'], row['attempts'], row['error']) == (JobRecord.DONE, 1, None)
    assert runs_of(app, name) == [(horse, 1)]
    assert stored(in_tenant, tenant, name) == fault_payload(name)
    assert tenant_files(in_tenant, tenant, name) == [f'{name}.bin']
    wait_for('the horse to exit', lambda: process_gone(horse), timeout=10)


# --- 21: only the work horse killed ---------------------------------------------------------------------------


def horse_dies(fault_app, workers, queue_name, tenant, job_rows, **env) -> tuple[int, str, WorkerProcess]:
    name = f'horse-{uuid.uuid4().hex[:12]}'
    record_id = enqueue_fault(fault_app, tenant, sample_jobs.die_once, name)
    worker = workers(REDIS_URL, queue_name, **env)
    wait_for('the job to end', lambda: one_row(job_rows, tenant, record_id)['status'] in (JobRecord.DONE,
                                                                                          JobRecord.FAILED))
    return record_id, name, worker


def test_work_horse_killed_the_worker_runs_the_job_again(
        app, fault_app, workers, queue_name, make_tenant, job_rows, in_tenant, client_for, admin_of):
    tenant = make_tenant()
    record_id, name, worker = horse_dies(fault_app, workers, queue_name, tenant, job_rows)
    row = one_row(job_rows, tenant, record_id)
    assert (row['status'], row['attempts'], row['error'], row['result_file']) == (JobRecord.DONE, 2, None,
                                                                                   fault_key(name))
    (first_pid, first), (second_pid, second) = runs_of(app, name)
    assert (first, second) == (1, 2) and first_pid != second_pid and worker.proc.pid not in (first_pid, second_pid)
    assert stored(in_tenant, tenant, name) == fault_payload(name)
    assert tenant_files(in_tenant, tenant, name) == [f'{name}.bin']
    assert download(client_for(tenant, admin_of(tenant)), record_id) == (200, fault_payload(name))
    assert worker.alive, worker.output()  # the worker itself carries on
    assert 'Work-horse terminated unexpectedly' in worker.output()


def test_work_horse_killed_on_the_last_attempt_fails_the_job_with_its_reason(
        app, fault_app, workers, queue_name, make_tenant, job_rows, in_tenant, client_for, admin_of):
    tenant = make_tenant()
    record_id, name, worker = horse_dies(fault_app, workers, queue_name, tenant, job_rows,
                                         PROPSAAS_JOB_MAX_ATTEMPTS=1)
    row = one_row(job_rows, tenant, record_id)
    assert (row['status'], row['attempts'], row['result_file']) == (JobRecord.FAILED, 1, None)
    assert row['error'] == '任务执行进程意外退出；已尝试 1 次，不再自动重试，请稍后重新提交'
    assert [attempt for _pid, attempt in runs_of(app, name)] == [1]
    assert stored(in_tenant, tenant, name) is None and tenant_files(in_tenant, tenant, name) == []
    page = client_for(tenant, admin_of(tenant)).get(f'/jobs/{record_id}')
    assert page.status_code == 200 and row['error'] in page.text
    assert worker.alive, worker.output()


def test_a_job_run_again_gets_its_retries_again(
        app, fault_app, workers, queue_name, make_tenant, job_rows, in_tenant):
    tenant = make_tenant()
    name = f'rerun-{uuid.uuid4().hex[:12]}'
    key = f'fault:{name}'
    record_id = random.randrange(10**8, 2 * 10**9)
    with in_tenant(tenant) as session:  # finished before, JOB_MAX_ATTEMPTS (3) runs in all
        session.add(JobRecord(id=record_id, kind=sample_jobs.die_once.job_spec.name, key=key, args=[name],
                              status=JobRecord.DONE, attempts=3, progress=100, finished_at=utcnow()))
    with scope(fault_app, tenant):
        assert enqueue(sample_jobs.die_once, name, key=key).id == record_id  # run it again
    workers(REDIS_URL, queue_name)
    wait_for('the job to end', lambda: one_row(job_rows, tenant, record_id)['status'] in (JobRecord.DONE,
                                                                                          JobRecord.FAILED))
    row = one_row(job_rows, tenant, record_id)
    assert row['status'] == JobRecord.DONE, row['error']
    assert stored(in_tenant, tenant, name) == fault_payload(name)


# --- 22: one record delivered twice, to two workers at once ---------------------------------------------------


def test_one_record_delivered_to_two_workers_at_once_runs_once(
        app, fault_app, workers, queue_name, make_tenant, job_rows, in_tenant):
    """Two workers wait on the queue (not burst: both must be listening when the deliveries arrive, or one
    worker takes both one after the other); then the record is committed and its job pushed twice, as a
    re-send does, and each worker takes one delivery."""
    tenant = make_tenant()
    first, second = workers(REDIS_URL, queue_name), workers(REDIS_URL, queue_name)
    wait_for('both workers to listen', lambda: idle_workers(REDIS_URL, queue_name) == 2)
    name = f'twice-{uuid.uuid4().hex[:12]}'
    record_id = random.randrange(10**8, 2 * 10**9)  # see enqueue_fault
    with in_tenant(tenant) as session:  # after the workers started: their start sends queued records too
        session.add(JobRecord(id=record_id, kind=sample_jobs.slow_write.job_spec.name, key=f'fault:{name}',
                              args=[name, 15], status=JobRecord.QUEUED, created_at=utcnow()))
    with fault_app.app_context():
        queue = rq_queue(redis_connection())
        for _ in range(2):
            queue.enqueue(run_job, record_id, tenant.id, job_id=_rq_job_id(record_id))
    wait_for('the record to be done', lambda: one_row(job_rows, tenant, record_id)['status'] == JobRecord.DONE)
    wait_for('both workers to be idle again', lambda: idle_workers(REDIS_URL, queue_name) == 2)

    dequeued = f'run_job({record_id}, {tenant.id}) ({_rq_job_id(record_id)})'  # RQ logs each job it takes
    assert first.output().count(dequeued) == 1 and second.output().count(dequeued) == 1  # one each
    row = one_row(job_rows, tenant, record_id)
    assert (row['status'], row['attempts'], row['error']) == (JobRecord.DONE, 1, None)
    assert len(runs_of(app, name)) == 1
    assert stored(in_tenant, tenant, name) == fault_payload(name)
    assert tenant_files(in_tenant, tenant, name) == [f'{name}.bin']
    assert first.alive and second.alive


# --- 23: a Redis of our own, stopped and started again --------------------------------------------------------


class RedisServer:
    """``redis-server`` on a spare port, no persistence: after a restart it is empty, as a lost Redis is."""

    def __init__(self, workdir: Path):
        with socket.socket() as probe:
            probe.bind(('127.0.0.1', 0))
            self.port = probe.getsockname()[1]
        self.workdir, self.proc, self.starts = workdir, None, 0
        self.url = f'redis://127.0.0.1:{self.port}/0'

    def ping(self) -> bool:
        connection = Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return connection.ping()
        except RedisError:
            return False
        finally:
            connection.close()

    def start(self) -> None:
        self.starts += 1
        log = (self.workdir / f'redis-{self.starts}.log').open('wb')
        with log:
            self.proc = subprocess.Popen(
                ['redis-server', '--port', str(self.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
                 '--daemonize', 'no', '--dir', str(self.workdir)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        wait_for(f'redis-server on port {self.port}', self.ping, timeout=10)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        assert not self.ping()


@pytest.fixture
def spare_redis(tmp_path):
    if shutil.which('redis-server') is None:
        pytest.skip('needs redis-server on PATH')
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def spare_app(app, spare_redis, queue_name, workers):
    """An app whose Redis is the spare server (its workers are killed before the server is)."""
    sapp = build_app(app, REDIS_URL=spare_redis.url, JOB_QUEUE=queue_name)
    yield sapp
    workers.stop_all()
    with sapp.app_context():
        db.engine.dispose()


def assert_export(stored_export, user_names, tenant) -> None:
    data, files = stored_export(tenant)
    assert files == ['users.xlsx']
    sheet = read_export(data)
    assert sheet['header'] == HEADER
    assert sorted(row[0].removeprefix("'") for row in sheet['rows']) == user_names(tenant)


def export_while_redis_is_down(spare_app, spare_redis, tenant, admin_id, job_rows) -> int:
    """Stop Redis; the pages that don't need it work; the export answers 503 and its record is kept. Its id."""
    admin = client_on(spare_app, tenant, admin_id)
    spare_redis.stop()
    assert admin.get('/users').status_code == 200
    assert admin.get('/jobs').status_code == 200
    response = admin.post('/users/export')
    assert response.status_code == 503 and QUEUE_DOWN in response.text
    (row,) = job_rows(tenant, key=f'{export_users.job_spec.name}')
    assert (row['status'], row['requested_by_id'], row['attempts']) == (JobRecord.QUEUED, admin_id, 0)
    page = admin.get(f'/jobs/{row["id"]}')
    assert page.status_code == 200 and '排队中' in page.text
    return row['id']


@needs_redis_server
def test_redis_stopped_the_export_is_kept_and_runs_when_a_worker_starts_after_it_is_back(
        spare_app, spare_redis, workers, queue_name, make_tenant, admin_of, job_rows, stored_export, user_names):
    tenant = make_tenant()
    record_id = export_while_redis_is_down(spare_app, spare_redis, tenant, admin_of(tenant), job_rows)

    spare_redis.start()  # empty: the queue never heard of the export
    connection = Redis.from_url(spare_redis.url)
    try:
        assert connection.dbsize() == 0
    finally:
        connection.close()
    output = workers(spare_redis.url, queue_name, burst=True).wait()  # sends what is queued as it starts
    assert 'sent 1 pending job' in output, output
    (row,) = job_rows(tenant, id=record_id)
    assert (row['status'], row['attempts'], row['error'], row['result_file']) == (JobRecord.DONE, 1, None, EXPORT_KEY)
    assert_export(stored_export, user_names, tenant)


@needs_redis_server
def test_a_worker_running_through_a_redis_outage_runs_what_was_queued_meanwhile(
        spare_app, spare_redis, workers, queue_name, make_tenant, admin_of, job_rows, stored_export, user_names):
    tenant = make_tenant()
    worker = workers(spare_redis.url, queue_name)
    wait_for('the worker to listen', lambda: idle_workers(spare_redis.url, queue_name) == 1)
    record_id = export_while_redis_is_down(spare_app, spare_redis, tenant, admin_of(tenant), job_rows)
    time.sleep(1)
    spare_redis.start()

    # Up to a maintenance interval and a reconnect back-off later, the worker sends it again and runs it.
    deadline = time.monotonic() + MAINTENANCE + 6
    while time.monotonic() < deadline and job_rows(tenant, id=record_id)[0]['status'] != JobRecord.DONE:
        if not worker.alive:  # not an AssertionError: that would be another finding than the one expected
            raise WorkerExited(f'the worker exited when Redis went away:\n{worker.output()}')
        time.sleep(0.2)
    (row,) = job_rows(tenant, id=record_id)
    assert (row['status'], row['attempts'], row['error']) == (JobRecord.DONE, 1, None), worker.output()
    assert worker.alive
    assert_export(stored_export, user_names, tenant)


@needs_redis_server
def test_redis_lost_while_a_job_runs_the_job_still_finishes_and_the_worker_carries_on(
        app, spare_app, spare_redis, workers, queue_name, make_tenant, job_rows, in_tenant):
    tenant = make_tenant()
    name = f'outage-{uuid.uuid4().hex[:12]}'
    record_id = enqueue_fault(spare_app, tenant, sample_jobs.stall_once, name, 'before-write')
    worker = workers(spare_redis.url, queue_name)
    workers.horses.append(parked_pid(app, name))
    spare_redis.stop()
    fault_marker(app.config['FILES_DIR'], name, 'release').touch()
    # The database is the source of truth: the job's outcome is recorded without Redis.
    wait_for('the job to finish', lambda: one_row(job_rows, tenant, record_id)['status'] == JobRecord.DONE)
    assert stored(in_tenant, tenant, name) == fault_payload(name)
    time.sleep(1)
    spare_redis.start()

    after = f'after-{uuid.uuid4().hex[:12]}'
    next_id = enqueue_fault(spare_app, tenant, sample_jobs.slow_write, after, 0)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and one_row(job_rows, tenant, next_id)['status'] != JobRecord.DONE:
        if not worker.alive:
            raise WorkerExited(f'the worker exited ({worker.proc.returncode}) when Redis went away during a job:\n'
                               f'{worker.output()}')
        time.sleep(0.1)
    assert one_row(job_rows, tenant, next_id)['status'] == JobRecord.DONE, worker.output()
    assert one_row(job_rows, tenant, record_id)['attempts'] == 1


LOGIN_MAIN = '''
import json, sys
from tests.conftest import CsrfClient
from wsgi import app
app.test_client_class = CsrfClient
client = app.test_client()
page = client.get('/login', base_url=sys.argv[1])
login = client.post('/login', data={'login': sys.argv[2], 'password': sys.argv[3]}, base_url=sys.argv[1])
print(json.dumps({'page': page.status_code, 'login': login.status_code}))
'''


def test_logging_in_works_while_redis_is_down(app, make_tenant):
    """The app as deployed (wsgi, config from the environment), in a process of its own: the limiter is a
    process-wide singleton, so its storage can't be pointed at a dead Redis inside the test process."""
    tenant = make_tenant()
    env = {**os.environ, 'DATABASE_URL': app.config['SQLALCHEMY_DATABASE_URI'], 'REDIS_URL': 'redis://127.0.0.1:1/0',
           'PROPSAAS_FILES_DIR': app.config['FILES_DIR'], 'PROPSAAS_INSTANCE_DIR': os.environ['PROPSAAS_INSTANCE_DIR']}
    env.pop('FLASK_APP', None)
    result = subprocess.run([sys.executable, '-c', LOGIN_MAIN, host(tenant), f'admin@{tenant.slug}.cn', PASSWORD],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=WAIT)
    assert result.returncode == 0, result.stderr
    statuses = json.loads(result.stdout.strip().splitlines()[-1])
    assert statuses['page'] == 200  # the login page itself needs no Redis
    assert statuses['login'] == 302, result.stderr[-3000:]
