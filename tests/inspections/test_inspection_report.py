"""Inspection figures against hand-computed values: completion per plan and per person (on time, late, missed, a
round not yet due), failures per device and category (failures per month, MTBF), the page, the records export read
back, refused ranges, constant statements.

The fixture (local days of November 2026, now = 30 Nov 12:00 Shanghai), plan 水泵巡检 daily, devices P1 and P2:
- P1 rounds 1-10 Nov: 1-6 done on time by 李师傅, 7 done late by 王师傅, 8-10 missed → 10 due, 7 done, 6 on time;
- the 'patrol' plan (no device), assigned to 王师傅 by name: 5 rounds 26-30 Nov; 26, 27 done by him, 28 done by the
  admin, 29 missed; 30 Nov not due yet (due 1 Dec) → 4 due, 3 done;
- failures: P1 two work orders in November (one cancelled: not counted → 1), P2 none. Both devices were in the
  ledger all November (30 days): P1 1 × 30.4375 / 30 = 1.01 a month, MTBF 30 / 1 = 30.0 days; the category 生活水泵
  1 failure over 60 device-days: 0.51 a month per device, MTBF 60.0 days.
"""
from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from propsaas.auth.models import User
from propsaas.inspections import report
from propsaas.inspections.models import Device, InspectionPlan, InspectionTask
from propsaas.repairs import orders
from propsaas.repairs.models import RepairCategory
from propsaas.tenancy import clock
from propsaas.tenancy.models import Tenant
from tests.helpers import count_queries

NOW = datetime(2026, 11, 30, 4, tzinfo=UTC)


def local(day, hh=0) -> datetime:
    return datetime(2026, 11, day, hh, tzinfo=UTC) - timedelta(hours=8)


@pytest.fixture
def fixture(make_tenant, make_user, in_tenant, monkeypatch):
    monkeypatch.setattr(clock, 'now_utc', lambda: NOW)
    tenant = make_tenant(name='巡检统计小区')
    li = make_user(tenant, 'staff', duties=['technician'], name='李师傅')
    wang = make_user(tenant, 'staff', duties=['technician'], name='王师傅')
    admin = make_user(tenant, 'admin', name='管理员')
    with in_tenant(tenant) as session:
        p1 = Device(code='P1', name='1号泵', category='water_pump', installed_on=date(2020, 1, 1),
                    created_at=datetime(2026, 10, 1, tzinfo=UTC))
        p2 = Device(code='P2', name='2号泵', category='water_pump', created_at=datetime(2026, 10, 1, tzinfo=UTC))
        pump = InspectionPlan(code='pump', name='水泵巡检', target='pump_room', starts_on=date(2026, 11, 1),
                              frequency={'kind': 'daily'}, checklist=[{'label': '正常', 'kind': 'check'}],
                              points=[], duty='technician')
        patrol = InspectionPlan(code='patrol', name='夜间巡逻', target='patrol', starts_on=date(2026, 11, 1),
                                frequency={'kind': 'daily'}, checklist=[{'label': '正常', 'kind': 'check'}],
                                points=['1号岗'], duty='security', assignee_id=wang)
        session.add_all([p1, p2, pump, patrol])
        session.flush()

        def task(plan, day, device=None, status='open', by=None, late=False):
            start = local(day)
            due = start + timedelta(days=1)
            row = InspectionTask(plan_id=plan.id, device_id=device, target_key=device or 0, period_start=start,
                                 due_at=due, status=status, assignee_id=plan.assignee_id, results=[{'ok': True}])
            if status == 'done':
                row.completed_by_id = by
                row.completed_at = due + timedelta(hours=2) if late else start + timedelta(hours=3)
            session.add(row)

        for day in range(1, 11):
            task(pump, day, p1.id, *(('done', li) if day <= 6 else ('done', wang) if day == 7 else ('missed', None)),
                 late=day == 7)
        for day, status, by in ((26, 'done', wang), (27, 'done', wang), (28, 'done', admin), (29, 'missed', None),
                                (30, 'open', None)):
            task(patrol, day, None, status, by)
        category = session.execute(sa.select(RepairCategory.id).where(RepairCategory.code == 'plumbing')).scalar()
        for n, cancel in ((1, False), (2, True)):
            order = orders.submit(category_id=category, description='泵异响', by_user=session.get(User, admin),
                                  public_area='水泵房', channel='inspection', now=local(10 + n, 9))
            order.device_id = p1.id
            if cancel:
                orders.cancel(order, by_user=session.get(User, admin), reason='误报', now=local(12, 10))
        session.commit()
        return tenant, li, wang, admin, p1.id, p2.id


def compute(in_tenant, tenant, start=date(2026, 11, 1), end=date(2026, 11, 30)):
    with in_tenant(tenant) as session:
        return report.compute(session.get(Tenant, tenant.id), start, end, NOW)


def test_every_figure_by_hand(fixture, in_tenant):
    tenant, li, wang, admin, p1, p2 = fixture
    f = compute(in_tenant, tenant)
    plans = {p.name: (p.due, p.done, p.on_time, p.missed, str(p.rate)) for p in f.plans}
    assert plans == {'水泵巡检': (10, 7, 6, 3, '70.0'), '夜间巡逻': (4, 3, 3, 1, '75.0')}
    assert (f.due, f.done, str(f.rate)) == (14, 10, '71.4')
    people = {p.name: (p.done, p.on_time, p.assigned, p.assigned_done) for p in f.people}
    assert people == {'李师傅': (6, 6, 0, 0), '王师傅': (3, 2, 4, 2), '管理员': (1, 1, 0, 0)}
    assert str(next(p for p in f.people if p.name == '王师傅').assigned_rate) == '50.0'
    devices = {d.code: (d.days, d.failures, str(d.per_month), d.mtbf_days) for d in f.devices}
    assert devices['P1'] == (30, 1, '1.01', report.Decimal('30.0'))
    assert devices['P2'] == (30, 0, '0.00', None)
    [pumps] = f.categories
    assert (pumps.name, pumps.devices, pumps.days, pumps.failures, str(pumps.per_month), str(pumps.mtbf_days)) == (
        '生活水泵', 2, 60, 1, '0.51', '60.0')


def test_page_export_and_refused_ranges(fixture, in_tenant, client_for):
    tenant, li, wang, admin, p1, _p2 = fixture
    page = client_for(tenant, admin).get('/inspections/report?start=2026-11-01&end=2026-11-30')
    assert page.status_code == 200
    for text in ('水泵巡检', '70.0%', '71.4%', '王师傅', '50.0%', '生活水泵', '1.01', '30.0'):
        assert text in page.text, text
    assert client_for(tenant, li).get('/inspections/report').status_code == 200
    for bad in ('start=2026-13-01', 'start=2026-11-30&end=2026-11-01', 'start=2020-01-01&end=2026-11-30'):
        assert client_for(tenant, admin).get(f'/inspections/report?{bad}').status_code == 422
    exported = client_for(tenant, admin).get('/inspections/report/records.xlsx?start=2026-11-01&end=2026-11-30')
    assert exported.status_code == 200
    sheet = load_workbook(io.BytesIO(exported.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 2 + 15 and rows[1][0] == '巡检计划'
    first = rows[2]
    assert first[0] == '水泵巡检' and first[1] == 'P1' and first[5] == '已完成' and first[8] == '李师傅'
    assert first[9] == '正常：正常'


def test_roles_and_constant_statements(app, fixture, in_tenant, make_user, client_for):
    tenant, *_rest = fixture
    guard = make_user(tenant, 'staff', duties=['security'])
    assert client_for(tenant, guard).get('/inspections/report').status_code == 403
    resident = make_user(tenant, 'resident')
    assert client_for(tenant, resident).get('/inspections/report/records.xlsx').status_code == 403
    with in_tenant(tenant) as session:
        with count_queries(app) as statements:
            report.compute(session.get(Tenant, tenant.id), date(2026, 11, 1), date(2026, 11, 30), NOW)
    assert len(statements) <= report.STATEMENTS + 1


def test_the_device_page_shows_its_failures_of_the_last_year(fixture, client_for):
    tenant, li, _wang, _admin, p1, p2 = fixture
    # P1: installed in 2020, so in the ledger all of the last 365 days; one failure (the cancelled one not counted)
    page = client_for(tenant, li).get(f'/equipment/{p1}').text
    assert '近一年故障 1 次，月均 0.08 次，平均故障间隔 365.0 天' in page
    # P2 entered the ledger on 1 October (61 days to 30 November), no failure
    assert '近一年故障 0 次，月均 0.00 次，平均故障间隔 —' in client_for(tenant, li).get(f'/equipment/{p2}').text
