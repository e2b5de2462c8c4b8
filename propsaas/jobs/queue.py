"""Background jobs: RQ on Redis when REDIS_URL is set, inline otherwise; the tenant travels with every job.

    @job('导出用户名单')
    def export_users(requested_by_id: int) -> dict: ...

    record = enqueue(export_users, current_user.id)

Job functions take ids (ints or strings), never ORM objects. A job is refused without a tenant unless it is
declared ``platform=True``. The ``JobRecord`` row is the source of truth: it is committed before the queue
hears of it, so nothing is lost when Redis is down, and a record whose queue entry is gone can be sent again.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from sqlalchemy.orm import Session

from ..errors import DomainError
from ..extensions import db
from ..models_base import utcnow
from ..storage import sweep_orphaned_temp_files
from ..tenancy.context import NoTenantError, current_tenant_id, platform_scope, tenant_scope
from ..tenancy.models import Tenant
from .models import JobRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobSpec:
    name: str
    title: str
    func: Callable
    platform: bool = False


REGISTRY: dict[str, JobSpec] = {}
#: the reason a job of a deleted project ends with (stored, shown as is)
PROJECT_DELETED = '项目已删除，任务已取消'
#: platform tasks every worker runs in its maintenance loop (each enters tenants itself), e.g. the notices sweep
MAINTENANCE_TASKS: list[Callable[[], object]] = []
_running_record: ContextVar[int | None] = ContextVar('propsaas_running_job', default=None)


class QueueUnavailable(DomainError):
    status_code = 503

    def __init__(self):
        super().__init__(_l('后台处理暂时不可用，任务已记录，服务恢复后会自动执行'))


def job(title: str, *, platform: bool = False):
    """Register a job function under its dotted name, with a title staff see on the jobs page."""

    def decorator(func):
        spec = JobSpec(f'{func.__module__}.{func.__qualname__}', title, func, platform)
        REGISTRY[spec.name] = spec
        func.job_spec = spec
        return func

    return decorator


def maintenance_task(func):
    """Register ``func()`` to run in every worker's maintenance loop (about once a JOB_STALE_SECONDS)."""
    MAINTENANCE_TASKS.append(func)
    return func


def redis_connection() -> Redis | None:
    url = current_app.config.get('REDIS_URL')
    return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5) if url else None


def rq_queue(connection: Redis) -> Queue:
    return Queue(current_app.config['JOB_QUEUE'], connection=connection, serializer=JSONSerializer)


def _check_ids(ids) -> list:
    for value in ids:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise TypeError(f'jobs take ids (int or str), not {type(value).__name__}')
    return list(ids)


def enqueue(func, *ids, key: str | None = None, requested_by_id: int | None = None) -> JobRecord | None:
    """Record and start a job of the current tenant; returns its record (None for platform jobs).

    Idempotent per ``key`` (default: the job's name and ids): while a job with the same key is queued or
    running, the existing record is returned; a finished one is reset and run again, replacing its result.
    Commits the current transaction, so the worker sees the record. Raises QueueUnavailable when Redis is
    configured but unreachable; the record stays queued and ``send_pending`` picks it up later.
    """
    spec = getattr(func, 'job_spec', None)
    if spec is None:
        raise TypeError(f'{func!r} is not a registered job')
    args = _check_ids(ids)
    if spec.platform:
        return _enqueue_platform(spec, args)
    tenant_id = current_tenant_id()
    if tenant_id is None:
        raise NoTenantError(f'job {spec.name} enqueued without a tenant')
    key = key or _default_key(spec.name, args)
    record = db.session.execute(sa.select(JobRecord).where(JobRecord.key == key)).scalar_one_or_none()
    if record is not None and record.status == JobRecord.RUNNING:
        return record
    if record is not None and record.status == JobRecord.QUEUED:
        # Still waiting: make sure the queue really has it (it may have been recorded while Redis was away).
        if not _waiting_in_queue(record.id):
            _dispatch(record.id, tenant_id)
            db.session.expire(record)
        return record
    if record is None:
        record = JobRecord(kind=spec.name, key=key)
        db.session.add(record)
    record.args = args
    _queue_again(record, requested_by_id)
    return record


def _queue_again(record: JobRecord, requested_by_id: int | None) -> None:
    """Reset ``record`` to a fresh QUEUED run with its ids, commit, and send it to the queue."""
    record.status, record.progress, record.attempts = JobRecord.QUEUED, 0, 0
    record.error = record.result = record.started_at = record.finished_at = None
    record.requested_by_id = requested_by_id
    record.created_at = utcnow()
    db.session.commit()
    _dispatch(record.id, record.tenant_id)
    db.session.expire(record)  # an inline run changed it in its own session


def retry(record: JobRecord) -> None:
    """Run a failed job of the current tenant again (an operator's 重试): the same ids, attempts counted from zero,
    the same requester (so they can download the file). Raises DomainError for a job that did not fail."""
    if record.status != JobRecord.FAILED:
        raise DomainError(_l('只能重试失败的任务'))
    if record.kind not in REGISTRY:
        raise DomainError(_l('未知的任务类型 %(kind)s', kind=record.kind))
    _forget_rq_failure(record.id)
    _queue_again(record, record.requested_by_id)


def _forget_rq_failure(record_id: int) -> None:
    """Drop the record's entry from RQ's failed registry (left by a killed work horse), so the queue's failed figure
    counts only what still failed."""
    connection = redis_connection()
    if connection is None:
        return
    try:
        rq_queue(connection).failed_job_registry.remove(_rq_job_id(record_id))
    except RedisError:
        pass  # the queue is down: sending the retry reports it


def start_unless_current(func, *ids, key: str, done_since: datetime | None = None) -> bool:
    """What the features' sweeps do once per tenant: start the job under ``key`` unless it is queued or running, or
    finished (done) — since ``done_since`` when given, so an older run is started again. A failed one is started
    again. Returns whether it was started; False too when the queue is down (the record stays queued and
    ``send_pending`` sends it later)."""
    record = db.session.execute(sa.select(JobRecord.status, JobRecord.finished_at)
                                .where(JobRecord.key == key)).first()
    if record is not None and (record.status in (JobRecord.RUNNING, JobRecord.QUEUED) or (
            record.status == JobRecord.DONE and (done_since is None or (
                record.finished_at is not None and record.finished_at > done_since)))):
        db.session.rollback()
        return False
    try:
        enqueue(func, *ids, key=key)
    except QueueUnavailable:
        db.session.rollback()
        log.warning('job %s of tenant %s not started: queue unavailable', key, current_tenant_id())
        return False
    return True


def _default_key(name: str, args: list) -> str:
    """The job's name and ids; hashed when that would not fit the column (long string ids)."""
    key = ':'.join([name, *map(str, args)])
    limit = JobRecord.__table__.c.key.type.length
    if len(key) <= limit:
        return key
    digest = hashlib.sha256(json.dumps(args, ensure_ascii=False).encode()).hexdigest()
    return f'{name[:limit - len(digest) - 1]}:{digest}'


def _enqueue_platform(spec: JobSpec, args: list) -> None:
    connection = redis_connection()
    if connection is None:
        spec.func(*args)
        return None
    try:
        rq_queue(connection).enqueue(run_platform_job, spec.name, args)
    except RedisError as exc:
        raise QueueUnavailable() from exc
    return None


def _rq_job_id(record_id: int) -> str:
    return f'propsaas-job-{record_id}'


def _waiting_in_queue(record_id: int) -> bool:
    """Whether Redis holds this record's job, queued or started. Raises QueueUnavailable when Redis is down."""
    connection = redis_connection()
    if connection is None:
        return False
    try:
        status = Job.fetch(_rq_job_id(record_id), connection=connection, serializer=JSONSerializer).get_status()
    except NoSuchJobError:
        return False
    except RedisError as exc:
        raise QueueUnavailable() from exc
    return status in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED)


def _dispatch(record_id: int, tenant_id: int) -> None:
    connection = redis_connection()
    if connection is None:
        run_job(record_id, tenant_id)
        return
    try:
        rq_queue(connection).enqueue(run_job, record_id, tenant_id, job_id=_rq_job_id(record_id),
                                     job_timeout=current_app.config['JOB_TIMEOUT'])
    except RedisError as exc:
        log.warning('queue unavailable, job record %s stays queued: %s', record_id, exc)
        raise QueueUnavailable() from exc


def send_pending() -> int:
    """Send every queued record of the current tenant to the queue again (after a Redis outage)."""
    rows = db.session.execute(sa.select(JobRecord.id).where(JobRecord.status == JobRecord.QUEUED)).scalars().all()
    sent = [record_id for record_id in rows if not _waiting_in_queue(record_id)]
    for record_id in sent:
        _dispatch(record_id, current_tenant_id())
    return len(sent)


def run_job(record_id: int, tenant_id: int) -> None:
    """What the worker (or the inline runner) executes: enter the tenant, run the job, record the outcome.

    Runs in its own app context, so its database session is its own whatever called it.
    """
    if not isinstance(tenant_id, int) or isinstance(tenant_id, bool):
        raise NoTenantError('job without a tenant refused')
    app = current_app._get_current_object()
    with app.app_context(), tenant_scope(tenant_id):
        if _project_deleted(tenant_id):  # deleted while the job waited: nothing of the project runs any more
            db.session.execute(sa.update(JobRecord)
                               .where(JobRecord.id == record_id, JobRecord.status == JobRecord.QUEUED)
                               .values(status=JobRecord.FAILED, finished_at=utcnow(), error=PROJECT_DELETED))
            db.session.commit()
            return
        # Claim the record atomically: a duplicate delivery, a second worker or another tenant's id finds
        # nothing QUEUED to claim and leaves.
        now = utcnow()
        claimed = db.session.execute(
            sa.update(JobRecord).where(JobRecord.id == record_id, JobRecord.status == JobRecord.QUEUED)
            .values(status=JobRecord.RUNNING, started_at=now, heartbeat_at=now, attempts=JobRecord.attempts + 1)
        ).rowcount
        db.session.commit()
        if claimed != 1:
            return
        record = db.session.execute(sa.select(JobRecord).where(JobRecord.id == record_id)).scalar_one()
        spec = REGISTRY.get(record.kind)
        token = _running_record.set(record.id)
        heartbeat = _Heartbeat(record_id, tenant_id, current_app.config['JOB_HEARTBEAT_SECONDS'])
        try:
            if spec is None:
                raise DomainError(_l('未知的任务类型 %(kind)s', kind=record.kind))
            outcome = spec.func(*record.args)
        except Exception as exc:  # the record keeps the reason for staff; the worker moves on
            db.session.rollback()
            log.exception('job %s (%s) failed', record_id, record.kind)
            _finish(record_id, JobRecord.FAILED, error=str(exc.message) if isinstance(exc, DomainError) else
                    f'{type(exc).__name__}: {exc}'[:2000])
        else:
            _finish(record_id, JobRecord.DONE, outcome=outcome)
        finally:
            heartbeat.stop()
            _running_record.reset(token)


def _project_deleted(tenant_id: int) -> bool:
    status = db.session.execute(sa.select(Tenant.status).where(Tenant.id == tenant_id)).scalar()
    return status in (None, Tenant.DELETED)


def _finish(record_id: int, status: str, *, outcome=None, error: str | None = None) -> None:
    record = db.session.execute(sa.select(JobRecord).where(JobRecord.id == record_id)).scalar_one()
    record.status, record.finished_at, record.error = status, utcnow(), error
    if status == JobRecord.DONE:
        record.progress = 100
        if isinstance(outcome, dict):
            record.result_file = outcome.pop('file', record.result_file)
            record.result = outcome
    db.session.commit()


class _Heartbeat(threading.Thread):
    """Refreshes a running record's ``heartbeat_at`` from a side thread with its own short transactions."""

    def __init__(self, record_id: int, tenant_id: int, every: float):
        super().__init__(daemon=True, name=f'job-heartbeat-{record_id}')
        self.record_id, self.tenant_id, self.every = record_id, tenant_id, every
        self.engine = db.engine
        self._stopped = threading.Event()
        self.start()

    def run(self) -> None:
        while not self._stopped.wait(self.every):
            try:
                with tenant_scope(self.tenant_id), Session(self.engine) as session:
                    session.execute(sa.update(JobRecord).where(JobRecord.id == self.record_id,
                                                               JobRecord.status == JobRecord.RUNNING)
                                    .values(heartbeat_at=utcnow()))
                    session.commit()
            except sa.exc.SQLAlchemyError as exc:  # a busy database delays a heartbeat; the next one follows
                log.warning('heartbeat of job %s skipped: %s', self.record_id, exc)

    def stop(self) -> None:
        self._stopped.set()
        self.join(timeout=5)


def interrupted(record_id: int, tenant_id: int, reason: str) -> None:
    """A running job lost its process: run it again, or after JOB_MAX_ATTEMPTS mark it failed with the reason.

    Safe to call more than once: only a record still RUNNING is touched.
    """
    app = current_app._get_current_object()
    with app.app_context(), tenant_scope(tenant_id):
        record = db.session.execute(sa.select(JobRecord).where(JobRecord.id == record_id)).scalar_one_or_none()
        if record is None or record.status != JobRecord.RUNNING:
            return
        sweep_orphaned_temp_files(tenant_id, older_than=app.config['JOB_HEARTBEAT_SECONDS'] * 2)
        if record.attempts >= app.config['JOB_MAX_ATTEMPTS']:
            record.status, record.finished_at = JobRecord.FAILED, utcnow()
            record.error = f'{reason}；已尝试 {record.attempts} 次，不再自动重试，请稍后重新提交'
            db.session.commit()
            return
        record.status, record.error = JobRecord.QUEUED, f'{reason}，已自动重新排队'
        db.session.commit()
        try:
            _dispatch(record_id, tenant_id)
        except QueueUnavailable:
            pass  # stays queued; send_pending picks it up when the queue is back


def recover_stalled_jobs() -> int:
    """Every tenant's RUNNING records whose heartbeat stopped: their worker died. Returns how many."""
    cutoff = utcnow() - timedelta(seconds=current_app.config['JOB_STALE_SECONDS'])
    with platform_scope():
        stalled = db.session.execute(sa.select(JobRecord.id, JobRecord.tenant_id).where(
            JobRecord.status == JobRecord.RUNNING,
            sa.func.coalesce(JobRecord.heartbeat_at, JobRecord.started_at, JobRecord.created_at) < cutoff)).all()
        db.session.rollback()
    for record_id, tenant_id in stalled:
        interrupted(record_id, tenant_id, '任务执行进程意外中断')
    return len(stalled)


def resend_overdue_queued() -> int:
    """Every tenant's QUEUED records that should have started by now (recorded while Redis was away, or lost
    with it): sent again. Harmless for ones still in the queue: a record is claimed once."""
    cutoff = utcnow() - timedelta(seconds=current_app.config['JOB_STALE_SECONDS'])
    with platform_scope():
        overdue = db.session.execute(sa.select(JobRecord.id, JobRecord.tenant_id).where(
            JobRecord.status == JobRecord.QUEUED, JobRecord.created_at < cutoff)).all()
        db.session.rollback()
    sent = [(record_id, tenant_id) for record_id, tenant_id in overdue if not _waiting_in_queue(record_id)]
    for record_id, tenant_id in sent:
        _dispatch(record_id, tenant_id)
    return len(sent)


def report_progress(percent: int) -> None:
    """Record a running job's progress in its own short transaction, so staff see it while the job works."""
    record_id = _running_record.get()
    if record_id is None:
        return
    with Session(db.engine) as session:
        session.execute(sa.update(JobRecord).where(JobRecord.id == record_id)
                        .values(progress=max(0, min(100, int(percent)))))
        session.commit()


def run_platform_job(name: str, args: list) -> None:
    spec = REGISTRY.get(name)
    if spec is None or not spec.platform:
        raise NoTenantError(f'{name} is not a platform job; tenant jobs need a tenant')
    app = current_app._get_current_object()
    with app.app_context():
        spec.func(*args)
