"""The operator console's audit log and the projects' figures: logging in, suspending and resuming a project are
logged with the operator, the project and the address; the projects list shows rooms, residents, stored files and
the last login; none of it for anyone but an operator."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from propsaas import storage
from propsaas.auth.models import User
from propsaas.property.models import Building, Room
from propsaas.residents.models import Resident


def test_operator_actions_are_logged(app, operator, make_tenant):
    tenant = make_tenant(name='审计小区')
    anonymous = app.test_client()
    anonymous.base = 'http://localhost'
    assert anonymous.get('/operator/audit').status_code == 302  # to the operator login
    client = operator('审计员')
    assert client.post(f'/operator/tenants/{tenant.slug}/suspend').status_code == 302
    assert client.post(f'/operator/tenants/{tenant.slug}/resume').status_code == 302
    page = client.get('/operator/audit')
    assert page.status_code == 200
    rows = page.text.split('<tbody>')[1]
    assert rows.index('恢复项目') < rows.index('暂停项目') < rows.index('登录')  # newest first
    assert rows.count('审计小区') >= 2 and '审计员' in rows and tenant.slug in rows
    # on a project's host there is no operator console
    assert app.test_client().get('/operator/audit', base_url=f'http://{tenant.slug}.localhost').status_code == 404


def test_the_projects_list_shows_size_and_activity(app, operator, make_tenant, make_user, in_tenant):
    tenant = make_tenant(name='规模小区')
    user_id = make_user(tenant, 'staff')
    with in_tenant(tenant) as session:
        building = Building(name='1栋')
        session.add(building)
        session.flush()
        session.add_all([Room(building_id=building.id, number=f'10{n}', code=f'1-1-10{n}', floor=1,
                              area_m2=Decimal('80.00'), status='occupied') for n in range(3)])
        session.add_all([Resident(name=f'住户{n}', mobile=f'1390000010{n}') for n in range(2)])
        session.get(User, user_id).last_login_at = datetime(2026, 11, 30, 1, 30, tzinfo=UTC)
        storage.write_atomically('audit/report.bin', b'x' * 2_097_152)
        session.commit()
    page = operator('审计员').get('/operator/tenants').text
    row = page.split('规模小区')[1].split('</tr>')[0]
    assert '3 / 2' in row and '2.0 MB' in row and '2026-11-30 09:30' in row  # Shanghai time


def test_the_job_queues_page_lists_failed_jobs_and_retries_one(app, operator, make_tenant, in_tenant):
    """Without Redis jobs run inline: the page says so, lists the failed record and 重试 runs it again (logged)."""
    from propsaas.jobs.models import JobRecord
    from propsaas.jobs.queue import enqueue
    from tests.jobs import sample_jobs

    tenant = make_tenant(name='重试小区')
    with in_tenant(tenant) as session:
        record_id = enqueue(sample_jobs.explode, '磁盘已满').id
        assert session.get(JobRecord, record_id).status == JobRecord.FAILED
        done = JobRecord(kind=sample_jobs.explode.job_spec.name, key='done', args=['x'], status=JobRecord.DONE)
        session.add(done)
        session.commit()
        done_id = done.id
    anonymous = app.test_client()
    anonymous.base = 'http://localhost'
    assert anonymous.get('/operator/jobs').status_code == 302
    assert anonymous.post(f'/operator/jobs/{record_id}/retry').status_code == 302
    client = operator('审计员')
    page = client.get('/operator/jobs').text
    assert '未配置 Redis' in page and f'#{record_id}' in page and 'RuntimeError: 磁盘已满' in page
    assert f'#{done_id}' not in page  # done: not listed
    after = client.post(f'/operator/jobs/{record_id}/retry', follow_redirects=True).text
    assert '已重新排队' in after
    with in_tenant(tenant) as session:
        again = session.get(JobRecord, record_id)
        assert again.status == JobRecord.FAILED and again.attempts == 1 and again.finished_at is not None
    refused = client.post(f'/operator/jobs/{done_id}/retry', follow_redirects=True).text
    assert '只能重试失败的任务' in refused
    assert client.post('/operator/jobs/99999999/retry').status_code == 404
    assert '重试任务' in client.get('/operator/audit').text.split('<tbody>')[1]
    assert app.test_client().get('/operator/jobs', base_url=f'http://{tenant.slug}.localhost').status_code == 404
