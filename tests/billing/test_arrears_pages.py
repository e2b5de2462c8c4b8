"""The arrears and dunning pages (欠费催缴) and API as staff use them: list with buckets, export, holds, the log,
the schedule and the project's days; roles and another project's hold."""
from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from propsaas.billing import dunning
from propsaas.billing.models import ProjectDay, ReminderHold
from propsaas.residents.models import Resident
from propsaas.tenancy import clock
from propsaas.tenancy.models import Tenant
from tests.billing.test_arrears import make_bill, pay
from tests.billing.test_runs import api_token, build_estate
from tests.helpers import count_queries

TODAY = date(2026, 12, 1)


@pytest.fixture
def estate(make_tenant, make_user, in_tenant):
    return lambda name='收费小区': build_estate(make_tenant, make_user, in_tenant, name)


@pytest.fixture(autouse=True)
def pinned_today(monkeypatch):
    monkeypatch.setattr(clock, 'now_utc', lambda: datetime(2026, 12, 1, 2, 0, tzinfo=UTC))


def _arrears(in_tenant, e):
    make_bill(in_tenant, e, '1-1-101', date(2026, 11, 1), 25660)  # 30 days
    make_bill(in_tenant, e, '1-1-101', date(2026, 10, 31), 10000)  # 31 days
    partial = make_bill(in_tenant, e, '1-1-102', date(2026, 5, 1), 50000)  # 214 days
    pay(in_tenant, e, partial, 20000)
    make_bill(in_tenant, e, '2-1-201', date(2026, 9, 1), 3000)  # 91 days


def test_arrears_list_with_buckets_totals_and_filter(app, estate, in_tenant, client_for):
    e = estate()
    client = client_for(e.tenant, e.cashier)
    assert '没有欠费' in client.get('/billing/arrears').text
    _arrears(in_tenant, e)
    page = client.get('/billing/arrears')
    assert page.status_code == 200
    text = page.text
    assert text.index('1栋1单元101') < text.index('1栋1单元102') < text.index('2栋1单元201')  # by total
    assert '356.60' in text and '300.00' in text and '256.60' in text and '100.00' in text and '30.00' in text
    assert '686.60' in text  # the project's total
    assert '138****1234' in text and '13800001234' not in text
    assert '13800001234' in client_for(e.tenant, e.admin).get('/billing/arrears').text
    two = client.get(f'/billing/arrears?building={e.buildings["2"]}').text
    assert '2栋1单元201' in two and '1栋1单元101' not in two


def test_arrears_list_runs_constant_statements(app, estate, in_tenant, client_for):
    e = estate()
    make_bill(in_tenant, e, '1-1-101', date(2026, 11, 1), 100)
    client = client_for(e.tenant, e.cashier)
    client.get('/billing/arrears')
    with count_queries(app) as few:
        client.get('/billing/arrears')
    for room in ('1-1-102', '1-1-103', '1-1-104', '1-1-105', '2-1-201'):
        make_bill(in_tenant, e, room, date(2026, 6, 1), 100)
        make_bill(in_tenant, e, room, date(2026, 11, 1), 100)
    with count_queries(app) as more:
        client.get('/billing/arrears')
    assert len(few) == len(more)


def test_export_downloads_an_xlsx_that_neutralises_formulas(app, estate, in_tenant, client_for):
    from openpyxl import load_workbook

    e = estate()
    _arrears(in_tenant, e)
    with in_tenant(e.tenant) as session:
        session.execute(sa.update(Resident).where(Resident.id == e.residents['1-1-102']).values(name='=cmd'))
    response = client_for(e.tenant, e.admin).get('/billing/arrears/export')
    assert response.status_code == 200 and 'spreadsheetml' in response.content_type
    rows = list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    assert rows[3][0] == '1栋1单元102' and rows[3][1] == "'=cmd" and rows[3][-1] == pytest.approx(300.00)
    assert rows[2][2] == '138****1234'  # masked in the file, even for an admin
    assert rows[-1][-1] == pytest.approx(686.60)


def test_hold_requires_a_reason_skips_and_the_log_shows_it(app, estate, in_tenant, client_for):
    e = estate()
    make_bill(in_tenant, e, '1-1-101', date(2026, 12, 1), 1000)
    client = client_for(e.tenant, e.cashier)
    room = e.rooms['1-1-101']
    missing = client.post(f'/billing/rooms/{room}/hold', data={'reason': '  '})
    assert missing.status_code == 422 and '请填写不催缴的原因' in missing.text
    assert client.post(f'/billing/rooms/{room}/hold', data={'reason': '面积有争议'}).status_code == 303
    holds = client.get('/billing/arrears/holds').text
    assert '1栋1单元101' in holds and '面积有争议' in holds
    with in_tenant(e.tenant) as session:
        dunning.run_due_reminders(TODAY, session.get(Tenant, e.tenant.id))
    log = client.get('/billing/reminders')
    assert log.status_code == 200
    assert log.text.count('不催缴：面积有争议') == 2 and '已跳过' in log.text and '王业主' in log.text
    assert '13800001234' not in log.text
    assert client.get('/billing/reminders?status=sent').text.count('不催缴：') == 0
    by_address = client.post('/billing/arrears/holds', data={'room': '1-1-102', 'reason': '困难户'})
    assert by_address.status_code == 303
    with in_tenant(e.tenant) as session:
        hold_id = session.execute(sa.select(ReminderHold.id).where(ReminderHold.room_id == room)).scalar_one()
    assert client.post(f'/billing/holds/{hold_id}/lift').status_code == 303
    again = client.post(f'/billing/holds/{hold_id}/lift', follow_redirects=True)
    assert '该暂停已解除' in again.text


def test_another_tenants_hold_and_room_are_404(app, estate, in_tenant, client_for):
    e, other = estate(), estate('别的小区')
    with in_tenant(other.tenant) as session:
        hold = ReminderHold(room_id=other.rooms['1-1-101'], reason='争议')
        session.add(hold)
        session.flush()
        hold_id = hold.id
    client = client_for(e.tenant, e.admin)
    assert client.post(f'/billing/holds/{hold_id}/lift').status_code == 404
    assert client.post(f'/billing/rooms/{other.rooms["1-1-101"]}/hold', data={'reason': 'x'}).status_code == 404
    with in_tenant(other.tenant) as session:
        assert session.get(ReminderHold, hold_id).lifted_at is None


def test_schedule_and_project_days_pages(app, estate, in_tenant, client_for):
    e = estate()
    client = client_for(e.tenant, e.cashier)
    page = client.get('/billing/reminders/schedule')
    assert page.status_code == 200 and '-3, 0, 7, 30' in page.text
    bad = client.post('/billing/reminders/schedule', data={'schedule-steps': '1, 2, 400'})
    assert bad.status_code == 422 and '提醒日须在截止日前 60 天到截止日后 365 天之间' in bad.text
    too_many = client.post('/billing/reminders/schedule', data={'schedule-steps': '1,2,3,4,5,6,7,8,9'})
    assert too_many.status_code == 422 and '最多设置 8 个提醒日' in too_many.text
    assert client.post('/billing/reminders/schedule', data={'schedule-steps': '-5, 0, 15'}).status_code == 303
    with in_tenant(e.tenant) as session:
        assert session.get(Tenant, e.tenant.id).settings['dunning'] == {'steps': [-5, 0, 15]}
    added = client.post('/billing/reminders/days', data={'day-day': '2026-12-01', 'day-name': '停水检修'})
    assert added.status_code == 303
    shown = client.get('/billing/reminders/schedule').text
    assert '停水检修' in shown and '下一个发送提醒的工作日：2026-12-02' in shown  # today is off now
    assert client.post('/billing/reminders/days', data={'day-day': '', 'day-name': 'x'}).status_code == 422
    assert client.post('/billing/reminders/days/remove', data={'remove-day': '2026-12-01'}).status_code == 303
    with in_tenant(e.tenant) as session:
        assert session.execute(sa.select(sa.func.count(ProjectDay.id))).scalar_one() == 0


def test_without_holiday_data_the_page_says_so(app, estate, client_for, monkeypatch):
    e = estate()
    monkeypatch.setattr(clock, 'now_utc', lambda: datetime(2027, 3, 1, 2, 0, tzinfo=UTC))
    page = client_for(e.tenant, e.admin).get('/billing/reminders/schedule')
    assert '尚无 2027 年数据' in page.text


def test_who_may_use_the_pages(app, estate, client_for):
    e = estate()
    urls = ('/billing/arrears', '/billing/arrears/export', '/billing/arrears/holds', '/billing/reminders',
            '/billing/reminders/schedule')
    for user, status in ((e.admin, 200), (e.cashier, 200), (e.desk, 403), (e.owner_user, 403)):
        client = client_for(e.tenant, user)
        for url in urls:
            assert client.get(url).status_code == status, (user, url)


def test_api_arrears_and_reminders(app, estate, in_tenant):
    e = estate()
    _arrears(in_tenant, e)
    client = app.test_client()
    base = f'http://{e.tenant.slug}.localhost'
    cashier = api_token(in_tenant, e, e.cashier)
    body = client.get('/api/v1/billing/arrears', headers=cashier, base_url=base)
    assert body.status_code == 200, body.json
    data = body.json
    assert data['as_of'] == '2026-12-01' and data['totals']['total_fen'] == 68660 and data['total'] == 3
    first, second = data['items'][0], data['items'][1]
    assert second['place'] == '1栋1单元102' and second['buckets']['over180'] == 30000 and second['total_fen'] == 30000
    assert first['payer_mobile'] == '138****1234' and first['total_fen'] == 35660
    assert first['buckets'] == {'d30': 25660, 'd90': 10000, 'd180': 0, 'over180': 0}
    with in_tenant(e.tenant) as session:
        dunning.run_due_reminders(TODAY, session.get(Tenant, e.tenant.id))
    log = client.get('/api/v1/billing/reminders?status=sent', headers=cashier, base_url=base)
    assert log.status_code == 200 and log.json['total'] >= 1
    assert {item['status'] for item in log.json['items']} == {'sent'}
    assert client.get('/api/v1/billing/arrears', base_url=base).status_code == 401
    desk = api_token(in_tenant, e, e.desk)
    assert client.get('/api/v1/billing/reminders', headers=desk, base_url=base).status_code == 403
    assert client.get('/api/v1/billing/arrears?building_id=0', headers=cashier, base_url=base).status_code == 422
