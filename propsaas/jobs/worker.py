"""The RQ worker that ``flask --app wsgi worker`` runs, inside the app, with RQ's JSON serializer."""
from __future__ import annotations

import logging

from flask import current_app
from rq import Worker
from rq.serializers import JSONSerializer

from ..extensions import db
from .queue import (
    MAINTENANCE_TASKS,
    interrupted,
    recover_stalled_jobs,
    redis_connection,
    resend_overdue_queued,
    rq_queue,
    run_job,
)

log = logging.getLogger(__name__)


class PropsaasWorker(Worker):
    """Forks a work horse per job, like RQ's default; the horse drops the parent's pooled DB connections
    (sharing a socket between processes corrupts it) and opens its own.

    Faults: a horse killed mid-job (OOM, SIGKILL) is reported by RQ to ``_horse_killed``; a whole worker killed
    leaves a RUNNING record whose heartbeat stops, which any worker's maintenance (and every worker start)
    recovers. Either way the job runs again or ends FAILED with its reason: never RUNNING forever.
    """

    @property
    def dequeue_timeout(self) -> int:
        # RQ blocks ~405 s waiting for a job and runs maintenance only after; wake up for our recovery instead.
        return self.maintenance_interval

    def main_work_horse(self, job, queue):
        db.engine.dispose(close=False)
        return super().main_work_horse(job, queue)

    def work(self, burst: bool = False, **kwargs):
        self.burst = burst
        return super().work(burst=burst, **kwargs)

    def run_maintenance_tasks(self):
        super().run_maintenance_tasks()
        recover_stalled_jobs()
        resend_overdue_queued()
        if getattr(self, 'burst', False) or not current_app.config['JOB_SWEEPS']:
            # A burst worker runs what is queued and leaves; the features' sweeps would queue new work (a day's
            # reminders for every project ...) for the long-running workers to do.
            return
        for task in MAINTENANCE_TASKS:
            try:
                task()
            except Exception:  # one feature's sweep failing must not stop the worker or the others
                log.exception('maintenance task %s failed', task.__qualname__)
                db.session.rollback()


def _horse_killed(job, retpid, ret_val, rusage) -> None:
    if job.func_name == f'{run_job.__module__}.{run_job.__qualname__}' and len(job.args) == 2:
        record_id, tenant_id = job.args
        interrupted(record_id, tenant_id, '任务执行进程意外退出')


def make_worker() -> PropsaasWorker:
    connection = redis_connection()
    if connection is None:
        raise RuntimeError('REDIS_URL is not set: without Redis, jobs run inline and no worker is needed')
    return PropsaasWorker([rq_queue(connection)], connection=connection, serializer=JSONSerializer,
                          work_horse_killed_handler=_horse_killed,
                          maintenance_interval=max(10, int(current_app.config['JOB_STALE_SECONDS'])))
