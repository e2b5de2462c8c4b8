"""Bill runs (出账): arithmetic and basis, rule precedence, cycles, skips, vacancy, idempotent re-runs, void, numbers.

The estate (also used by test_bill_pages.py and test_bills_api.py):

    room      building     area    billing starts  payer            note
    1-1-101   1栋 (lift)   89.50   2025-01-01      王业主 (portal)   parking space B1-001
    1-1-102   1栋 (lift)   120.00  2025-01-01      李邻居 (portal)
    1-1-103   1栋 (lift)   -       2025-01-01      owner            no area
    1-1-104   1栋 (lift)   100.00  -               owner            not handed over
    1-1-105   1栋 (lift)   100.00  2026-03-15      owner            handed over mid-March
    2-1-201   2栋 (none)   60.00   2025-01-01      owner            status vacant (the owner lives elsewhere)

Fee items (the template's are switched off): property fee with lift 2.35/m²/month, without lift 1.00, parking 60.00
per space per month, rubbish 180.00 per quarter for every room.
"""
from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from propsaas.auth import services as auth_services
from propsaas.auth.models import User
from propsaas.billing import numbering, runs
from propsaas.billing.models import Bill, BillingRule, BillLine, BillRun, FeeItem
from propsaas.jobs.models import JobRecord
from propsaas.property.models import Building, ParkingSpace, Room, Unit
from propsaas.residents.models import Occupancy, Resident
from propsaas.tenancy.models import Tenant

ROOMS = {  # code: (building, area, billing_starts_on, status)
    '1-1-101': ('1', '89.50', date(2025, 1, 1), 'occupied'),
    '1-1-102': ('1', '120.00', date(2025, 1, 1), 'occupied'),
    '1-1-103': ('1', None, date(2025, 1, 1), 'occupied'),
    '1-1-104': ('1', '100.00', None, 'vacant'),
    '1-1-105': ('1', '100.00', date(2026, 3, 15), 'occupied'),
    '2-1-201': ('2', '60.00', date(2025, 1, 1), 'vacant'),
}


def build_estate(make_tenant, make_user, in_tenant, name: str = '收费小区') -> SimpleNamespace:
    from decimal import Decimal

    tenant = make_tenant(name=name)
    e = SimpleNamespace(tenant=tenant, rooms={}, buildings={}, items={}, residents={})
    e.admin = make_user(tenant, 'admin')
    e.cashier = make_user(tenant, 'staff', duties=['cashier'])
    e.desk = make_user(tenant, 'staff', duties=['service_desk'])
    e.owner_user = make_user(tenant, 'resident', name='业主王')
    e.neighbour_user = make_user(tenant, 'resident', name='邻居李')
    with in_tenant(tenant) as session:
        session.execute(sa.update(FeeItem).values(active=False))
        units = {}
        for key, lift in (('1', True), ('2', False)):
            building = Building(name=f'{key}栋', has_lift=lift)
            unit = Unit(building=building, name='1单元')
            session.add_all([building, unit])
            session.flush()
            e.buildings[key], units[key] = building.id, unit.id
        for code, (b, area, starts, status) in ROOMS.items():
            room = Room(building_id=e.buildings[b], unit_id=units[b], number=code.split('-')[-1], code=code,
                        floor=int(code[-3]), area_m2=Decimal(area) if area else None, billing_starts_on=starts,
                        status=status)
            session.add(room)
            session.flush()
            e.rooms[code] = room.id
        people = {'1-1-101': ('王业主', e.owner_user, '13800001234'), '1-1-102': ('李邻居', e.neighbour_user, None)}
        for code in ROOMS:
            person, user_id, mobile = people.get(code, (f'业主{code}', None, None))
            resident = Resident(name=person, user_id=user_id, mobile=mobile)
            session.add(resident)
            session.flush()
            session.add(Occupancy(resident_id=resident.id, room_id=e.rooms[code], role='owner',
                                  moved_in_on=date(2025, 1, 1)))
            e.residents[code] = resident.id
        space = ParkingSpace(code='B1-001', room_id=e.rooms['1-1-101'])
        session.add(space)
        for key, item in {
            'lift': FeeItem(code='pf_lift', name='物业费（电梯）', charging='area', rate='2.35',
                            applies_to='room_with_lift', sort_order=1),
            'nolift': FeeItem(code='pf_nolift', name='物业费（无电梯）', charging='area', rate='1.00',
                              applies_to='room_without_lift', sort_order=2),
            'parking': FeeItem(code='parking', name='车位管理费', charging='fixed', amount_fen=6000,
                               applies_to='parking_space', sort_order=3),
            'rubbish': FeeItem(code='rubbish_q', name='生活垃圾清运费', charging='fixed', amount_fen=18000,
                               cycle='quarter', applies_to='room', sort_order=4),
        }.items():
            session.add(item)
            session.flush()
            e.items[key] = item.id
        session.flush()
        e.space = space.id
    return e


@pytest.fixture
def estate(make_tenant, make_user, in_tenant):
    """estate(name=...) -> SimpleNamespace (see the module docstring)."""
    return lambda name='收费小区': build_estate(make_tenant, make_user, in_tenant, name)


def tenant_of(session, e) -> Tenant:
    return session.get(Tenant, e.tenant.id)


def run_period(in_tenant, e, period: str, **kwargs) -> int:
    """Start a run (the job runs inline: no Redis in tests); returns its id."""
    kwargs.setdefault('due_on', date(int(period[:4]), int(period[5:]), 28))
    with in_tenant(e.tenant) as session:
        run = runs.start_run(tenant_of(session, e), period, **kwargs)
        return run.id


def lines_of(in_tenant, e, period: str | None = None) -> dict:
    """{(room code or space, item key): (amount_fen, basis)} of live lines."""
    codes = {v: k for k, v in e.rooms.items()}
    items = {v: k for k, v in e.items.items()}
    with in_tenant(e.tenant) as session:
        query = sa.select(BillLine).where(BillLine.voided.is_(False))
        if period:
            query = query.where(BillLine.period == period)
        out = {}
        for line in session.execute(query).scalars():
            kind, ident = line.subject.split(':')
            subject = codes[int(ident)] if kind == 'room' else 'B1-001'
            key = (subject, items.get(line.fee_item_id, line.fee_item_id))
            assert key not in out
            out[key] = (line.amount_fen, line.basis)
        return out


# --- pure arithmetic ---------------------------------------------------------------------------------------------

def test_area_charge_rounds_once_half_up_and_says_how():
    from decimal import Decimal

    from propsaas.billing.rules import Price

    item = FeeItem(code='x', name='物业费', charging='area', rate='2.35')
    charge = runs.area_charge(item, Price(None, 'item', Decimal('2.35'), None), Decimal('89.50'), 1, '2026-12')
    assert charge.amount_fen == 21033  # 210.325 -> 210.33
    assert charge.basis['formula'] == '89.50 ㎡ × 2.35 元/㎡·月 × 1 月 = 210.33 元'
    assert charge.basis['area_m2'] == '89.50' and charge.basis['rate'] == '2.35' and charge.basis['months'] == 1
    assert charge.description == '物业费 2026-12'
    quarter = runs.area_charge(item, Price(7, 'room', Decimal('1.8'), None), Decimal('100'), 3, '2026-01')
    assert quarter.amount_fen == 54000 and quarter.basis['rule_id'] == 7 and quarter.basis['scope'] == 'room'
    assert quarter.basis['formula'] == '100.00 ㎡ × 1.80 元/㎡·月 × 3 月 = 540.00 元'


def test_cycles_and_months():
    month, quarter, year = (FeeItem(cycle=c) for c in ('month', 'quarter', 'year'))
    assert [runs.billed_months(quarter, f'2026-{m:02d}') for m in range(1, 13)] == [3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0]
    assert runs.billed_months(year, '2026-01') == 12 and runs.billed_months(year, '2026-02') == 0
    assert runs.billed_months(month, '2026-07') == 1
    assert runs.add_months(date(2025, 8, 31), 6) == date(2026, 2, 28)
    for bad in ('2026-13', '2026-1', '26-01', '', None, '2026-01-01'):
        with pytest.raises(runs.DomainError):
            runs.parse_period(bad)


# --- runs ----------------------------------------------------------------------------------------------------

def test_a_run_bills_each_room_once_with_its_basis_and_skips_with_reasons(app, estate, in_tenant):
    e = estate()
    run_id = run_period(in_tenant, e, '2026-02')
    lines = lines_of(in_tenant, e)
    assert lines[('1-1-101', 'lift')][0] == 21033
    assert lines[('1-1-101', 'lift')][1]['formula'] == '89.50 ㎡ × 2.35 元/㎡·月 × 1 月 = 210.33 元'
    assert lines[('1-1-102', 'lift')][0] == 28200
    assert lines[('2-1-201', 'nolift')][0] == 6000  # 60.00 × 1.00, no lift
    assert lines[('B1-001', 'parking')][0] == 6000
    assert ('2-1-201', 'lift') not in lines and ('1-1-101', 'nolift') not in lines
    assert not any(item == 'rubbish' for _, item in lines)  # quarterly: not in February
    assert not any(code in ('1-1-103', '1-1-104', '1-1-105') for code, _ in lines)
    with in_tenant(e.tenant) as session:
        run = session.get(BillRun, run_id)
        assert run.status == 'done' and run.bill_count == 4  # 101, 102, 201, B1-001
        assert run.total_fen == 21033 + 28200 + 6000 + 6000
        reasons = {s['label']: s['reason'] for s in run.summary['skipped']}
        assert reasons == {'1-1-103': 'no_area', '1-1-104': 'not_handed_over', '1-1-105': 'not_started'}
        assert run.summary['items']['pf_lift'] == {'fee_item_id': e.items['lift'], 'name': '物业费（电梯）',
                                                   'lines': 2, 'fen': 49233}
        record = session.get(JobRecord, run.job_id)
        assert record.status == 'done' and record.progress == 100
        space_bill = session.execute(sa.select(Bill).where(Bill.parking_space_id == e.space)).scalar_one()
        assert space_bill.room_id == e.rooms['1-1-101'] and space_bill.payer_resident_id == e.residents['1-1-101']
        assert space_bill.due_on == date(2026, 2, 28) and space_bill.status == 'unpaid'


def test_handed_over_mid_month_pays_from_the_next_month_and_quarterly_items_in_quarter_months(app, estate, in_tenant):
    e = estate()
    run_period(in_tenant, e, '2026-04')
    lines = lines_of(in_tenant, e)
    assert lines[('1-1-105', 'lift')][0] == 23500  # handed over 2026-03-15: billed from April
    assert lines[('1-1-105', 'rubbish')][0] == 18000  # one quarter's amount
    assert lines[('1-1-101', 'rubbish')][1]['formula'] == '180.00 元/季 × 1 = 180.00 元'
    assert lines[('1-1-101', 'rubbish')][1]['months'] == 3
    assert ('B1-001', 'rubbish') not in lines  # rooms only
    assert ('1-1-103', 'rubbish') in lines  # no area: only the area item is left out


def test_rule_precedence_in_a_run(app, estate, in_tenant):
    e = estate()
    with in_tenant(e.tenant) as session:
        item = e.items['lift']
        session.add_all([
            BillingRule(fee_item_id=item, scope='tenant', rate='2.00', effective_from=date(2025, 1, 1)),
            BillingRule(fee_item_id=item, scope='building', building_id=e.buildings['1'], rate='2.50',
                        effective_from=date(2025, 1, 1)),
            BillingRule(fee_item_id=item, scope='building', building_id=e.buildings['1'], rate='3.00',
                        effective_from=date(2026, 6, 1)),  # later: not yet in March
            BillingRule(fee_item_id=item, scope='room', room_id=e.rooms['1-1-102'], exempt=True,
                        effective_from=date(2025, 1, 1)),
        ])
        session.flush()
        building_rule = session.execute(sa.select(BillingRule.id).where(BillingRule.rate == '2.50')).scalar_one()
    run_period(in_tenant, e, '2026-03')
    lines = lines_of(in_tenant, e)
    amount, basis = lines[('1-1-101', 'lift')]
    assert amount == 22375 and basis['rule_id'] == building_rule and basis['scope'] == 'building'  # 89.5 × 2.50
    assert ('1-1-102', 'lift') not in lines  # exempt
    run_period(in_tenant, e, '2026-06')
    assert lines_of(in_tenant, e, '2026-06')[('1-1-101', 'lift')][0] == 26850  # 89.5 × 3.00 from June


def test_vacancy_discount(app, estate, in_tenant):
    e = estate()
    with in_tenant(e.tenant) as session:
        tenant = tenant_of(session, e)
        tenant.settings = {**tenant.settings, 'rules': {**tenant.settings.get('rules', {}),
                                                        'vacancy_discount_enabled': True, 'vacancy_months': 6,
                                                        'vacancy_rate': '0.60'}}
    run_period(in_tenant, e, '2025-06')  # vacant since handover 2025-01-01: 5 months, not yet
    assert lines_of(in_tenant, e, '2025-06')[('2-1-201', 'nolift')][0] == 6000
    run_period(in_tenant, e, '2025-07')
    amount, basis = lines_of(in_tenant, e, '2025-07')[('2-1-201', 'nolift')]
    assert amount == 3600 and basis['vacancy_rate'] == '0.60'
    assert basis['formula'] == '60.00 ㎡ × 1.00 元/㎡·月 × 1 月 × 60%（空置） = 36.00 元'
    assert lines_of(in_tenant, e, '2025-07')[('1-1-101', 'lift')][0] == 21033  # occupied: full


def test_rerun_doubles_nothing_and_adds_what_is_missing(app, estate, in_tenant):
    e = estate()
    first = run_period(in_tenant, e, '2026-02', fee_item_ids=[e.items['lift']])
    assert set(lines_of(in_tenant, e)) == {('1-1-101', 'lift'), ('1-1-102', 'lift')}
    again = run_period(in_tenant, e, '2026-02')
    lines = lines_of(in_tenant, e)  # asserts one live line per key
    assert set(lines) == {('1-1-101', 'lift'), ('1-1-102', 'lift'), ('2-1-201', 'nolift'), ('B1-001', 'parking')}
    third = run_period(in_tenant, e, '2026-02')
    with in_tenant(e.tenant) as session:
        counts = {r.id: r.bill_count for r in session.execute(sa.select(BillRun)).scalars()}
        assert counts == {first: 2, again: 2, third: 0}
        assert session.get(BillRun, third).summary['existing'] == 4
        assert session.execute(sa.select(sa.func.count(BillLine.id))).scalar_one() == 4


def test_void_then_rerun_bills_again(app, estate, in_tenant, make_user):
    e = estate()
    run_id = run_period(in_tenant, e, '2026-02')
    with in_tenant(e.tenant) as session:
        paid = session.execute(sa.select(Bill).where(Bill.room_id == e.rooms['1-1-102'])).scalar_one()
        paid.status = 'paid'  # as a payment would
        with pytest.raises(runs.DomainError):
            runs.void_run(session.get(BillRun, run_id), '  ')
    with in_tenant(e.tenant) as session:
        assert runs.void_run(session.get(BillRun, run_id), '单价录错') == 3
    with in_tenant(e.tenant) as session:
        run = session.get(BillRun, run_id)
        assert run.status == 'voided' and run.void_reason == '单价录错' and run.voided_at is not None
        bills = session.execute(sa.select(Bill)).scalars().all()
        assert len(bills) == 4  # nothing deleted
        assert {b.status for b in bills} == {'void', 'paid'}
        assert all(b.void_reason == '单价录错' for b in bills if b.status == 'void')
        with pytest.raises(runs.DomainError):
            runs.void_run(run, '又一次')
    assert set(lines_of(in_tenant, e)) == {('1-1-102', 'lift')}
    again = run_period(in_tenant, e, '2026-02')
    assert set(lines_of(in_tenant, e)) == {('1-1-101', 'lift'), ('1-1-102', 'lift'), ('2-1-201', 'nolift'),
                                           ('B1-001', 'parking')}
    with in_tenant(e.tenant) as session:
        assert session.get(BillRun, again).bill_count == 3


def test_bill_numbers_are_unique_and_sequential_per_tenant(app, estate, in_tenant):
    e, other = estate(), estate('另一个小区')
    run_period(in_tenant, e, '2026-02', fee_item_ids=[e.items['lift']])
    run_period(in_tenant, e, '2026-03')
    run_period(in_tenant, other, '2026-03')
    with in_tenant(e.tenant) as session:
        numbers = session.execute(sa.select(Bill.number).order_by(Bill.id)).scalars().all()
    assert numbers == ['ZD202602-000001', 'ZD202602-000002', 'ZD202603-000003', 'ZD202603-000004',
                       'ZD202603-000005', 'ZD202603-000006']
    with in_tenant(other.tenant) as session:
        assert session.execute(sa.select(Bill.number).order_by(Bill.id)).scalars().first() == 'ZD202603-000001'
        assert list(numbering.allocate('bill', 3)) == [5, 6, 7]
        assert numbering.bill_number('2026-12', 1234567) == 'ZD202612-1234567'


def test_preview_writes_nothing_and_counts_constant_statements(app, estate, in_tenant):
    from tests.helpers import count_queries

    e = estate()
    with in_tenant(e.tenant) as session:
        tenant = tenant_of(session, e)
        with count_queries(app) as small:
            summary = runs.preview(tenant, '2026-04')
    assert summary['bills'] == 6 and summary['lines'] == 10  # 101,102,103,105,201 + the space
    assert summary['items']['rubbish_q']['lines'] == 5 and summary['items']['rubbish_q']['fen'] == 90000
    assert summary['skipped_counts'] == {'no_area': 1, 'not_handed_over': 1}
    with in_tenant(e.tenant) as session:
        assert session.execute(sa.select(sa.func.count(Bill.id))).scalar_one() == 0
        assert session.execute(sa.select(sa.func.count(BillRun.id))).scalar_one() == 0
        # twenty more rooms with owners: the same number of statements
        building = e.buildings['1']
        unit = session.execute(sa.select(Unit.id).where(Unit.building_id == building)).scalar()
        from decimal import Decimal
        for n in range(20):
            room = Room(building_id=building, unit_id=unit, number=f'9{n:02d}', code=f'1-1-9{n:02d}', floor=9,
                        area_m2=Decimal('70.00'), billing_starts_on=date(2025, 1, 1))
            resident = Resident(name=f'业主{n}')
            session.add_all([room, resident])
            session.flush()
            session.add(Occupancy(room_id=room.id, resident_id=resident.id, role='owner'))
    with in_tenant(e.tenant) as session:
        tenant = tenant_of(session, e)
        with count_queries(app) as big:
            assert runs.preview(tenant, '2026-04')['bills'] == 26
    assert len(big) == len(small)


def test_start_run_refuses_bad_input(app, estate, in_tenant):
    e = estate()
    with in_tenant(e.tenant) as session:
        tenant = tenant_of(session, e)
        for kwargs, field in ((dict(period='2026-13', due_on=date(2026, 12, 1)), 'period'),
                              (dict(period='2026-02', due_on=date(2025, 1, 1)), 'due_on'),
                              (dict(period='2026-02', due_on=date(2026, 2, 20), building_id=999999), 'building_id'),
                              (dict(period='2026-02', due_on=date(2026, 2, 20), fee_item_ids=[999999]),
                               'fee_item_ids')):
            period = kwargs.pop('period')
            with pytest.raises(runs.DomainError) as info:
                runs.start_run(tenant, period, **kwargs)
            assert info.value.field == field
        assert session.execute(sa.select(sa.func.count(BillRun.id))).scalar_one() == 0


def test_notify_payers_when_asked(app, estate, in_tenant):
    from propsaas.notices.models import Message

    e = estate()
    run_period(in_tenant, e, '2026-02', notify=True, fee_item_ids=[e.items['lift']])
    with in_tenant(e.tenant) as session:
        messages = session.execute(sa.select(Message)).scalars().all()
        bill = session.execute(sa.select(Bill).where(Bill.room_id == e.rooms['1-1-101'])).scalar_one()
        mine = [m for m in messages if m.resident_id == e.residents['1-1-101']]
        assert len(mine) == 1 and mine[0].source_key == f'bill:{bill.id}:issued'
        assert '210.33' in mine[0].body and mine[0].link == f'/my/bills/{bill.id}'


def test_two_tenants_never_mix(app, estate, in_tenant):
    a, b = estate(), estate('乙小区')
    run_period(in_tenant, a, '2026-02')
    with in_tenant(b.tenant) as session:
        assert session.execute(sa.select(sa.func.count(Bill.id))).scalar_one() == 0
        assert runs.preview(tenant_of(session, b), '2026-02')['bills'] == 4


def api_token(in_tenant, e, user_id: int) -> dict:
    with in_tenant(e.tenant) as session:
        raw, _ = auth_services.issue_api_token(session.get(User, user_id))
    return {'Authorization': f'Bearer {raw}'}
