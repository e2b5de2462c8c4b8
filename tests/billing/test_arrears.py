"""Arrears (欠费): open bills past due with a balance, per room / building / project, by age; the .xlsx export.

The helpers here (``make_bill``, ``pay``) are used by test_dunning.py and test_arrears_pages.py too. Bills are
inserted directly with the due dates a test needs, on the estate of tests/billing/test_runs.py.
"""
from __future__ import annotations

import io
from datetime import date, timedelta
from itertools import count

import pytest
import sqlalchemy as sa

from propsaas.billing import arrears
from propsaas.billing.models import Bill, Payment, PaymentAllocation
from propsaas.residents.models import Resident
from tests.billing.test_runs import build_estate
from tests.helpers import count_queries

TODAY = date(2026, 12, 1)
_numbers = count(1)


@pytest.fixture
def estate(make_tenant, make_user, in_tenant):
    return lambda name='收费小区': build_estate(make_tenant, make_user, in_tenant, name)


def make_bill(in_tenant, e, room: str, due_on: date, total_fen: int, *, status: str = 'unpaid',
              payer: bool = True, period: str | None = None) -> int:
    with in_tenant(e.tenant) as session:
        bill = Bill(number=f'ZD-T{next(_numbers):06d}', room_id=e.rooms[room],
                    payer_resident_id=e.residents[room] if payer else None,
                    period=period or f'{due_on.year}-{due_on.month:02d}', issued_on=due_on - timedelta(days=20),
                    due_on=due_on, status=status, total_fen=total_fen)
        session.add(bill)
        session.flush()
        return bill.id


def pay(in_tenant, e, bill_id: int, amount_fen: int) -> None:
    """A payment allocated to one bill, inserted as the payments module would (status 'partial')."""
    with in_tenant(e.tenant) as session:
        bill = session.get(Bill, bill_id)
        payment = Payment(number=f'SJ-T{next(_numbers):06d}', method='cash', amount_fen=amount_fen,
                          room_id=bill.room_id)
        session.add(payment)
        session.flush()
        session.add(PaymentAllocation(payment_id=payment.id, bill_id=bill_id, amount_fen=amount_fen))
        bill.status = 'paid' if amount_fen >= bill.total_fen else 'partial'


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


def test_buckets_on_their_boundaries(estate, in_tenant):
    e = estate()
    for days, fen in ((0, 1), (1, 10), (30, 100), (31, 1000), (90, 10000), (91, 100000), (180, 1000000),
                      (181, 10000000)):
        make_bill(in_tenant, e, '1-1-101', ago(days), fen)
    with in_tenant(e.tenant):
        totals = arrears.project_totals(TODAY)
    # due today is not overdue yet
    assert totals.buckets == {'d30': 110, 'd90': 11000, 'd180': 1100000, 'over180': 10000000}
    assert totals.total_fen == 11111110 and totals.bills == 7 and totals.rooms == 1
    assert [arrears.bucket_of(d) for d in (0, 30, 31, 90, 91, 180, 181)] == [
        'd30', 'd30', 'd90', 'd90', 'd180', 'd180', 'over180']


def test_partly_paid_bill_counts_its_balance_and_paid_void_ones_nothing(estate, in_tenant):
    e = estate()
    partial = make_bill(in_tenant, e, '1-1-101', ago(10), 30000)
    pay(in_tenant, e, partial, 12000)
    paid = make_bill(in_tenant, e, '1-1-102', ago(10), 5000)
    pay(in_tenant, e, paid, 5000)
    make_bill(in_tenant, e, '1-1-102', ago(10), 7000, status='void')
    # a bill still marked unpaid although its allocations cover it owes nothing
    covered = make_bill(in_tenant, e, '2-1-201', ago(40), 4000)
    with in_tenant(e.tenant) as session:
        session.add(PaymentAllocation(payment_id=session.execute(sa.select(Payment.id).limit(1)).scalar_one(),
                                      bill_id=covered, amount_fen=4000))
    with in_tenant(e.tenant):
        rows = arrears.room_page(TODAY).items
        assert [(r.place, r.total_fen, r.buckets['d30']) for r in rows] == [('1栋1单元101', 18000, 18000)]


def test_per_room_building_and_project_sorted_by_total(estate, in_tenant):
    e = estate()
    make_bill(in_tenant, e, '1-1-101', ago(10), 10000)
    make_bill(in_tenant, e, '1-1-101', ago(100), 5000)
    make_bill(in_tenant, e, '1-1-102', ago(200), 40000)
    make_bill(in_tenant, e, '2-1-201', ago(5), 2000)
    make_bill(in_tenant, e, '1-1-103', TODAY + timedelta(days=3), 9999)  # not due yet
    with in_tenant(e.tenant):
        page = arrears.room_page(TODAY)
        assert [(r.place, r.total_fen) for r in page.items] == [
            ('1栋1单元102', 40000), ('1栋1单元101', 15000), ('2栋1单元201', 2000)]
        first, second = page.items[0], page.items[1]
        assert first.payer_name == '李邻居' and first.buckets['over180'] == 40000 and first.days_overdue == 200
        assert second.oldest_due_on == ago(100) and second.bills == 2 and second.masked_mobile == '138****1234'
        assert second.buckets == {'d30': 10000, 'd90': 0, 'd180': 5000, 'over180': 0}
        one = arrears.room_page(TODAY, building_id=e.buildings['2'])
        assert [r.place for r in one.items] == ['2栋1单元201'] and one.total == 1
        buildings = arrears.building_totals(TODAY)
        assert [(b.name, b.total_fen, b.rooms) for b in buildings] == [('1栋', 55000, 2), ('2栋', 2000, 1)]
        assert arrears.project_totals(TODAY).total_fen == 57000
        assert arrears.project_totals(TODAY, building_id=e.buildings['1']).total_fen == 55000


def test_constant_statements_whatever_the_number_of_rooms(app, estate, in_tenant):
    e = estate()
    make_bill(in_tenant, e, '1-1-101', ago(10), 100)
    with in_tenant(e.tenant), count_queries(app) as few:
        arrears.room_page(TODAY)
    for room in ('1-1-102', '1-1-103', '1-1-104', '1-1-105', '2-1-201'):
        make_bill(in_tenant, e, room, ago(50), 100)
        make_bill(in_tenant, e, room, ago(150), 100)
    with in_tenant(e.tenant), count_queries(app) as more:
        page = arrears.room_page(TODAY)
    assert len(page.items) == 6
    assert len(few) == len(more) <= 5


def test_export_opens_and_neutralises_formulas(estate, in_tenant):
    from openpyxl import load_workbook

    e = estate()
    make_bill(in_tenant, e, '1-1-101', ago(10), 25660)
    make_bill(in_tenant, e, '1-1-102', ago(95), 1005)
    with in_tenant(e.tenant) as session:
        session.execute(sa.update(Resident).where(Resident.id == e.residents['1-1-102']).values(name='=cmd'))
    with in_tenant(e.tenant):
        data = arrears.export_xlsx(TODAY, project_name='收费小区')
    sheet = load_workbook(io.BytesIO(data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert '欠费清单' in rows[0][0]
    assert rows[1][0] == '房屋' and rows[1][-1] == '欠费合计（元）'
    first = rows[2]
    assert first[0] == '1栋1单元101' and first[2] == '138****1234' and first[-1] == pytest.approx(256.60)
    second = rows[3]
    assert second[1] == "'=cmd" and second[8] == pytest.approx(10.05)
    assert rows[-1][0] == '合计' and rows[-1][-1] == pytest.approx(266.65)
    assert sheet.cell(row=3, column=11).number_format == '0.00'
    assert b'13800001234' not in data
