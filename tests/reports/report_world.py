"""One project with known data for every report (local times, Asia/Shanghai; now = 20 Dec 2026 12:00).

Buildings 1栋 (rooms 1-1-101 … 1-1-105) and 2栋 (2-1-201), from tests/billing/test_runs.py's estate.

Bills (period, room, lines in id order):
    B1 2026-11 1-1-101  物业费 20000, 滞纳金 500, 车位 6000            = 26500
    B2 2026-11 1-1-102  物业费 21150 (+ a waived 滞纳金 300)           = 21150
    B3 2026-11 2-1-201  无电梯物业费 6000                               =  6000
    B4 2026-12 1-1-101  物业费 20000                                    = 20000
    B5 2026-11 1-1-103  物业费 9999, void
    October 2026: none.

Payments (who records: 甲 or 乙, cashiers; online: nobody):
    P1 11-05 09:30 cash 甲   1-1-101  22000 → B1
    P2 11-06 10:00 bank 乙   1-1-102  21150 → B2 (payer '=HYPERLINK("x")')
    P3 11-06 11:00 cash 甲   2-1-201   6000 → B3, reversed R3 11-07 15:00 by 甲 (B3 unpaid again)
    P4 11-07 16:00 wechat    1-1-101   3000 → B1 (now 25000 of 26500: 物业费 20000, 车位 5000, 滞纳金 0 — the
                                             late fee is settled last although its line comes before 车位)
    P5 11-07 17:00 cash 乙   1-1-102  10000 → prepaid, refund F5 3000 11-08 09:00 by 乙
    P6 12-01 00:10 cash 甲   1-1-101   5000 → B4 (UTC: 30 Nov 16:10 — a December payment by local day)

Work orders (W4 was submitted in October and completed in November; the device failures have no building):
    W1 11-02 10:00 1-1-101 水暖  start +1h, complete +5h, confirmed ★5
    W2 11-10 10:00 2-1-201 电路  start +2h, complete +10h, reopen +20h, start +30h, complete +48h, confirmed ★3
    W3 11-20 10:00 1栋 '=cmd' 水暖  submitted
    W4 10-31 23:00 1-1-102 电路  start +1h, complete +2h
    F1, F2 11-03 / 11-15 水泵房 水暖 on device P1; F3 11-16 on P1, cancelled; F4 11-25 on P2

Inspections (plan 水泵巡检 daily on P1 (1栋) and P2 (2栋); plan 夜间巡逻, no device, assigned to 王师傅):
    P1 11-01, 11-02 done on time by 李师傅; 11-03 done late by 王师傅; 11-04 missed
    P2 11-01 done on time by 王师傅; 11-02 open (past due)
    巡逻 11-05 done by 王师傅; 11-06 missed
    P1 12-20 open, not due yet (due 12-21)

Devices: P1 water_pump 1栋, P2 water_pump 2栋, L1 lift 1栋 (all in the ledger since 1 Oct), R1 retired.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import sqlalchemy as sa

from propsaas.auth.models import User
from propsaas.billing import payments
from propsaas.billing.models import Bill, BillLine, FeeItem, Payment
from propsaas.inspections.models import Device, InspectionPlan, InspectionTask
from propsaas.property.models import Room
from propsaas.repairs import orders
from propsaas.repairs.models import RepairCategory
from tests.billing.test_runs import build_estate

NOW = datetime(2026, 12, 20, 4, tzinfo=UTC)


def local(m, d, hh=10, mm=0, y=2026) -> datetime:
    """A Shanghai wall-clock time as aware UTC."""
    return datetime(y, m, d, hh, mm, tzinfo=UTC) - timedelta(hours=8)


def build_world(make_tenant, make_user, in_tenant, name: str = '报表小区') -> SimpleNamespace:
    e = build_estate(make_tenant, make_user, in_tenant, name)
    e.cashier_b = make_user(e.tenant, 'staff', duties=['cashier'], name='收银员乙')
    e.tech = make_user(e.tenant, 'staff', duties=['technician'], name='李师傅')
    e.wang = make_user(e.tenant, 'staff', duties=['technician'], name='王师傅')
    e.plain = make_user(e.tenant, 'staff', duties=[], name='保洁')
    with in_tenant(e.tenant) as session:
        session.get(User, e.cashier).name = '收银员甲'
        late = FeeItem(code='late_fee_r', name='滞纳金', charging='late_fee', sort_order=9)
        session.add(late)
        session.flush()
        e.items['late'] = late.id
        e.bills = {}

        def bill(key, room, period, lines, *, status='unpaid', waived=()):
            due = date(int(period[:4]), int(period[5:]), 28)
            row = Bill(number=f'ZD-R{key}', room_id=e.rooms[room], payer_resident_id=e.residents[room], period=period,
                       issued_on=due - timedelta(days=20), due_on=due, status=status,
                       total_fen=sum(fen for _item, fen in lines))
            session.add(row)
            session.flush()
            for item, fen in [*lines, *waived]:
                session.add(BillLine(bill_id=row.id, fee_item_id=e.items[item], subject=f'room:{e.rooms[room]}',
                                     period=period, description=item, amount_fen=fen,
                                     waived_at=NOW if (item, fen) in waived else None))
            session.flush()
            e.bills[key] = row.id

        bill('B1', '1-1-101', '2026-11', [('lift', 20000), ('late', 500), ('parking', 6000)])
        bill('B2', '1-1-102', '2026-11', [('lift', 21150)], waived=[('late', 300)])
        bill('B3', '2-1-201', '2026-11', [('nolift', 6000)])
        bill('B4', '1-1-101', '2026-12', [('lift', 20000)])
        bill('B5', '1-1-103', '2026-11', [('lift', 9999)], status='void')

        def room(code):
            return session.get(Room, e.rooms[code])

        p1 = payments.record_payment(room('1-1-101'), 22000, 'cash', paid_at=local(11, 5, 9, 30),
                                     bill_ids=[e.bills['B1']], by_user_id=e.cashier)
        p2 = payments.record_payment(room('1-1-102'), 21150, 'bank_transfer', paid_at=local(11, 6, 10),
                                     payer_name='=HYPERLINK("x")', by_user_id=e.cashier_b)
        p3 = payments.record_payment(room('2-1-201'), 6000, 'cash', paid_at=local(11, 6, 11), by_user_id=e.cashier)
        r3 = payments.reverse(p3, '金额录错', by_user_id=e.cashier)
        r3.paid_at = local(11, 7, 15)
        p4 = payments.record_online_payment(room('1-1-101'), 3000, 'wechat', provider_txn_id='WX-R-1',
                                            bill_ids=[e.bills['B1']], paid_at=local(11, 7, 16))
        p5 = payments.record_payment(room('1-1-102'), 10000, 'cash', paid_at=local(11, 7, 17),
                                     by_user_id=e.cashier_b)
        f5 = payments.refund(p5, 3000, '多交退回', by_user_id=e.cashier_b)
        f5.paid_at = local(11, 8, 9)
        p6 = payments.record_payment(room('1-1-101'), 5000, 'cash', paid_at=local(12, 1, 0, 10),
                                     bill_ids=[e.bills['B4']], by_user_id=e.cashier)
        session.flush()
        e.payments = {key: row.number for key, row in
                      (('P1', p1), ('P2', p2), ('P3', p3), ('R3', r3), ('P4', p4), ('P5', p5), ('F5', f5),
                       ('P6', p6))}

        # work orders
        admin = session.get(User, e.admin)
        categories = dict(session.execute(sa.select(RepairCategory.code, RepairCategory.id)).all())
        e.orders = {}

        def order(key, at, category, *, room_code=None, area=None, building=None, steps=()):
            row = orders.submit(category_id=categories[category], description='需要维修', by_user=admin,
                                room_id=e.rooms[room_code] if room_code else None, public_area=area,
                                building_id=e.buildings[building] if building else None, channel='phone', now=at)
            for action, hours, *extra in steps:
                when = at + timedelta(hours=hours)
                if action == 'assign':
                    orders.assign(row, e.tech, by_user=admin, now=when)
                elif action == 'start':
                    orders.start(row, by_user=admin, now=when)
                elif action == 'complete':
                    orders.complete(row, by_user=admin, note='修好了', now=when)
                elif action == 'reopen':
                    orders.reopen(row, by_user=admin, reason='还坏着', now=when)
                elif action == 'confirm':
                    orders.confirm(row, by_user=admin, rating=extra[0], now=when)
                elif action == 'cancel':
                    orders.cancel(row, by_user=admin, reason='误报', now=when)
            e.orders[key] = row
            return row

        order('W1', local(11, 2), 'plumbing', room_code='1-1-101',
              steps=[('assign', 0.1), ('start', 1), ('complete', 5), ('confirm', 6, 5)])
        order('W2', local(11, 10), 'electrical', room_code='2-1-201',
              steps=[('assign', 0.1), ('start', 2), ('complete', 10), ('reopen', 20), ('start', 30), ('complete', 48),
                     ('confirm', 50, 3)])
        order('W3', local(11, 20), 'plumbing', area='=cmd', building='1')
        order('W4', local(10, 31, 23), 'electrical', room_code='1-1-102',
              steps=[('assign', 0.1), ('start', 1), ('complete', 2)])

        # devices and inspections
        entered = datetime(2026, 10, 1, tzinfo=UTC) - timedelta(hours=8)
        devices = {
            'P1': Device(code='P1', name='1号泵', category='water_pump', building_id=e.buildings['1'],
                         created_at=entered),
            'P2': Device(code='P2', name='2号泵', category='water_pump', building_id=e.buildings['2'],
                         created_at=entered),
            'L1': Device(code='L1', name='1号梯', category='lift', building_id=e.buildings['1'], created_at=entered),
            'R1': Device(code='R1', name='旧泵', category='water_pump', status='retired', created_at=entered),
        }
        session.add_all(devices.values())
        session.flush()
        e.devices = {key: device.id for key, device in devices.items()}
        for key, day, device, cancel in (('F1', 3, 'P1', False), ('F2', 15, 'P1', False), ('F3', 16, 'P1', True),
                                         ('F4', 25, 'P2', False)):
            row = order(key, local(11, day, 9), 'plumbing', area='水泵房',
                        steps=[('cancel', 1)] if cancel else ())
            row.device_id = e.devices[device]
        pump = InspectionPlan(code='pump_r', name='水泵巡检', target='pump_room', starts_on=date(2026, 11, 1),
                              frequency={'kind': 'daily'}, checklist=[{'label': '正常', 'kind': 'check'}], points=[],
                              duty='technician')
        patrol = InspectionPlan(code='patrol_r', name='夜间巡逻', target='patrol', starts_on=date(2026, 11, 1),
                                frequency={'kind': 'daily'}, checklist=[{'label': '正常', 'kind': 'check'}],
                                points=['1号岗'], duty='technician', assignee_id=e.wang)
        session.add_all([pump, patrol])
        session.flush()

        def task(plan, m, d, device=None, status='open', by=None, late=False):
            start = local(m, d, 0)
            due = start + timedelta(days=1)
            row = InspectionTask(plan_id=plan.id, device_id=e.devices[device] if device else None,
                                 target_key=e.devices[device] if device else 0, period_start=start, due_at=due,
                                 status=status, assignee_id=plan.assignee_id, results=[{'ok': True}])
            if status == 'done':
                row.completed_by_id = by
                row.completed_at = due + timedelta(hours=2) if late else start + timedelta(hours=3)
            session.add(row)

        task(pump, 11, 1, 'P1', 'done', e.tech)
        task(pump, 11, 2, 'P1', 'done', e.tech)
        task(pump, 11, 3, 'P1', 'done', e.wang, late=True)
        task(pump, 11, 4, 'P1', 'missed')
        task(pump, 11, 1, 'P2', 'done', e.wang)
        task(pump, 11, 2, 'P2', 'open')
        task(patrol, 11, 5, None, 'done', e.wang)
        task(patrol, 11, 6, None, 'missed')
        task(pump, 12, 20, 'P1', 'open')
        session.flush()
        e.orders = {key: row.id for key, row in e.orders.items()}
        e.reversed_p3 = session.execute(sa.select(Payment.id).where(Payment.number == e.payments['P3'])).scalar_one()
    return e
