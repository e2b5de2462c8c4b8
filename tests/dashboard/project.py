"""A project with known data for the dashboard tests (now = 15 Jun 2026 10:00 Shanghai; trend 2025-07 … 2026-06).

Billing (rooms of tests/repairs/estate.py; payments, refunds and reversals through billing.payments):

    June bills (due 30 Jun): b1 1-1-101 100.00, b2 1-1-102 200.00, b3 2-1-101 300.00, b4 2-1-102 50.00 void
    P1  2 Jun  100.00 → b1 (paid)
    P2  3 Jun  250.00 → b2 200.00, 50.00 prepaid; refunded 50.00 on 10 Jun
    P3  4 Jun  300.00 → b3; reversed (冲正) on 12 Jun: b3 owes again
    older bills: a1 1-1-102 due 31 May 80.00 (15 days overdue → 0-30)
                 a4 1-1-101 due 30 Apr 30.00, paid 10 Apr (P4), P4 reversed on 12 Jun (46 days → 31-90)
                 a2 2-1-101 due 28 Feb 120.00, 20.00 paid 5 Mar (107 days → 91-180: 100.00)
                 a3 2-1-102 due 30 Jun 2025 70.00, 5.00 paid 30 Jun 2025 23:50 (outside the trend),
                    10.00 paid 1 Jul 2025 00:10 local (16:10 UTC on 30 Jun: a July payment) (350 days → 180+: 55.00)

    → receivable 600.00 (3 bills), received 100 + 200 + 0 = 300.00, 收缴率 50.0 %
    → arrears 80 + 30 + 100 + 55 = 265.00
    → revenue 2025-07 10.00, 2026-03 20.00, 2026-04 30 − 30 (its reversal) = 0, 2026-06 100 + 250 − 50 + 300 − 300
      = 300.00, every other month 0

Repairs (水暖 plumbing, 电路 electrical):

    O5 20 Jun 2025 2-1-102 电路, start +1h, complete +2h, confirmed ★5 on 2 Jul 2025 (created outside the window,
       rated inside it)
    O4  1 Apr 1-1-101 水暖, start +2h, complete +5h, confirmed ★2 on 1 May
    O3 10 May 1-1-101 水暖, start +1h, complete +3h, reopened +5h, start +6h, complete +9h, confirmed ★4 +10h
    O1  1 Jun 1-1-101 水暖, submitted (respond_by passed: overdue)
    O7  5 Jun 水泵房 水暖 (device P1), start +1h, complete +2h (待确认)
    O6 10 Jun 1-1-102 电路, start +3h (维修中, resolve_by passed: overdue)
    O2 15 Jun 09:50 2-1-101 电路, assigned (deadlines tomorrow)

    → open 3 (O1, O2, O6), overdue 2 (O1, O6)
    → response (first start) O4 7200, O3 3600, O7 3600, O6 10800: average 6300 s, median 5400 s
    → resolution (last completion) O4 18000, O3 32400, O7 7200: average 19200 s, median 18000 s
    → orders per month 2026-04 1, 2026-05 1, 2026-06 4; ratings 2025-07 one (5), 2026-05 two (2, 4: 3.00);
      3 ratings in the window, average 3.67
    → hot spot 1-1-101 水暖 (O4, O3, O1 within 90 days)

Inspections: daily plan over P1 and nothing else; tasks 1-4 Jun: 3 done, 1 missed; 15 Jun not due yet → 75.0 %.
Devices P1, P2 in the ledger since January: 15 days each this month, 1 failure (O7): 1 × 30.4375 / 30 = 1.01.

Announcements: A1 published 1 Jun to 4 residents, 3 read; A2 published 1 May (more than 30 days ago) 2 unread;
A3 published 5 Jun and withdrawn, 2 read → 3 / 4 = 75.0 %.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import count
from types import SimpleNamespace

from propsaas.auth.models import User
from propsaas.billing import payments
from propsaas.billing.models import Bill, Payment
from propsaas.inspections.models import Device, InspectionPlan, InspectionTask
from propsaas.notices.models import Announcement, Message
from propsaas.property.models import Room
from propsaas.repairs import orders
from propsaas.repairs.models import WorkOrder
from propsaas.residents.models import Resident
from tests.repairs.estate import build_estate

NOW = datetime(2026, 6, 15, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
_numbers = count(1)


def local(y, m, d, hh=10, mm=0) -> datetime:
    """A Shanghai wall-clock time as aware UTC."""
    return datetime(y, m, d, hh, mm, tzinfo=UTC) - timedelta(hours=8)


def bill(session, e, room: str, period: str, due_on: date, total_fen: int, status: str = 'unpaid') -> Bill:
    row = Bill(number=f'ZD-D{next(_numbers):06d}', room_id=e.rooms[room], period=period,
               issued_on=due_on - timedelta(days=20), due_on=due_on, status=status, total_fen=total_fen)
    session.add(row)
    session.flush()
    return row


def pay(session, e, room: str, fen: int, at: datetime, *bills: Bill) -> Payment:
    return payments.record_payment(session.get(Room, e.rooms[room]), fen, 'cash', paid_at=at,
                                   bill_ids=[b.id for b in bills])


def build(make_tenant, make_user, in_tenant, monkeypatch, name: str = '看板小区') -> SimpleNamespace:
    e = build_estate(make_tenant, make_user, in_tenant, name)
    h, m = (lambda n: timedelta(hours=n)), (lambda n: timedelta(minutes=n))
    with in_tenant(e.tenant) as session:
        admin = session.get(User, e.admin)
        # --- billing
        b1 = bill(session, e, '1-1-101', '2026-06', date(2026, 6, 30), 10000)
        b2 = bill(session, e, '1-1-102', '2026-06', date(2026, 6, 30), 20000)
        b3 = bill(session, e, '2-1-101', '2026-06', date(2026, 6, 30), 30000)
        bill(session, e, '2-1-102', '2026-06', date(2026, 6, 30), 5000, status='void')
        a1 = bill(session, e, '1-1-102', '2026-05', date(2026, 5, 31), 8000)
        a4 = bill(session, e, '1-1-101', '2026-04', date(2026, 4, 30), 3000)
        a2 = bill(session, e, '2-1-101', '2026-02', date(2026, 2, 28), 12000)
        a3 = bill(session, e, '2-1-102', '2025-06', date(2025, 6, 30), 7000)
        assert a1.id
        pay(session, e, '2-1-102', 500, local(2025, 6, 30, 23, 50), a3)
        pay(session, e, '2-1-102', 1000, local(2025, 7, 1, 0, 10), a3)
        pay(session, e, '2-1-101', 2000, local(2026, 3, 5), a2)
        p4 = pay(session, e, '1-1-101', 3000, local(2026, 4, 10), a4)
        pay(session, e, '1-1-101', 10000, local(2026, 6, 2), b1)
        p2 = pay(session, e, '1-1-102', 25000, local(2026, 6, 3), b2)
        p3 = pay(session, e, '2-1-101', 30000, local(2026, 6, 4), b3)
        real_utcnow = payments.utcnow
        monkeypatch.setattr(payments, 'utcnow', lambda: local(2026, 6, 10))
        payments.refund(p2, 5000, '多交退回')
        monkeypatch.setattr(payments, 'utcnow', lambda: local(2026, 6, 12))
        payments.reverse(p3, '录错房号')
        payments.reverse(p4, '重复录入')
        monkeypatch.setattr(payments, 'utcnow', real_utcnow)

        # --- repairs
        def submit(at, category, *, room=None, area=None):
            return orders.submit(category_id=e.categories[category], description='需要维修', by_user=admin,
                                 room_id=e.rooms[room] if room else None, public_area=area, channel='phone', now=at)

        at = local(2025, 6, 20)
        o5 = submit(at, 'electrical', room='2-1-102')
        orders.assign(o5, e.tech, by_user=admin, now=at + m(10))
        orders.start(o5, by_user=admin, now=at + h(1))
        orders.complete(o5, by_user=admin, note='修好了', now=at + h(2))
        orders.confirm(o5, by_user=admin, rating=5, now=local(2025, 7, 2))
        at = local(2026, 4, 1)
        o4 = submit(at, 'plumbing', room='1-1-101')
        orders.assign(o4, e.tech, by_user=admin, now=at + m(10))
        orders.start(o4, by_user=admin, now=at + h(2))
        orders.complete(o4, by_user=admin, note='修好了', now=at + h(5))
        orders.confirm(o4, by_user=admin, rating=2, now=local(2026, 5, 1))
        at = local(2026, 5, 10)
        o3 = submit(at, 'plumbing', room='1-1-101')
        orders.assign(o3, e.tech, by_user=admin, now=at + m(10))
        orders.start(o3, by_user=admin, now=at + h(1))
        orders.complete(o3, by_user=admin, note='修好了', now=at + h(3))
        orders.reopen(o3, by_user=admin, reason='还在漏', now=at + h(5))
        orders.start(o3, by_user=admin, now=at + h(6))
        orders.complete(o3, by_user=admin, note='再修', now=at + h(9))
        orders.confirm(o3, by_user=admin, rating=4, now=at + h(10))
        o1 = submit(local(2026, 6, 1), 'plumbing', room='1-1-101')
        at = local(2026, 6, 5)
        o7 = submit(at, 'plumbing', area='水泵房')
        orders.assign(o7, e.tech, by_user=admin, now=at + m(10))
        orders.start(o7, by_user=admin, now=at + h(1))
        orders.complete(o7, by_user=admin, note='换了密封圈', now=at + h(2))
        at = local(2026, 6, 10)
        o6 = submit(at, 'electrical', room='1-1-102')
        orders.assign(o6, e.tech, by_user=admin, now=at + m(10))
        orders.start(o6, by_user=admin, now=at + h(3))
        at = local(2026, 6, 15, 9, 50)
        o2 = submit(at, 'electrical', room='2-1-101')
        orders.assign(o2, e.tech, by_user=admin, now=at + m(5))
        # deadlines pinned, whatever the delivery template's response times
        o1.respond_by, o1.resolve_by = NOW - h(1), NOW + h(24)
        o6.respond_by, o6.resolve_by = NOW - h(100), NOW - h(1)
        o2.respond_by, o2.resolve_by = NOW + h(24), NOW + h(48)

        # --- inspections
        p1 = Device(code='P1', name='1号泵', category='water_pump', created_at=datetime(2026, 1, 1, tzinfo=UTC))
        p2 = Device(code='P2', name='2号泵', category='water_pump', created_at=datetime(2026, 1, 1, tzinfo=UTC))
        plan = InspectionPlan(code='pump', name='水泵巡检', target='pump_room', starts_on=date(2026, 6, 1),
                              frequency={'kind': 'daily'}, checklist=[{'label': '正常', 'kind': 'check'}],
                              points=[], duty='technician')
        session.add_all([p1, p2, plan])
        session.flush()
        o7.device_id = p1.id
        for day in (1, 2, 3, 4, 15):
            start = local(2026, 6, day, 0)
            status = 'missed' if day == 4 else 'open' if day == 15 else 'done'
            task = InspectionTask(plan_id=plan.id, device_id=p1.id, target_key=p1.id, period_start=start,
                                  due_at=start + timedelta(days=1), status=status, results=[{'ok': True}])
            if status == 'done':
                task.completed_by_id, task.completed_at = e.tech, start + h(3)
            session.add(task)

        # --- announcements
        people = []
        for n in range(4):
            resident = Resident(name=f'住户{n}', mobile=f'1380000100{n}')
            session.add(resident)
            people.append(resident)
        session.flush()
        for title, published, status, read in (('停水通知', local(2026, 6, 1), 'published', (True, True, True, False)),
                                               ('五月通知', local(2026, 5, 1), 'published', (False, False)),
                                               ('撤回的', local(2026, 6, 5), 'withdrawn', (True, True))):
            notice = Announcement(title=title, category='通知', status=status, published_at=published,
                                  body_html='<p>通知</p>')
            session.add(notice)
            session.flush()
            for resident, was_read in zip(people, read, strict=False):
                session.add(Message(resident_id=resident.id, source_key=notice.source_key,
                                    announcement_id=notice.id, title=title,
                                    read_at=published + h(2) if was_read else None))
        session.flush()
        e.orders = {'O1': o1.id, 'O2': o2.id, 'O3': o3.id, 'O4': o4.id, 'O5': o5.id, 'O6': o6.id, 'O7': o7.id}
        e.bills = {'b1': b1.id, 'b2': b2.id, 'b3': b3.id}
        assert session.get(WorkOrder, o3.id).reopen_count == 1
        session.commit()
    return e
