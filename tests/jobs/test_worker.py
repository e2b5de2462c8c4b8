"""Jobs on a real Redis, run by a real worker process (``flask --app wsgi worker --burst``).

SECURITY.md items 6 (the tenant travels with the job; a job run right after another tenant's job sees only
its own tenant), 22 (enqueued twice or re-run: one record, one file) and 23 (Redis down: enqueueing says so,
nothing committed is lost, pages that don't need Redis keep working, the record is sent again later).

Needs TEST_REDIS_URL (scripts/test sets redis://127.0.0.1:6379/15). Every module run uses its own queue name,
so parallel runs never share a queue; only that queue's keys are deleted at the end.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer

import propsaas
from propsaas import create_app
from propsaas.auth import services as auth_services
from propsaas.auth.jobs import export_users
from propsaas.auth.models import User
from propsaas.extensions import db
from propsaas.jobs.models import JobRecord
from propsaas.jobs.queue import QueueUnavailable, enqueue, redis_connection, rq_queue, run_job, send_pending
from propsaas.models_base import utcnow
from propsaas.storage import path_for
from propsaas.tenancy.context import NoTenantError, tenant_scope
from tests.conftest import CsrfClient, host
from tests.jobs import sample_jobs
from tests.jobs.support import EXPORT_KEY, HEADER, MOBILE_RE, all_text, read_export

REDIS_URL = os.environ.get('TEST_REDIS_URL')
DOWN_URL = 'redis://127.0.0.1:1/0'  # nothing listens on port 1
ROOT = Path(propsaas.__file__).resolve().parent.parent
WORKER_TIMEOUT = 60
QUEUE_DOWN = '后台处理暂时不可用，任务已记录，服务恢复后会自动执行'

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(not REDIS_URL, reason='needs a real Redis server: set TEST_REDIS_URL '
                                             '(scripts/test sets redis://127.0.0.1:6379/15)'),
]


# --- apps, worker, Redis ----------------------------------------------------------------------------------


def build_app(app, **config):
    """A separate app on the session app's database, files and instance dir (so the same SECRET_KEY)."""
    other = create_app({
        'TESTING': True,
        'SQLALCHEMY_DATABASE_URI': app.config['SQLALCHEMY_DATABASE_URI'],
        'FILES_DIR': app.config['FILES_DIR'],
        'RATELIMIT_STORAGE_URI': 'memory://',
        'BASE_DOMAIN': app.config['BASE_DOMAIN'],
        'PAYMENT_SANDBOX': True,
        **config,
    })
    other.test_client_class = CsrfClient
    assert other.config['SECRET_KEY'] == app.config['SECRET_KEY']
    return other


@pytest.fixture(scope='module')
def queue_name():
    return f'test-{uuid.uuid4().hex}'


@pytest.fixture(scope='module')
def redis_app(app, queue_name):
    rapp = build_app(app, REDIS_URL=REDIS_URL, JOB_QUEUE=queue_name)
    yield rapp
    connection = Redis.from_url(REDIS_URL)
    try:
        _delete_queue_keys(connection, queue_name)
        assert not list(connection.scan_iter(match=f'*{queue_name}*')), 'queue keys left in Redis'
    finally:
        connection.close()
        with rapp.app_context():
            db.engine.dispose()


@pytest.fixture(scope='module')
def down_app(app, queue_name):
    """The same app with Redis configured but unreachable."""
    dapp = build_app(app, REDIS_URL=DOWN_URL, JOB_QUEUE=queue_name)
    yield dapp
    with dapp.app_context():
        db.engine.dispose()


def _delete_queue_keys(connection: Redis, name: str) -> None:
    """Delete this module's queue, its registries and its jobs; never anything of another queue."""
    queue = Queue(name, connection=connection, serializer=JSONSerializer)
    job_ids = set(queue.get_job_ids())
    for registry in (queue.started_job_registry, queue.finished_job_registry, queue.failed_job_registry,
                     queue.deferred_job_registry, queue.scheduled_job_registry, queue.canceled_job_registry):
        job_ids.update(registry.get_job_ids())
    keys = set(connection.scan_iter(match=f'rq:*{name}*'))
    for job_id in job_ids:
        keys.update(connection.scan_iter(match=f'rq:*{job_id}*'))
    for key in connection.scan_iter(match='rq:worker:*'):  # our dead burst workers (they expire anyway)
        if connection.type(key) == b'hash' and connection.hget(key, 'queues') == name.encode():
            keys.add(key)
    if keys:
        connection.delete(*keys)
    connection.srem('rq:queues', queue.key)


def run_worker(app, queue_name) -> subprocess.CompletedProcess:
    """One burst worker process: runs what the queue holds, then exits."""
    env = {**os.environ,
           'DATABASE_URL': app.config['SQLALCHEMY_DATABASE_URI'],
           'REDIS_URL': REDIS_URL,
           'PROPSAAS_JOB_QUEUE': queue_name,
           'PROPSAAS_JOB_SWEEPS': '0',  # the jobs under test only, not a day's sweeps of every project
           'PROPSAAS_PAYMENT_SANDBOX': '1',
           'PROPSAAS_FILES_DIR': app.config['FILES_DIR'],
           'PROPSAAS_INSTANCE_DIR': os.environ['PROPSAAS_INSTANCE_DIR']}
    env.pop('FLASK_APP', None)
    command = [sys.executable, '-m', 'flask', '--app', 'wsgi', 'worker', '--burst']
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=WORKER_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the worker and the work horse it forked
        stdout, stderr = proc.communicate()
        print(stderr)
        pytest.fail(f'the worker did not finish within {WORKER_TIMEOUT} s:\n{stderr}')
    print(stderr)
    assert proc.returncode == 0, f'worker exited with {proc.returncode}:\n{stderr}\n{stdout}'
    return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)


@pytest.fixture(autouse=True)
def empty_queue(redis_app):
    """Each test starts with this module's queue empty, whatever a failed test before it left."""
    with redis_app.app_context():
        rq_queue(redis_connection()).empty()


@pytest.fixture
def worker(app, queue_name):
    return lambda: run_worker(app, queue_name)


def queued(rapp) -> int:
    with rapp.app_context():
        return rq_queue(redis_connection()).count


def rq_jobs(rapp, registry: str = 'finished') -> list[Job]:
    with rapp.app_context():
        connection = redis_connection()
        queue = rq_queue(connection)
        ids = queue.get_job_ids() if registry == 'queued' else getattr(queue, f'{registry}_job_registry').get_job_ids()
        return [job for job in Job.fetch_many(ids, connection=connection, serializer=JSONSerializer) if job]


@contextmanager
def scope(some_app, tenant):
    with some_app.app_context(), tenant_scope(tenant.id):
        yield db.session
        db.session.commit()


def client_on(some_app, tenant, user_id: int):
    """Like tests.conftest.client_for, on another app."""
    client = some_app.test_client()
    client.base = host(tenant)
    with scope(some_app, tenant) as session:
        raw = auth_services.start_session(session.get(User, user_id))
    with client.session_transaction(base_url=client.base) as s:
        s['_user_id'] = f'u:{raw}'
        s['_fresh'] = True
        s['_host'] = f't{tenant.id}'
    return client


def assert_export_of(tenant, stored_export, user_names, *, rows: int, other) -> None:
    """The tenant's export holds exactly its users, masked and neutralised, and nothing of ``other``."""
    data, files = stored_export(tenant)
    assert files == ['users.xlsx']
    sheet = read_export(data)
    assert sheet['header'] == HEADER and len(sheet['rows']) == rows and sheet['formulas'] == []
    assert sorted(row[0].removeprefix("'") for row in sheet['rows']) == user_names(tenant)
    text = all_text(sheet['rows'])
    assert other.mark not in text and other.slug not in text
    assert f'{tenant.mobile[:3]}****{tenant.mobile[-4:]}' in text and not MOBILE_RE.search(text)


# --- tests ------------------------------------------------------------------------------------------------


def test_one_worker_runs_two_tenants_jobs_each_seeing_only_its_own(
        app, redis_app, worker, populated_tenant, in_tenant, job_rows, stored_export, user_names):
    a, b = populated_tenant('甲'), populated_tenant('乙')
    records = {}
    for tenant in (a, b):
        with scope(redis_app, tenant):
            record = enqueue(export_users)
            assert (record.status, record.progress, record.started_at) == (JobRecord.QUEUED, 0, None)
            records[tenant.id] = record.id
    assert queued(redis_app) == 2
    assert {tuple(job.args) for job in rq_jobs(redis_app, 'queued')} == {(records[a.id], a.id), (records[b.id], b.id)}
    for tenant in (a, b):
        with in_tenant(tenant):
            assert not path_for(EXPORT_KEY).exists()

    worker()

    assert queued(redis_app) == 0
    mine = {(records[a.id], a.id), (records[b.id], b.id)}
    done = [job for job in rq_jobs(redis_app) if tuple(job.args) in mine]
    assert {tuple(job.args) for job in done} == mine
    assert len({job.worker_name for job in done}) == 1  # one worker, one job after the other
    for tenant, other in ((a, b), (b, a)):
        (row,) = job_rows(tenant)
        assert row['id'] == records[tenant.id]
        assert (row['status'], row['progress'], row['attempts'], row['error']) == (JobRecord.DONE, 100, 1, None)
        assert row['result'] == {'rows': 4} and row['result_file'] == EXPORT_KEY
        assert row['created_at'] <= row['started_at'] <= row['finished_at']
        assert_export_of(tenant, stored_export, user_names, rows=4, other=other)


def test_enqueued_twice_before_the_worker_runs_is_one_record_and_one_file(
        app, redis_app, worker, populated_tenant, make_user, job_rows, stored_export, user_names):
    tenant, other = populated_tenant('丙'), populated_tenant('丁')
    with scope(redis_app, tenant):
        first = enqueue(export_users)
        second = enqueue(export_users)
        assert second.id == first.id and second.status == JobRecord.QUEUED
        record_id = first.id
    assert queued(redis_app) == 1
    worker()
    (row,) = job_rows(tenant)
    assert (row['id'], row['status'], row['attempts']) == (record_id, JobRecord.DONE, 1)
    assert_export_of(tenant, stored_export, user_names, rows=4, other=other)

    # Run again after it finished: the same record, its file replaced.
    make_user(tenant, 'resident', name='丙新住户', mobile='13700002222')
    with scope(redis_app, tenant):
        again = enqueue(export_users)
        assert again.id == record_id
        assert (again.status, again.progress, again.result, again.finished_at) == (JobRecord.QUEUED, 0, None, None)
    worker()
    (row,) = job_rows(tenant)
    assert (row['id'], row['status'], row['attempts'], row['result']) == (record_id, JobRecord.DONE, 1, {'rows': 5})
    assert_export_of(tenant, stored_export, user_names, rows=5, other=other)


def test_redis_down_loses_nothing_and_the_job_runs_once_it_is_back(
        app, redis_app, down_app, worker, populated_tenant, admin_of, job_rows, stored_export, user_names):
    a, b = populated_tenant('戊'), populated_tenant('己')
    admin_a = admin_of(a)
    with scope(down_app, a):
        with pytest.raises(QueueUnavailable) as raised:
            enqueue(export_users, requested_by_id=admin_a)
        assert str(raised.value.message) == QUEUE_DOWN and raised.value.status_code == 503
    (row_a,) = job_rows(a)  # committed before the queue was asked
    assert (row_a['status'], row_a['requested_by_id'], row_a['started_at']) == (JobRecord.QUEUED, admin_a, None)

    # The admin's button on the app whose Redis is down: a clear 503 on the users page, no 500.
    admin_b = client_on(down_app, b, admin_of(b))
    response = admin_b.post('/users/export')
    assert response.status_code == 503
    assert QUEUE_DOWN in response.text and '己住户' in response.text
    (row_b,) = job_rows(b)
    assert row_b['status'] == JobRecord.QUEUED
    # Pages that don't need Redis keep working.
    assert admin_b.get('/users').status_code == 200
    listing = admin_b.get('/jobs')
    assert listing.status_code == 200 and f'/jobs/{row_b["id"]}' in listing.text and '排队中' in listing.text
    assert '排队中' in admin_b.get(f'/jobs/{row_b["id"]}').text

    health = down_app.test_client().get('/healthz', base_url='http://localhost')
    assert health.status_code == 200  # the database answers: keep serving
    assert health.json['status'] == 'degraded' and health.json['database'] == {'ok': True}
    assert health.json['queue']['ok'] is False and health.json['queue']['mode'] == 'redis'
    healthy = redis_app.test_client().get('/healthz', base_url='http://localhost')
    assert healthy.status_code == 200 and healthy.json['status'] == 'ok'
    assert healthy.json['queue'] == {'ok': True, 'mode': 'redis', 'queued': queued(redis_app)}

    # Redis is back: the operator sends what waits, one tenant by hand and every tenant from the CLI.
    with scope(redis_app, a):
        assert send_pending() == 1
    result = redis_app.test_cli_runner().invoke(args=['jobs', 'send-pending'])
    assert result.exit_code == 0, result.output
    sent = int(re.search(r'(\d+) job\(s\) sent to the queue', result.output).group(1))
    assert sent >= 1  # B's, plus any queued record other tests left; A's is in the queue already, not pushed twice
    assert {(row_a['id'], a.id), (row_b['id'], b.id)} <= {tuple(job.args) for job in rq_jobs(redis_app, 'queued')}

    worker()  # its start sends every queued record once more

    assert queued(redis_app) == 0
    for tenant, other, row in ((a, b, row_a), (b, a, row_b)):
        (after,) = job_rows(tenant)
        # Delivered several times, run once: the later deliveries found nothing queued to claim.
        assert (after['id'], after['status'], after['attempts']) == (row['id'], JobRecord.DONE, 1)
        assert_export_of(tenant, stored_export, user_names, rows=4, other=other)


def test_exporting_again_while_redis_is_down_still_says_so(down_app, make_tenant, admin_of):
    tenant = make_tenant()
    admin = client_on(down_app, tenant, admin_of(tenant))
    assert admin.post('/users/export').status_code == 503
    again = admin.post('/users/export')
    assert again.status_code == 503 and QUEUE_DOWN in again.text


def test_a_job_queued_during_an_outage_runs_at_the_next_worker_start(
        redis_app, down_app, worker, populated_tenant, admin_of, job_rows, stored_export, user_names):
    """No operator command needed: a worker sends every tenant's queued records when it starts."""
    tenant, other = populated_tenant('壬'), populated_tenant('癸')
    assert client_on(down_app, tenant, admin_of(tenant)).post('/users/export').status_code == 503
    assert queued(redis_app) == 0  # Redis never heard of it
    output = worker().stdout
    sent = int(re.search(r'sent (\d+) pending job', output).group(1))
    assert sent >= 1, output
    (row,) = job_rows(tenant)
    assert (row['status'], row['attempts'], row['error']) == (JobRecord.DONE, 1, None)
    assert_export_of(tenant, stored_export, user_names, rows=4, other=other)


def test_jobs_left_running_by_a_dead_worker_run_again_or_fail_with_a_reason(
        redis_app, worker, populated_tenant, in_tenant, job_rows, stored_export, user_names):
    """SECURITY item 21: a RUNNING record whose heartbeat stopped is re-queued (or, after the last attempt,
    failed with its reason) by the next worker; never RUNNING forever."""
    tenant, other = populated_tenant('子'), populated_tenant('丑')
    long_ago = utcnow() - timedelta(minutes=10)
    with in_tenant(tenant) as session:
        session.add_all([
            JobRecord(kind=export_users.job_spec.name, key='stalled-once', args=[], status=JobRecord.RUNNING,
                      attempts=1, progress=40, started_at=long_ago, heartbeat_at=long_ago),
            JobRecord(kind=export_users.job_spec.name, key='stalled-thrice', args=[], status=JobRecord.RUNNING,
                      attempts=redis_app.config['JOB_MAX_ATTEMPTS'], started_at=long_ago, heartbeat_at=long_ago),
        ])
    output = worker().stdout
    assert re.search(r'recovered (\d+) interrupted job', output), output
    rows = {row['key']: row for row in job_rows(tenant)}
    assert (rows['stalled-once']['status'], rows['stalled-once']['attempts']) == (JobRecord.DONE, 2)
    assert rows['stalled-once']['error'] is None and rows['stalled-once']['progress'] == 100
    gave_up = rows['stalled-thrice']
    assert gave_up['status'] == JobRecord.FAILED and gave_up['attempts'] == redis_app.config['JOB_MAX_ATTEMPTS']
    assert '任务执行进程意外中断' in gave_up['error'] and '不再自动重试' in gave_up['error']
    assert_export_of(tenant, stored_export, user_names, rows=4, other=other)


def test_the_worker_path_refuses_a_job_without_its_tenant(app, redis_app, worker, populated_tenant, job_rows,
                                                          stored_export, user_names):
    a, b = populated_tenant('庚'), populated_tenant('辛')
    with scope(redis_app, a):
        record_id = enqueue(export_users).id
    with redis_app.app_context():
        for no_tenant in (None, str(a.id), True):
            with pytest.raises(NoTenantError):
                run_job(record_id, no_tenant)
        assert run_job(record_id, b.id) is None  # not found in B's scope
    (row,) = job_rows(a)
    assert (row['status'], row['attempts'], row['started_at'], row['result_file']) == (JobRecord.QUEUED, 0, None, None)
    assert job_rows(b) == []
    # The queued job carries A's id: the worker runs it for A.
    assert [tuple(job.args) for job in rq_jobs(redis_app, 'queued')] == [(record_id, a.id)]
    worker()
    (row,) = job_rows(a)
    assert (row['status'], row['attempts']) == (JobRecord.DONE, 1)
    assert_export_of(a, stored_export, user_names, rows=4, other=b)


def test_a_job_the_worker_does_not_know_fails_with_its_reason(redis_app, worker, make_tenant, job_rows):
    """The worker imports the app's jobs, not the tests': for it tests.jobs.sample_jobs is an unknown kind."""
    tenant = make_tenant()
    with scope(redis_app, tenant):
        enqueue(sample_jobs.users_seen)
    worker()
    (row,) = job_rows(tenant)
    assert row['status'] == JobRecord.FAILED and row['attempts'] == 1
    assert row['error'] == f'未知的任务类型 {sample_jobs.users_seen.job_spec.name}'
    assert row['finished_at'] is not None and row['result'] is None


def test_operators_see_the_queue_and_retry_a_failed_job(app, redis_app, worker, runner, make_tenant, job_rows):
    """任务队列: the operator sees the queue's figures and the failed record of a project, and 重试 sends it to the
    worker again (which fails it again here: the worker does not know the tests' jobs)."""
    tenant = make_tenant(name='队列小区')
    with scope(redis_app, tenant):
        enqueue(sample_jobs.users_seen)
    worker()
    email = f'queue-{uuid.uuid4().hex[:6]}@propsaas.cn'
    assert runner.invoke(args=['operators', 'create', email, '--name', '值班运维'],
                         input='Operator-Pass-77\nOperator-Pass-77\n').exit_code == 0
    operator = redis_app.test_client()
    operator.base = 'http://localhost'
    assert operator.post('/operator/login', data={'login': email, 'password': 'Operator-Pass-77'}).status_code == 302
    page = operator.get('/operator/jobs').text
    queue_row = page.split(f'<td>{redis_app.config["JOB_QUEUE"]}</td>')[1].split('</tr>')[0]
    assert [cell.split('<')[0] for cell in queue_row.split('<td>')[1:4]] == ['0', '0', '0']
    (row,) = job_rows(tenant)
    failed_row = page.split(f'#{row["id"]}')[1].split('</tr>')[0]
    assert '队列小区' in page.split(f'#{row["id"]}')[0].rsplit('<tr>', 1)[1] and '未知的任务类型' in failed_row

    after = operator.post(f'/operator/jobs/{row["id"]}/retry', follow_redirects=True).text
    assert job_rows(tenant)[0]['status'] == JobRecord.QUEUED and queued(redis_app) == 1
    assert '已重新排队' in after
    assert after.split(f'<td>{redis_app.config["JOB_QUEUE"]}</td>')[1].startswith('<td>1</td>')
    worker()
    (again,) = job_rows(tenant)
    assert again['status'] == JobRecord.FAILED and again['attempts'] == 1 and again['id'] == row['id']
    # only failed jobs are retried
    with scope(redis_app, tenant) as session:
        session.get(JobRecord, row['id']).status = JobRecord.DONE
    operator.post(f'/operator/jobs/{row["id"]}/retry')
    assert job_rows(tenant)[0]['status'] == JobRecord.DONE and queued(redis_app) == 0


def test_the_worker_needs_redis(app):
    env = {**os.environ, 'DATABASE_URL': app.config['SQLALCHEMY_DATABASE_URI'], 'REDIS_URL': ''}
    result = subprocess.run([sys.executable, '-m', 'flask', '--app', 'wsgi', 'worker', '--burst'], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=WORKER_TIMEOUT)
    assert result.returncode == 1 and 'REDIS_URL is not set' in result.stderr


def test_a_worker_publishes_an_announcement_once_however_often_it_is_sent(
        app, redis_app, worker, make_tenant, make_user, in_tenant):
    """Issue 5: publishing is a job; the real worker fans out and sends; sending it again messages nobody twice."""
    import sqlalchemy as sa

    from propsaas.notices import announcements
    from propsaas.notices.models import Announcement, Delivery, LoggedMessage, Message
    from tests.notices.compound import build_compound

    c = build_compound(make_tenant, make_user, in_tenant, name='工人小区', channels=('email',))
    with scope(redis_app, c.tenant):
        notice = announcements.save(None, title='停水通知', body='明天 9:00-12:00 停水', category='停水',
                                    audience={'scope': 'all'}, channels=['email'])
        db.session.flush()
        notice_id = notice.id
        record = announcements.publish_now(notice)
        assert record.status == JobRecord.QUEUED
    worker()
    with scope(redis_app, c.tenant):
        announcements.start_publication(notice_id)  # staff click again, or the sweep runs again
    worker()
    with scope(redis_app, c.tenant) as session:
        assert session.get(Announcement, notice_id).recipient_count == 6
        assert session.execute(sa.select(sa.func.count()).select_from(Message)).scalar_one() == 6
        email = session.execute(sa.select(Delivery.status).where(Delivery.channel == 'email')).scalars().all()
        assert email == ['sent']  # only owner_low has an e-mail address
        logged = session.execute(sa.select(LoggedMessage.address)).scalars().all()
        assert logged == ['owner.low@example.cn']


def test_the_sandbox_notifies_a_payment_from_a_real_worker(app, redis_app, worker, make_tenant, make_user, in_tenant):
    """Issue 6: the sandbox's asynchronous callback is a job; the worker delivers the signed notification, which is
    checked and credited once — a second delivery of the same notification changes nothing."""
    import sqlalchemy as sa

    from propsaas.auth.models import User
    from propsaas.billing import online
    from propsaas.billing.models import Bill, Payment, PaymentOrder
    from propsaas.property.models import Room
    from tests.billing.test_runs import build_estate, run_period

    e = build_estate(make_tenant, make_user, in_tenant, '工人缴费小区')
    run_period(in_tenant, e, '2026-02')
    with scope(redis_app, e.tenant) as session:
        online.save_settings('sandbox', enabled=True, values={})
        session.commit()
        bill_ids = list(session.execute(sa.select(Bill.id).where(Bill.room_id == e.rooms['1-1-101'])).scalars())
        order = online.start_order(session.get(User, e.owner_user), session.get(Room, e.rooms['1-1-101']),
                                   'sandbox', bill_ids)
        session.commit()
        order_id = order.id
        online.deliver_sandbox_notice(order, succeeded=True)
        assert session.get(PaymentOrder, order_id).status == 'pending'  # queued, not yet delivered
    worker()
    with scope(redis_app, e.tenant) as session:
        online.deliver_sandbox_notice(session.get(PaymentOrder, order_id), succeeded=True)  # delivered again
    worker()
    with scope(redis_app, e.tenant) as session:
        assert session.get(PaymentOrder, order_id).status == 'paid'
        assert session.execute(sa.select(sa.func.count(Payment.id))).scalar_one() == 1
        assert set(session.execute(sa.select(Bill.status).where(Bill.id.in_(bill_ids))).scalars()) == {'paid'}
