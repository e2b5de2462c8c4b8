"""The report pages as users see them: who may open which (residents 403, money reports only for cashiers), the
index listing the reports of the user's duties with the arrears list linked, the tables, the .xlsx exports read back
(the same rows, formula text neutralised), bad filters (422, never a 500), and constant statements (1 vs 20 rows)."""
from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook

from propsaas.billing.models import Bill, BillLine, FeeItem, Payment
from propsaas.inspections.models import Device, InspectionPlan, InspectionTask
from propsaas.repairs.models import RepairCategory, WorkOrder
from propsaas.tenancy import clock
from tests.helpers import count_queries
from tests.reports.report_world import NOW, build_world

NOV = {'start': '2026-11-01', 'end': '2026-11-30'}
PAGES = ('/reports/fees', '/reports/payments', '/reports/work-orders', '/reports/inspections', '/reports/equipment')


@pytest.fixture
def world(make_tenant, make_user, in_tenant, monkeypatch):
    monkeypatch.setattr(clock, 'now_utc', lambda: NOW)
    return build_world(make_tenant, make_user, in_tenant)


def _sheet(response, title):
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'
    book = load_workbook(io.BytesIO(response.data), read_only=True)
    return [list(row) for row in book[title].iter_rows(values_only=True)]


def _text(response) -> str:
    return re.sub(r'\s+', ' ', re.sub(r'<[^>]+>', ' ', response.get_data(as_text=True)))


def test_access_by_role_and_duty(world, client_for, make_user):
    resident = client_for(world.tenant, world.owner_user)
    plain = client_for(world.tenant, world.plain)
    desk = client_for(world.tenant, world.desk)
    cashier = client_for(world.tenant, world.cashier)
    tech = client_for(world.tenant, world.tech)
    admin = client_for(world.tenant, world.admin)
    for path in ('/reports', *PAGES, *(p + '.xlsx' for p in PAGES)):
        assert resident.get(path).status_code == 403, path
        assert plain.get(path).status_code == 403, path
        assert admin.get(path, query_string=NOV).status_code == 200, path
    anonymous = client_for(world.tenant)
    assert anonymous.get('/reports/fees').status_code in (302, 401)
    for path in ('/reports/fees', '/reports/fees.xlsx', '/reports/payments', '/reports/payments.xlsx'):
        assert desk.get(path).status_code == 403 and tech.get(path).status_code == 403, path
        assert cashier.get(path).status_code == 200, path
    assert desk.get('/reports/work-orders').status_code == 200
    assert cashier.get('/reports/work-orders').status_code == 403
    assert tech.get('/reports/equipment').status_code == 200 and tech.get('/reports/inspections').status_code == 200
    assert desk.get('/reports/inspections').status_code == 403

    # the index lists what the user may open; the arrears list is billing's own, with its building filter
    page = cashier.get('/reports').get_data(as_text=True)
    assert '收费统计' in page and '收款日记账' in page and '/billing/arrears' in page and '工单报表' not in page
    assert '巡检报表' in tech.get('/reports').get_data(as_text=True)
    full = admin.get('/reports').get_data(as_text=True)
    assert all(name in full for name in ('收费统计', '欠费清单', '收款日记账', '工单报表', '巡检报表', '设备故障报表'))
    assert '报表' in admin.get('/').get_data(as_text=True)  # in the navigation
    arrears = cashier.get('/billing/arrears/export', query_string={'building': world.buildings['2']})
    assert arrears.status_code == 200


def test_fee_page_and_export_hold_the_same_rows(world, client_for):
    admin = client_for(world.tenant, world.admin)
    args = {'start': '2026-10-01', 'end': '2026-12-31'}
    text = _text(admin.get('/reports/fees', query_string=args))
    assert '2026-10 0.00 0.00 0.00 —' in text
    assert '2026-11 1栋 车位管理费 60.00 50.00 10.00 83.3%' in text
    assert '合计 736.50 511.50 225.00 69.5%' in text
    rows = _sheet(admin.get('/reports/fees.xlsx', query_string=args), '明细')
    assert rows[0][:3] == ['月份', '楼栋', '收费项目']
    body = [[r[0], r[1], r[2], float(r[3]), float(r[4]), float(r[5]), float(r[6]) if r[6] is not None else None]
            for r in rows[1:-1]]
    assert body == [
        ['2026-11', '1栋', '物业费（电梯）', 411.5, 411.5, 0.0, 100.0],
        ['2026-11', '1栋', '车位管理费', 60.0, 50.0, 10.0, 83.3],
        ['2026-11', '1栋', '滞纳金', 5.0, 0.0, 5.0, 0.0],
        ['2026-11', '2栋', '物业费（无电梯）', 60.0, 0.0, 60.0, 0.0],
        ['2026-12', '1栋', '物业费（电梯）', 200.0, 50.0, 150.0, 25.0],
    ]
    assert rows[-1][0] == '合计' and float(rows[-1][3]) == 736.5
    months = _sheet(admin.get('/reports/fees.xlsx', query_string=args), '按月汇总')
    assert [r[0] for r in months[2:]] == ['2026-10', '2026-11', '2026-12', '合计']
    # the building filter leaves the other building out, on the page and in the file
    two = {**args, 'building': world.buildings['2']}
    text = _text(admin.get('/reports/fees', query_string=two))
    assert '物业费（无电梯）' in text and '车位管理费' not in text
    assert [r[1] for r in _sheet(admin.get('/reports/fees.xlsx', query_string=two), '明细')[1:-1]] == ['2栋']


def test_payment_journal_page_and_export(world, client_for):
    cashier = client_for(world.tenant, world.cashier)
    p = world.payments
    response = cashier.get('/reports/payments', query_string=NOV)
    text = _text(response)
    assert f'已冲正（{p["R3"]}）' in text and f'原收据 {p["P3"]}' in text and f'原收据 {p["P5"]}' in text
    assert '2026-11-07 当日合计 3 130.00 0.00 60.00 70.00' in text
    assert '合计 全部方式 7 621.50 30.00 60.00 531.50' in text
    assert '2026-11-05 09:30' in text  # local time
    rows = _sheet(cashier.get('/reports/payments.xlsx', query_string=NOV), '收款明细')
    assert [r[1] for r in rows[1:]] == [p[k] for k in ('P1', 'P2', 'P3', 'R3', 'P4', 'P5', 'F5')]
    by_number = {r[1]: r for r in rows[1:]}
    assert by_number[p['P1']][0] == '2026-11-05 09:30'
    assert float(by_number[p['R3']][4]) == -60.0 and by_number[p['R3']][2] == '冲正'
    assert f'已冲正（{p["R3"]}）' in by_number[p['P3']][8]
    assert by_number[p['P2']][6] == '\'=HYPERLINK("x")'  # neutralised: stays text
    summary = _sheet(cashier.get('/reports/payments.xlsx', query_string=NOV), '日结汇总')
    day = next(r for r in summary if r[:2] == ['2026-11-07', '当日合计'])
    assert day[3] == 3 and [float(v) for v in day[4:8]] == [130.0, 0.0, 60.0, 70.0]
    assert summary[-1][0] == '合计' and float(summary[-1][7]) == 531.5


def test_work_orders_inspections_equipment_pages_and_exports(world, client_for):
    admin = client_for(world.tenant, world.admin)
    text = _text(admin.get('/reports/work-orders', query_string=NOV))
    assert '1栋 水暖 2 1 1小时0分 5小时0分 5.00' in text and '合计 7 2' in text
    rows = _sheet(admin.get('/reports/work-orders.xlsx', query_string=NOV), '工单明细')
    assert len(rows) == 1 + 7
    assert ["'=cmd"] == [r[4] for r in rows[1:] if r[4] and 'cmd' in r[4]]
    summary = _sheet(admin.get('/reports/work-orders.xlsx', query_string=NOV), '汇总')
    assert summary[2][:4] == ['1栋', '水暖', 2, 1] and float(summary[2][4]) == 1.0 and float(summary[2][5]) == 5.0
    closed = _text(admin.get('/reports/work-orders', query_string={**NOV, 'by': 'closed'}))
    assert '按完工日期' in closed and '完工的工单' in closed
    assert admin.get('/reports/work-orders', query_string={**NOV, 'by': 'x'}).status_code == 422

    text = _text(admin.get('/reports/inspections', query_string=NOV))
    assert '水泵巡检 计划合计 6 4 3 1 2 66.7%' in text and '合计 8 5 4 1 3 62.5%' in text
    rows = _sheet(admin.get('/reports/inspections.xlsx', query_string=NOV), '巡检报表')
    assert rows[-1][:7] == ['合计', None, 8, 5, 4, 1, 3]
    assert ['水泵巡检', '李师傅', 2, 2, 2, 0, 0] in [r[:7] for r in rows]

    text = _text(admin.get('/reports/equipment', query_string=NOV))
    assert 'P1 1号泵 1栋 30 2 2.03 15.0' in text and '生活水泵 2 3 1.52 20.0' in text
    rows = _sheet(admin.get('/reports/equipment.xlsx', query_string={**NOV, 'building': world.buildings['2']}),
                  '按设备')
    assert [r[0] for r in rows[2:]] == ['P2']


@pytest.mark.parametrize('args, reason', [
    ({'start': '2026-13-01'}, '日期格式应为'),
    ({'start': '2026-12-01', 'end': '2026-11-01'}, '开始日期不能晚于结束日期'),
    ({'start': '2025-01-01', 'end': '2026-12-31'}, '报表区间最长 366 天'),
    ({'building': 'abc'}, '没有这个楼栋'),
    ({'building': '99999999'}, '没有这个楼栋'),
    ({'building': '99999999999999999999'}, '没有这个楼栋'),
])
def test_bad_filters_are_422_with_the_reason(world, client_for, args, reason):
    admin = client_for(world.tenant, world.admin)
    for path in PAGES:
        for url in (path, path + '.xlsx'):
            response = admin.get(url, query_string=args)
            assert response.status_code == 422, url
            assert reason in response.get_data(as_text=True), url


def test_a_page_number_past_the_end_is_an_empty_page(world, client_for):
    admin = client_for(world.tenant, world.admin)
    for path in ('/reports/fees', '/reports/payments', '/reports/work-orders'):
        for page in ('99999999999999999999', '-3', 'x'):
            assert admin.get(path, query_string={**NOV, 'page': page}).status_code == 200, (path, page)


def test_another_projects_building_is_refused(world, make_tenant, make_user, in_tenant, client_for):
    other = build_world(make_tenant, make_user, in_tenant, name='别的小区')
    admin = client_for(world.tenant, world.admin)
    response = admin.get('/reports/fees', query_string={'building': other.buildings['1']})
    assert response.status_code == 422 and '没有这个楼栋' in response.get_data(as_text=True)
    # and its data never shows
    page = admin.get('/reports/payments', query_string=NOV).get_data(as_text=True)
    assert f'/billing/payments/{world.reversed_p3}"' in page
    assert f'/billing/payments/{other.reversed_p3}"' not in page and page.count('/billing/payments/') == 7


def test_default_range_is_this_month(world, client_for):
    admin = client_for(world.tenant, world.admin)
    page = admin.get('/reports/payments').get_data(as_text=True)
    assert 'value="2026-12-01"' in page and 'value="2026-12-31"' in page and world.payments['P6'] in page


# --- statements: the same with 1 row and with 20 ----------------------------------------------------------------

def _grow(in_tenant, tenant, n: int, offset: int) -> None:
    """n more rows of each report in December 2026: fee items billed, payments, work orders, tasks, devices."""
    at = datetime(2026, 12, 2, 2, tzinfo=UTC)
    with in_tenant(tenant) as session:
        category = session.query(RepairCategory).first()
        plan = InspectionPlan(code=f'g{offset}', name=f'计划{offset}', target='patrol', starts_on=date(2026, 12, 1),
                              frequency={'kind': 'daily'}, checklist=[], points=[], duty='technician')
        session.add(plan)
        session.flush()
        for k in range(offset, offset + n):
            item = FeeItem(code=f'g{k}', name=f'项目{k}', charging='fixed', amount_fen=100)
            bill = Bill(number=f'ZD-G{k}', room_id=None, period='2026-12', issued_on=date(2026, 12, 1),
                        due_on=date(2026, 12, 28), total_fen=100)
            session.add_all([item, bill])
            session.flush()
            session.add(BillLine(bill_id=bill.id, fee_item_id=item.id, subject=f'g:{k}', period='2026-12',
                                 description='x', amount_fen=100))
            session.add(Payment(number=f'SJ-G{k}', method='cash', amount_fen=100, paid_at=at + timedelta(hours=k)))
            device = Device(code=f'D{k}', name=f'设备{k}', category='lift', created_at=at)
            session.add(device)
            session.flush()
            session.add(WorkOrder(number=f'BX-G{k}', category_id=category.id, public_area='大堂', description='x',
                                  created_at=at + timedelta(hours=k), device_id=device.id))
            other = InspectionPlan(code=f'gp{k}', name=f'计划{k}', target='patrol', starts_on=date(2026, 12, 1),
                                   frequency={'kind': 'daily'}, checklist=[], points=[], duty='technician')
            session.add(other)
            session.flush()
            session.add(InspectionTask(plan_id=other.id, target_key=0, period_start=at, due_at=at + timedelta(days=1),
                                       status='missed'))


def test_statements_are_constant_with_1_and_20_rows(app, make_tenant, make_user, in_tenant, client_for,
                                                     monkeypatch):
    monkeypatch.setattr(clock, 'now_utc', lambda: NOW)
    tenant = make_tenant(name='语句小区')
    admin = client_for(tenant, make_user(tenant, 'admin'))
    _grow(in_tenant, tenant, 1, 0)

    def counts():
        found = {}
        for path in PAGES:
            admin.get(path)  # warm up (first-request caches)
            with count_queries(app) as statements:
                response = admin.get(path)
            assert response.status_code == 200
            found[path] = len(statements)
        return found

    one = counts()
    _grow(in_tenant, tenant, 19, 1)
    twenty = counts()
    assert one == twenty
    page = admin.get('/reports/work-orders').get_data(as_text=True)
    assert page.count('BX-G') == 20
