"""The RQ worker that ``flask --app wsgi worker`` runs, inside the app, with RQ's JSON serializer."""
from __future__ import annotations

from rq import Worker
from rq.serializers import JSONSerializer

from ..extensions import db
from .queue import redis_connection, rq_queue


class PropsaasWorker(Worker):
    """Forks a work horse per job, like RQ's default; the horse drops the parent's pooled DB connections
    (sharing a socket between processes corrupts it) and opens its own."""

    def main_work_horse(self, job, queue):
        db.engine.dispose(close=False)
        return super().main_work_horse(job, queue)


def make_worker() -> PropsaasWorker:
    connection = redis_connection()
    if connection is None:
        raise RuntimeError('REDIS_URL is not set: without Redis, jobs run inline and no worker is needed')
    return PropsaasWorker([rq_queue(connection)], connection=connection, serializer=JSONSerializer)
