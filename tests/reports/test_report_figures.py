"""Each report's figures against the hand-computed values of tests/reports/report_world.py: a reversed payment, a
refund, a month with no data, the building filter leaving the other building out, times in the project's timezone."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from propsaas.reports import equipment, fees, inspections, journal, work_orders
from propsaas.reports.common import ReportFilter
from propsaas.tenancy import clock
from propsaas.tenancy.models import Tenant
from tests.reports.report_world import NOW, build_world

NOV = (date(2026, 11, 1), date(2026, 11, 30))


@pytest.fixture
def world(make_tenant, make_user, in_tenant, monkeypatch):
    monkeypatch.setattr(clock, 'now_utc', lambda: NOW)
    return build_world(make_tenant, make_user, in_tenant)


def _run(in_tenant, world, fn, *args, **kwargs):
    with in_tenant(world.tenant) as session:
        return fn(session.get(Tenant, world.tenant.id), *args, **kwargs)


def test_fee_collection_by_month_building_and_item(world, in_tenant):
    f = ReportFilter(date(2026, 10, 1), date(2026, 12, 31))
    with in_tenant(world.tenant):
        report = fees.compute(f)
        rows = [(r.period, r.building, r.fee_item, r.receivable_fen, r.received_fen, r.outstanding_fen,
                 str(r.rate)) for r in fees.all_rows(f)]
    # October has no bills: a month of zeros, no rate
    assert [(m.period, m.receivable_fen, m.received_fen, m.rate) for m in report.months] == [
        ('2026-10', 0, 0, None), ('2026-11', 53650, 46150, Decimal('86.0')), ('2026-12', 20000, 5000, Decimal('25.0'))]
    assert (report.total.receivable_fen, report.total.received_fen, report.total.outstanding_fen,
            str(report.total.rate)) == (73650, 51150, 22500, '69.5')
    # B1 part-paid 25000 of 26500: its charges first, the late fee last; B3's payment was reversed; B2's waived
    # late fee and the void B5 count nowhere
    assert rows == [
        ('2026-11', '1栋', '物业费（电梯）', 41150, 41150, 0, '100.0'),
        ('2026-11', '1栋', '车位管理费', 6000, 5000, 1000, '83.3'),
        ('2026-11', '1栋', '滞纳金', 500, 0, 500, '0.0'),
        ('2026-11', '2栋', '物业费（无电梯）', 6000, 0, 6000, '0.0'),
        ('2026-12', '1栋', '物业费（电梯）', 20000, 5000, 15000, '25.0'),
    ]
    assert report.rows.total == 5 and [r.fee_item for r in report.rows.items][:2] == ['物业费（电梯）', '车位管理费']


def test_fee_collection_building_filter_and_default_month(world, in_tenant):
    with in_tenant(world.tenant):
        two = fees.compute(ReportFilter(date(2026, 11, 1), date(2026, 12, 31), world.buildings['2']))
        assert [(m.period, m.receivable_fen, m.received_fen) for m in two.months] == [
            ('2026-11', 6000, 0), ('2026-12', 0, 0)]
        assert [(r.building, r.fee_item) for r in two.rows.items] == [('2栋', '物业费（无电梯）')]
        # a range inside one month takes that month's bills
        dec = fees.compute(ReportFilter(date(2026, 12, 5), date(2026, 12, 6)))
        assert (dec.total.receivable_fen, dec.total.received_fen) == (20000, 5000)


def test_payment_journal_by_day_method_and_cashier(world, in_tenant):
    report = _run(in_tenant, world, journal.compute, ReportFilter(*NOV))
    days = {d.day.isoformat(): [(r.method, r.cashier, r.count, r.received_fen, r.refunded_fen, r.reversed_fen,
                                 r.net_fen) for r in d.rows] for d in report.days}
    assert days == {
        '2026-11-05': [('cash', '收银员甲', 1, 22000, 0, 0, 22000)],
        '2026-11-06': [('cash', '收银员甲', 1, 6000, 0, 0, 6000),
                       ('bank_transfer', '收银员乙', 1, 21150, 0, 0, 21150)],
        # the reversal takes the 6th's money back on the 7th; the online payment has no cashier
        '2026-11-07': [('cash', '收银员乙', 1, 10000, 0, 0, 10000), ('cash', '收银员甲', 1, 0, 0, 6000, -6000),
                       ('wechat', '线上支付', 1, 3000, 0, 0, 3000)],
        '2026-11-08': [('cash', '收银员乙', 1, 0, 3000, 0, -3000)],
    }
    assert [(d.day.day, d.total.net_fen) for d in report.days] == [(5, 22000), (6, 27150), (7, 7000), (8, -3000)]
    assert [(m.method, m.count, m.received_fen, m.refunded_fen, m.reversed_fen, m.net_fen)
            for m in report.methods] == [('cash', 5, 38000, 3000, 6000, 29000),
                                         ('bank_transfer', 1, 21150, 0, 0, 21150), ('wechat', 1, 3000, 0, 0, 3000)]
    t = report.total
    assert (t.count, t.received_fen, t.refunded_fen, t.reversed_fen, t.net_fen) == (7, 62150, 3000, 6000, 53150)
    entries = {e.number: e for e in report.entries.items}
    p = world.payments
    assert list(entries) == [p[k] for k in ('P1', 'P2', 'P3', 'R3', 'P4', 'P5', 'F5')]  # P6 is 1 Dec locally
    assert entries[p['P3']].reversed_by == p['R3'] and entries[p['R3']].undoes == p['P3']
    assert entries[p['R3']].signed_fen == -6000 and entries[p['F5']].signed_fen == -3000
    assert entries[p['F5']].undoes == p['P5'] and entries[p['F5']].kind_name == '退款'
    assert entries[p['P1']].reversed_by == ''


def test_payment_journal_timezone_and_building(world, in_tenant):
    dec = _run(in_tenant, world, journal.compute, ReportFilter(date(2026, 12, 1), date(2026, 12, 1)))
    assert [(d.day, d.total.received_fen) for d in dec.days] == [(date(2026, 12, 1), 5000)]
    two = _run(in_tenant, world, journal.compute, ReportFilter(*NOV, world.buildings['2']))
    assert [e.number for e in two.entries.items] == [world.payments['P3'], world.payments['R3']]
    assert (two.total.received_fen, two.total.reversed_fen, two.total.net_fen) == (6000, 6000, 0)
    empty = _run(in_tenant, world, journal.compute, ReportFilter(date(2026, 10, 1), date(2026, 10, 31)))
    assert empty.days == [] and empty.entries.total == 0 and empty.total.net_fen == 0


def test_work_orders_created_and_closed(world, in_tenant):
    report = _run(in_tenant, world, work_orders.compute, ReportFilter(*NOV))
    groups = [(g.building, g.category, g.orders, g.completed, g.response_avg, g.resolution_avg,
               g.average_rating) for g in report.groups]
    assert groups == [
        ('1栋', '水暖', 2, 1, 3600, 18000, Decimal('5.00')),
        ('2栋', '电路', 1, 1, 7200, 172800, Decimal('3.00')),
        ('未指定楼栋', '水暖', 4, 0, None, None, None),
    ]
    t = report.total
    assert (t.orders, t.completed, t.response_avg, t.resolution_avg, t.average_rating) == (
        7, 2, 5400, 95400, Decimal('4.00'))
    rows = {o.id: o for o in report.orders.items}
    w1, w2 = rows[world.orders['W1']], rows[world.orders['W2']]
    assert (w1.response_seconds, w1.resolution_seconds, w1.rating) == (3600, 18000, 5)
    # W2's response is its *first* start; its resolution the completion after the reopening
    assert (w2.response_seconds, w2.resolution_seconds, w2.reopen_count, w2.place) == (7200, 172800, 1, '2-1-201')
    assert world.orders['W4'] not in rows  # submitted on 31 October (local)

    closed = _run(in_tenant, world, work_orders.compute, ReportFilter(*NOV), 'closed')
    assert [o.id for o in closed.orders.items] == [world.orders[k] for k in ('W4', 'W1', 'W2')]
    two = _run(in_tenant, world, work_orders.compute, ReportFilter(*NOV, world.buildings['2']))
    assert [o.id for o in two.orders.items] == [world.orders['W2']] and two.total.orders == 1
    empty = _run(in_tenant, world, work_orders.compute, ReportFilter(date(2026, 9, 1), date(2026, 9, 30)))
    assert empty.groups == [] and empty.orders.total == 0 and empty.total.average_rating is None


def test_inspections_by_plan_and_person(world, in_tenant):
    report = _run(in_tenant, world, inspections.compute, ReportFilter(*NOV), NOW)
    plans = {p.plan: (p.counted, p.done, p.on_time, p.late, p.missed, str(p.rate)) for p in report.plans}
    assert plans == {'水泵巡检': (6, 4, 3, 1, 2, '66.7'), '夜间巡逻': (2, 1, 1, 0, 1, '50.0')}
    people = {(p.plan, q.person): (q.counted, q.done, q.on_time, q.late, q.missed)
              for p in report.plans for q in p.people}
    assert people == {
        ('水泵巡检', '李师傅'): (2, 2, 2, 0, 0),
        ('水泵巡检', '王师傅'): (2, 2, 1, 1, 0),
        ('水泵巡检', '未指定（按岗位）'): (2, 0, 0, 0, 2),
        ('夜间巡逻', '王师傅'): (2, 1, 1, 0, 1),
    }
    t = report.total
    assert (t.counted, t.done, t.on_time, t.late, t.missed, str(t.rate)) == (8, 5, 4, 1, 3, '62.5')
    one = _run(in_tenant, world, inspections.compute, ReportFilter(*NOV, world.buildings['1']), NOW)
    assert [(p.plan, p.counted, p.done, p.on_time, p.late, p.missed) for p in one.plans] == [
        ('水泵巡检', 4, 3, 2, 1, 1)]
    # December's round is not due yet: nothing counts
    dec = _run(in_tenant, world, inspections.compute, ReportFilter(date(2026, 12, 1), date(2026, 12, 31)), NOW)
    assert dec.plans == [] and dec.total.rate is None


def test_equipment_failures_and_mtbf(world, in_tenant):
    report = _run(in_tenant, world, equipment.compute, ReportFilter(*NOV))
    devices = {d.code: (d.building, d.days, d.failures, str(d.per_month), d.mtbf_days) for d in report.devices}
    assert devices == {'P1': ('1栋', 30, 2, '2.03', Decimal('15.0')), 'P2': ('2栋', 30, 1, '1.01', Decimal('30.0')),
                       'L1': ('1栋', 30, 0, '0.00', None)}  # R1 retired without failures: left out
    categories = {c.category: (c.devices, c.days, c.failures, str(c.per_month), c.mtbf_days)
                  for c in report.categories}
    assert categories == {'water_pump': (2, 60, 3, '1.52', Decimal('20.0')), 'lift': (1, 30, 0, '0.00', None)}
    assert report.failures == 3
    two = _run(in_tenant, world, equipment.compute, ReportFilter(*NOV, world.buildings['2']))
    assert [d.code for d in two.devices] == ['P2']
    october = _run(in_tenant, world, equipment.compute, ReportFilter(date(2026, 10, 1), date(2026, 10, 31)))
    assert october.failures == 0 and {d.code: d.days for d in october.devices} == {'P1': 31, 'P2': 31, 'L1': 31}
