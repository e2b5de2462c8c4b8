"""The operators' view of background work (任务队列): what RQ holds per queue, and what the job records of every
project say — the records are the source of truth, the queue only what is waiting or running right now."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.serializers import JSONSerializer
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models_base import utcnow
from ..tenancy.context import platform_scope
from ..tenancy.models import Tenant
from .models import JobRecord
from .queue import REGISTRY, redis_connection, rq_queue

FAILED_SHOWN = 50


@dataclass
class QueueFigures:
    """One RQ queue: jobs waiting, being run, failed in RQ's registry (a killed work horse), and its workers."""
    name: str
    queued: int
    running: int
    failed: int
    workers: int


@dataclass
class QueueHealth:
    mode: str  # 'redis' or 'inline' (no REDIS_URL: jobs run in the request)
    queues: list[QueueFigures] = field(default_factory=list)
    error: str | None = None  # Redis configured but not answering


def queue_health() -> QueueHealth:
    connection = redis_connection()
    if connection is None:
        return QueueHealth('inline')
    try:
        configured = rq_queue(connection)
        others = [q for q in Queue.all(connection=connection, serializer=JSONSerializer) if q.name != configured.name]
        queues = [configured, *sorted(others, key=lambda q: q.name)]
        return QueueHealth('redis', [QueueFigures(q.name, q.count, q.started_job_registry.count,
                                                  q.failed_job_registry.count, Worker.count(queue=q))
                                     for q in queues])
    except RedisError as exc:
        return QueueHealth('redis', error=type(exc).__name__)


@dataclass
class KindFigures:
    """The records of one kind of job across every project: queued and running now, failed (not yet retried), and
    done in the last day."""
    kind: str
    queued: int = 0
    running: int = 0
    failed: int = 0
    done_today: int = 0

    @property
    def title(self) -> str:
        spec = REGISTRY.get(self.kind)
        return str(spec.title) if spec else self.kind


def record_figures() -> list[KindFigures]:
    """One statement over every project's records, grouped by kind and status."""
    since = utcnow() - timedelta(days=1)
    done_recently = sa.and_(JobRecord.status == JobRecord.DONE, JobRecord.finished_at >= since)
    with platform_scope():
        rows = db.session.execute(
            sa.select(JobRecord.kind, JobRecord.status, sa.func.count())
            .where(sa.or_(JobRecord.status.in_([JobRecord.QUEUED, JobRecord.RUNNING, JobRecord.FAILED]), done_recently))
            .group_by(JobRecord.kind, JobRecord.status)).all()
        db.session.rollback()
    figures: dict[str, KindFigures] = {}
    for kind, status, count in rows:
        entry = figures.setdefault(kind, KindFigures(kind))
        setattr(entry, 'done_today' if status == JobRecord.DONE else status, count)
    return sorted(figures.values(), key=lambda f: (-f.failed, f.kind))


def failed_records() -> list[tuple[JobRecord, Tenant]]:
    """The latest failed jobs of every project, newest first, with their project (one statement)."""
    with platform_scope():
        rows = db.session.execute(
            sa.select(JobRecord, Tenant).join(Tenant, Tenant.id == JobRecord.tenant_id)
            .options(joinedload(JobRecord.requested_by))
            .where(JobRecord.status == JobRecord.FAILED)
            .order_by(JobRecord.finished_at.desc(), JobRecord.id.desc()).limit(FAILED_SHOWN)).all()
        return [(record, tenant) for record, tenant in rows]


def tenant_of_record(record_id: int) -> int | None:
    """The project a job record belongs to, so the operator's retry can run inside its scope."""
    with platform_scope():
        tenant_id = db.session.execute(sa.select(JobRecord.tenant_id).where(JobRecord.id == record_id)).scalar()
        db.session.rollback()
    return tenant_id
