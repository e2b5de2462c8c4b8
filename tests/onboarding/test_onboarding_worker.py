"""The onboarding pack on a real worker (RQ work horse, main thread): the pack of the requesting project only, its
codes stored with the record, and they work on the project's host.

Needs TEST_REDIS_URL, like tests/jobs/test_worker.py (whose apps, queue and worker fixtures it uses).
"""
from __future__ import annotations

import sqlalchemy as sa

from propsaas.jobs.models import JobRecord
from propsaas.onboarding import pack
from propsaas.onboarding.models import ActivationCode
from propsaas.storage import path_for
from tests.jobs.test_worker import (  # noqa: F401  (fixtures)
    empty_queue,
    pytestmark,
    queue_name,
    redis_app,
    scope,
    worker,
)
from tests.onboarding.conftest import CODE_RE, pdf_text


def test_a_worker_renders_the_pack_of_the_requesting_project(
        app, redis_app, worker, estate, in_tenant):  # noqa: F811  (fixtures)
    a, b = estate('甲园'), estate('乙园')
    with redis_app.app_context():
        record_id = pack.request_pack_for(a.tenant.id, a.admin)
    with in_tenant(a.tenant) as session:
        assert session.get(JobRecord, record_id).status == JobRecord.QUEUED
    worker()
    with in_tenant(a.tenant) as session:
        record = session.get(JobRecord, record_id)
        assert record.status == JobRecord.DONE, record.error
        assert record.result['households'] == 3
        text = ''.join(pdf_text(path_for(record.result_file).read_bytes()))
        stored = session.execute(sa.select(sa.func.count(ActivationCode.id))).scalar_one()
    assert '甲园' in text and '乙园' not in text
    assert len(set(CODE_RE.findall(text))) == stored == 3
    with in_tenant(b.tenant) as session:
        assert session.execute(sa.select(sa.func.count(ActivationCode.id))).scalar_one() == 0
        assert pack.latest_pack() is None
