"""The PDF jobs on a real worker (RQ work horse, main thread: the render time limit uses SIGALRM there, inside RQ's
own job timeout, which must survive it): a run's print pack and per-household PDFs land in the run's tenant only.

Needs TEST_REDIS_URL, like test_worker.py (whose apps, queue and worker fixtures it uses).
"""
from __future__ import annotations

import io

import sqlalchemy as sa
from pypdf import PdfReader

from propsaas.billing import documents
from propsaas.billing.models import Bill
from propsaas.jobs.models import JobRecord
from propsaas.jobs.queue import enqueue
from propsaas.storage import path_for, tenant_root
from tests.billing.test_runs import build_estate, run_period
from tests.jobs.test_worker import (  # noqa: F401  (fixtures)
    empty_queue,
    pytestmark,
    queue_name,
    redis_app,
    scope,
    worker,
)


def test_a_worker_renders_the_print_pack_and_bill_pdfs_of_the_runs_tenant(
        app, redis_app, worker, make_tenant, make_user, in_tenant, job_rows):  # noqa: F811  (fixtures)
    a = build_estate(make_tenant, make_user, in_tenant, '甲苑')
    b = build_estate(make_tenant, make_user, in_tenant, '乙苑')
    run_id = run_period(in_tenant, a, '2026-02')
    run_period(in_tenant, b, '2026-02')
    with scope(redis_app, a.tenant):
        pack = enqueue(documents.render_print_pack, run_id, key=documents.print_pack_key(run_id)).id
        each = enqueue(documents.render_bill_pdfs, run_id, key=documents.bill_pdfs_key(run_id)).id
    worker()
    rows = {row['id']: row for row in job_rows(a.tenant)}
    assert rows[pack]['status'] == rows[each]['status'] == JobRecord.DONE, rows
    assert rows[each]['result'] == {'bills': 4, 'failed': 0}
    with in_tenant(a.tenant) as session:
        data = path_for(rows[pack]['result_file']).read_bytes()
        numbers = session.execute(sa.select(Bill.number).where(Bill.run_id == run_id)).scalars().all()
        files = sorted(p.name for p in path_for('bills/2026-02').iterdir())
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 4
    text = ''.join(page.extract_text() for page in reader.pages)
    assert '甲苑' in text and '乙苑' not in text and all(number in text for number in numbers)
    assert len(files) == 5  # four bills and the pack
    with in_tenant(b.tenant):
        assert not (tenant_root() / 'bills').exists()
