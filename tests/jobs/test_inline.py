"""Jobs without Redis (the default): enqueue runs the job at once, in its own session, for the current tenant.

SECURITY.md items 6 (a job needs a tenant and sees only it) and 22 (enqueued twice or re-run: one result).
"""
from __future__ import annotations

import io
import re
import zipfile

import pytest
import sqlalchemy as sa
import sqlalchemy.orm

from propsaas.auth.jobs import export_users
from propsaas.auth.models import User
from propsaas.extensions import db
from propsaas.jobs.models import JobRecord
from propsaas.jobs.queue import REGISTRY, enqueue, run_job
from propsaas.jobs.views import PER_PAGE
from propsaas.tenancy.context import NoTenantError, current_tenant_id, platform_scope
from tests.conftest import PASSWORD
from tests.helpers import count_queries
from tests.jobs import sample_jobs
from tests.jobs.support import EXPORT_KEY, HEADER, MOBILE_RE, all_text, read_export

XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'


def test_export_runs_at_once_for_its_tenant_only(app, populated_tenant, in_tenant, user_names, stored_export):
    a = populated_tenant('甲')
    b = populated_tenant('乙')
    with in_tenant(a):
        record = enqueue(export_users)
        assert current_tenant_id() == a.id  # the inline run gave the caller its tenant back
        assert (record.status, record.progress, record.error) == (JobRecord.DONE, 100, None)
        assert record.result == {'rows': 4} and record.result_file == EXPORT_KEY
        assert record.tenant_id == a.id and record.attempts == 1
        assert record.created_at <= record.started_at <= record.finished_at
        assert record.key == export_users.job_spec.name
    data, files = stored_export(a)
    assert files == ['users.xlsx']  # no temp file left behind
    sheet = read_export(data)
    assert sheet['sheets'] == ['用户'] and sheet['header'] == HEADER
    assert len(sheet['rows']) == 4
    names = [row[0] for row in sheet['rows']]
    assert sorted(n.removeprefix("'") for n in names) == user_names(a)
    text = all_text(sheet['rows'])
    assert [n for n in user_names(b) if '乙' in n] == ['乙住户', '乙员工']
    assert '乙' not in text and b.slug not in text  # nothing of tenant B: no name, no email
    assert f'admin@{a.slug}.cn' in text
    # Mobiles are masked; no full number anywhere in the file.
    resident = next(row for row in sheet['rows'] if row[0] == '甲住户')
    assert resident[1:3] == ['住户', f'{a.mobile[:3]}****{a.mobile[-4:]}']
    assert not MOBILE_RE.search(text)
    # A name that Excel would run as a formula is written as text.
    assert "'=cmd|calc" in names and '=cmd|calc' not in names
    assert sheet['formulas'] == []


def test_jobs_of_two_tenants_one_after_another_each_see_their_own(app, populated_tenant, in_tenant, user_names):
    a, b = populated_tenant('甲'), populated_tenant('乙')
    results = {}
    for tenant in (a, b, a):
        with in_tenant(tenant):
            results.setdefault(tenant.id, []).append(enqueue(sample_jobs.users_seen).result)
    assert results[a.id][0] == results[a.id][1] == {'tenant_id': a.id, 'names': user_names(a)}
    assert results[b.id] == [{'tenant_id': b.id, 'names': user_names(b)}]


def test_enqueue_twice_is_one_record_and_one_file(app, populated_tenant, in_tenant, make_user, job_rows, stored_export):
    tenant = populated_tenant('丙')
    with in_tenant(tenant):
        first = enqueue(export_users)
        first_id, first_finished = first.id, first.finished_at
    before, _ = stored_export(tenant)
    make_user(tenant, 'resident', name='丙新住户', mobile='13700001111')
    with in_tenant(tenant):
        second = enqueue(export_users)
        assert second.id == first_id
        assert second.status == JobRecord.DONE and second.result == {'rows': 5}
        assert second.finished_at >= first_finished
    rows = job_rows(tenant)
    assert len(rows) == 1 and rows[0]['key'] == export_users.job_spec.name and rows[0]['attempts'] == 1
    after, files = stored_export(tenant)
    assert files == ['users.xlsx']
    assert len(read_export(before)['rows']) == 4
    sheet = read_export(after)
    assert len(sheet['rows']) == 5  # replaced, not appended to
    assert sorted(row[0] for row in sheet['rows']).count('丙新住户') == 1


def test_enqueue_refuses_what_a_worker_could_not_run(app, make_tenant, in_tenant, job_rows, admin_of):
    tenant = make_tenant()
    with app.app_context(), platform_scope():
        total = db.session.scalar(sa.select(sa.func.count(JobRecord.id)))
    with app.app_context():
        with pytest.raises(NoTenantError):
            enqueue(export_users)
    with in_tenant(tenant) as session:
        admin = session.get(User, admin_of(tenant))
        with pytest.raises(TypeError, match='ids'):
            enqueue(sample_jobs.explode, admin)  # an ORM object, not its id
        for bad in (True, 1.5, None, [1], {'id': 1}):
            with pytest.raises(TypeError):
                enqueue(sample_jobs.explode, bad)

        def not_a_job():
            return {}

        with pytest.raises(TypeError, match='not a registered job'):
            enqueue(not_a_job)
        with pytest.raises(TypeError, match='not a registered job'):
            enqueue(lambda: None)
    assert job_rows(tenant) == []
    with app.app_context(), platform_scope():
        assert db.session.scalar(sa.select(sa.func.count(JobRecord.id))) == total


def test_a_failing_job_ends_failed_with_its_reason(app, make_tenant, in_tenant, client_for, admin_of, job_rows):
    tenant = make_tenant()
    with in_tenant(tenant):
        crashed = enqueue(sample_jobs.explode, '水管爆了')
        assert (crashed.status, crashed.error) == (JobRecord.FAILED, 'RuntimeError: 水管爆了')
        assert crashed.finished_at is not None and crashed.result is None and crashed.result_file is None
        refused = enqueue(sample_jobs.refuse, '水表读数不能为负')
        assert (refused.status, refused.error) == (JobRecord.FAILED, '水表读数不能为负')  # shown as it is
        crashed_id, refused_id = crashed.id, refused.id
        long = enqueue(sample_jobs.explode_at_length, 5000)
        assert long.status == JobRecord.FAILED and long.error == 'RuntimeError: ' + '长' * (2000 - 14)
        wordy = enqueue(sample_jobs.refuse_at_length, 400)
        assert wordy.error == '账单已锁定，' * 400  # written for people: kept whole
        assert current_tenant_id() == tenant.id
        # Enqueued again, a failed job runs again on the same record.
        again = enqueue(sample_jobs.explode, '水管爆了')
        assert again.id == crashed_id and again.attempts == 1 and again.status == JobRecord.FAILED
    assert len(job_rows(tenant, kind=sample_jobs.explode.job_spec.name)) == 1 and len(job_rows(tenant)) == 4
    admin = client_for(tenant, admin_of(tenant))
    page = admin.get(f'/jobs/{crashed_id}')
    assert page.status_code == 200
    assert '失败原因：RuntimeError: 水管爆了' in page.text and '测试失败' in page.text
    assert f'/jobs/{crashed_id}/download' not in page.text
    assert admin.get(f'/jobs/{crashed_id}/download').status_code == 404
    assert '水表读数不能为负' in admin.get(f'/jobs/{refused_id}').text


def test_a_long_id_makes_a_key_that_fits_its_column(app, make_tenant, in_tenant, job_rows):
    tenant = make_tenant()
    with in_tenant(tenant):
        first = enqueue(sample_jobs.explode, 'A' * 300)
        second = enqueue(sample_jobs.explode, 'A' * 299 + 'B')
        assert first.id != second.id and first.status == second.status == JobRecord.FAILED
    rows = job_rows(tenant)
    assert len(rows) == 2 and all(len(row['key']) <= JobRecord.__table__.c.key.type.length for row in rows)


def test_a_record_of_an_unknown_kind_fails_with_a_reason(app, make_tenant, in_tenant, job_rows):
    tenant = make_tenant()
    with in_tenant(tenant) as session:
        record = JobRecord(kind='tests.jobs.gone.job', key='gone', args=[], status=JobRecord.QUEUED)
        session.add(record)
        session.flush()
        record_id = record.id
    assert 'tests.jobs.gone.job' not in REGISTRY
    with app.app_context():
        run_job(record_id, tenant.id)
    (row,) = job_rows(tenant)
    assert (row['status'], row['error'], row['attempts']) == (JobRecord.FAILED, '未知的任务类型 tests.jobs.gone.job', 1)


def test_run_job_needs_the_records_own_tenant(app, make_tenant, in_tenant, job_rows):
    a, b = make_tenant(), make_tenant()
    with in_tenant(a) as session:
        record = JobRecord(kind=export_users.job_spec.name, key='by-hand', args=[], status=JobRecord.QUEUED)
        session.add(record)
        session.flush()
        record_id = record.id
    with app.app_context():
        for no_tenant in (None, '1', True, float(a.id)):
            with pytest.raises(NoTenantError):
                run_job(record_id, no_tenant)
        run_job(record_id, b.id)  # not found in B's scope: nothing happens
    (row,) = job_rows(a)
    assert (row['status'], row['attempts'], row['started_at'], row['result_file']) == (JobRecord.QUEUED, 0, None, None)
    assert job_rows(b) == []
    with app.app_context():
        run_job(record_id, a.id)  # its own tenant runs it
    (row,) = job_rows(a)
    assert (row['status'], row['attempts'], row['result']) == (JobRecord.DONE, 1, {'rows': 1})


def test_export_of_many_users_reports_progress_on_the_way(app, make_tenant, in_tenant, monkeypatch, stored_export):
    """report_progress writes in its own transaction while the job's session is open (no lock on SQLite)."""
    import propsaas.auth.jobs as auth_jobs
    from propsaas.jobs import queue

    tenant = make_tenant()
    with in_tenant(tenant) as session:
        session.add_all([User(name=f'住户{i:04d}', mobile=f'137{i:08d}', role='resident') for i in range(1100)])
    seen = []
    original = auth_jobs.report_progress

    def spy(percent):
        original(percent)
        # What staff would see meanwhile: the value committed by report_progress, read on its own connection.
        with sqlalchemy.orm.Session(db.engine) as other:
            seen.append((percent, other.scalar(sa.select(JobRecord.progress).where(
                JobRecord.id == queue._running_record.get()))))

    monkeypatch.setattr(auth_jobs, 'report_progress', spy)
    with in_tenant(tenant):
        record = enqueue(export_users)
        assert record.status == JobRecord.DONE and record.progress == 100 and record.result == {'rows': 1101}
    assert seen == [(45, 45), (90, 90)]
    data, _ = stored_export(tenant)
    assert len(read_export(data)['rows']) == 1101


# --- staff pages and API ----------------------------------------------------------------------------------


def test_admin_exports_users_from_the_page_and_downloads_the_file(app, populated_tenant, make_user, client_for,
                                                                   admin_of, job_rows):
    tenant = populated_tenant('丁')
    admin_id = admin_of(tenant)
    admin = client_for(tenant, admin_id)
    started = admin.post('/users/export')
    assert started.status_code == 302
    job_id = int(re.fullmatch(r'(?:http://[^/]+)?/jobs/(\d+)', started.headers['Location']).group(1))
    (row,) = job_rows(tenant)
    assert row['id'] == job_id and row['requested_by_id'] == admin_id and row['status'] == JobRecord.DONE

    detail = admin.get(f'/jobs/{job_id}')
    assert detail.status_code == 200
    assert '导出用户名单' in detail.text and '已完成' in detail.text and '已开始' in detail.text
    assert f'href="/jobs/{job_id}/download"' in detail.text and '共 4 行' in detail.text

    download = admin.get(f'/jobs/{job_id}/download', buffered=True)
    assert download.status_code == 200
    assert download.mimetype == XLSX and download.data[:4] == b'PK\x03\x04'
    disposition = download.headers['Content-Disposition']
    assert disposition.startswith('attachment') and 'users.xlsx' in disposition
    assert zipfile.is_zipfile(io.BytesIO(download.data))
    sheet = read_export(download.data)
    assert sheet['header'] == HEADER and len(sheet['rows']) == 4

    listing = admin.get('/jobs')
    assert listing.status_code == 200 and f'href="/jobs/{job_id}"' in listing.text and '已完成' in listing.text

    # Staff see the job but download only what they asked for; residents see no jobs at all.
    staff = client_for(tenant, make_user(tenant, 'staff'))
    assert staff.get('/jobs').status_code == 200 and f'/jobs/{job_id}' in staff.get('/jobs').text
    assert staff.get(f'/jobs/{job_id}').status_code == 200
    assert staff.get(f'/jobs/{job_id}/download').status_code == 403
    resident = client_for(tenant, make_user(tenant, 'resident'))
    assert resident.get(f'/jobs/{job_id}/download').status_code == 403
    assert client_for(tenant).get(f'/jobs/{job_id}/download').status_code == 302  # to the login page
    # Only admins start exports.
    assert staff.post('/users/export').status_code == 403
    assert len(job_rows(tenant)) == 1

    # The API shows the same job.
    api = app.test_client()
    issued = api.post('/api/v1/auth/token', json={'login': f'admin@{tenant.slug}.cn', 'password': PASSWORD},
                      base_url=f'http://{tenant.slug}.localhost')
    assert issued.status_code == 201, issued.json
    bearer = {'Authorization': f'Bearer {issued.json["token"]}'}
    listed = api.get('/api/v1/jobs', headers=bearer, base_url=f'http://{tenant.slug}.localhost')
    assert listed.status_code == 200 and listed.json['total'] == 1
    (item,) = listed.json['items']
    assert item['id'] == job_id and item['status'] == 'done' and item['title'] == '导出用户名单'
    assert item['progress'] == 100 and item['has_file'] is True and item['result'] == {'rows': 4}
    one = api.get(f'/api/v1/jobs/{job_id}', headers=bearer, base_url=f'http://{tenant.slug}.localhost')
    assert one.status_code == 200 and one.json == item
    assert api.get(f'/api/v1/jobs/{job_id}', base_url=f'http://{tenant.slug}.localhost').status_code == 401


def test_jobs_list_runs_no_query_per_row(app, make_tenant, in_tenant, client_for, admin_of):
    def tenant_with_jobs(n):
        tenant = make_tenant()
        admin_id = admin_of(tenant)
        kinds = [export_users.job_spec.name, sample_jobs.explode.job_spec.name, 'tests.jobs.unknown']
        statuses = [JobRecord.DONE, JobRecord.FAILED]  # nothing left queued for a later worker to pick up
        with in_tenant(tenant) as session:
            session.add_all([JobRecord(kind=kinds[i % 3], key=f'k{i}', args=[], status=statuses[i % 2],
                                       progress=i % 100, requested_by_id=admin_id, result={'rows': i},
                                       result_file=EXPORT_KEY if i % 2 == 0 else None) for i in range(n)])
        client = client_for(tenant, admin_id)
        assert client.get('/jobs').status_code == 200  # warm up: first-request work is not per row
        return client

    few, many = tenant_with_jobs(2), tenant_with_jobs(25)
    with count_queries(app) as few_queries:
        few_page = few.get('/jobs')
    with count_queries(app) as many_queries:
        many_page = many.get('/jobs')
    assert few_page.status_code == many_page.status_code == 200
    assert few_page.text.count('<tr>') == 2 + 1 and many_page.text.count('<tr>') == PER_PAGE + 1
    assert '第 1 / 2 页' in many_page.text and 'page=2' in many_page.text
    assert len(many_queries) == len(few_queries), '\n'.join(many_queries)
    assert many.get('/jobs?page=2').text.count('<tr>') == 25 - PER_PAGE + 1


