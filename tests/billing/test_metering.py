"""Meter readings (抄表), metered charges and shared utilities (水电公摊): the service, on plain outcomes."""
from __future__ import annotations

import random
from decimal import Decimal
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from propsaas.billing import metering
from propsaas.billing.models import Bill, BillingRule, BillLine, FeeItem, MeterReading
from propsaas.errors import DomainError
from propsaas.property.models import Building, Room, Unit
from tests.helpers import count_queries

#: 3 buildings × 1 unit × floors 1-6, room x01 on each floor: the rooms of samples/meter_readings.xlsx
AREAS = {1: Decimal('89.50'), 2: Decimal('120.00'), 3: Decimal('65.25')}


def build_meter_estate(make_tenant, make_user, in_tenant, name='抄表小区') -> SimpleNamespace:
    tenant = make_tenant(name=name)
    rooms = {}
    with in_tenant(tenant) as session:
        for b in (1, 2, 3):
            building = Building(name=f'{b}栋', has_lift=True)
            unit = Unit(building=building, name='1单元')
            session.add_all([building, unit])
            for floor in range(1, 7):
                code = f'{b}-1-{floor}01'
                room = Room(building=building, unit=unit, number=f'{floor}01', code=code, floor=floor,
                            area_m2=AREAS[b], status='occupied')
                session.add(room)
                session.flush()
                rooms[code] = room.id
        water = FeeItem(code='water', name='水费', charging='meter', meter='water', rate='4.00')
        shared = FeeItem(code='shared_water_t', name='公共水费分摊', charging='meter', meter='water', rate='4.00',
                         shared=True, split_by='area')
        session.add_all([water, shared])
        session.flush()
        items = {'water': water.id, 'shared': shared.id}
    return SimpleNamespace(
        tenant=tenant, rooms=rooms, items=items,
        admin=make_user(tenant, 'admin'), cashier=make_user(tenant, 'staff', duties=['cashier']),
        tech=make_user(tenant, 'staff', duties=['technician']),
        desk=make_user(tenant, 'staff', duties=['service_desk']),
        resident=make_user(tenant, 'resident'))


@pytest.fixture
def meter_estate(make_tenant, make_user, in_tenant):
    return lambda name='抄表小区': build_meter_estate(make_tenant, make_user, in_tenant, name)


def _rooms(session, ids):
    return list(session.execute(sa.select(Room).where(Room.id.in_(ids))).scalars())


def test_a_lower_reading_is_refused_unless_the_meter_was_replaced(meter_estate, in_tenant):
    e = meter_estate()
    room = e.rooms['1-1-201']
    with in_tenant(e.tenant):
        metering.record_reading('water', room, '2026-09', '500.0')
    with in_tenant(e.tenant):
        with pytest.raises(DomainError) as refused:
            metering.record_reading('water', room, '2026-10', '480')
        assert '500' in str(refused.value.message) and '低于上期读数' in str(refused.value.message)
    with in_tenant(e.tenant) as session:
        assert session.execute(sa.select(sa.func.count(MeterReading.id)).where(
            MeterReading.period == '2026-10')).scalar() == 0
        metering.record_reading('water', room, '2026-10', '12.5', replaced=True)
    with in_tenant(e.tenant):
        assert metering.usage('water', [room], '2026-10') == {room: Decimal('12.5')}


def test_readings_are_exact_decimals_and_bad_ones_refused(meter_estate, in_tenant):
    e = meter_estate()
    room = e.rooms['1-1-101']
    with in_tenant(e.tenant):
        for bad in ('-1', 'abc', '1.2345', '', '1e3', 'NaN'):
            with pytest.raises(DomainError):
                metering.record_reading('water', room, '2026-10', bad)
        with pytest.raises(DomainError):
            metering.record_reading('water', room, '2026-13', '1')
        row = metering.record_reading('water', room, '2026年9月', '１,234.500')
        assert row.period == '2026-09' and row.reading == '1234.5'


def test_the_same_period_is_corrected_until_a_bill_line_used_it(meter_estate, in_tenant):
    e = meter_estate()
    room = e.rooms['1-1-101']
    with in_tenant(e.tenant):
        metering.record_reading('water', room, '2026-09', '100')
        metering.record_reading('water', room, '2026-10', '130')
    with in_tenant(e.tenant) as session:
        metering.record_reading('water', room, '2026-10', '124.2')
        assert session.execute(sa.select(sa.func.count(MeterReading.id))).scalar() == 2
        assert metering.usage('water', [room], '2026-10') == {room: Decimal('24.2')}
        bill = Bill(number='ZD-T-1', room_id=room, period='2026-10', issued_on=metering.month_start('2026-10'),
                    due_on=metering.month_start('2026-11'))
        session.add(bill)
        session.flush()
        session.add(BillLine(bill_id=bill.id, fee_item_id=e.items['water'], subject=f'room:{room}',
                             period='2026-10', description='水费', amount_fen=9680))
    with in_tenant(e.tenant):
        with pytest.raises(DomainError) as refused:
            metering.record_reading('water', room, '2026-10', '125')
        assert '已用于出账' in str(refused.value.message)
        # the previous month's reading is the basis of the same line: locked too
        with pytest.raises(DomainError):
            metering.record_reading('water', room, '2026-09', '101')
    with in_tenant(e.tenant) as session:
        session.execute(sa.update(BillLine).values(voided=True))
    with in_tenant(e.tenant):
        assert metering.record_reading('water', room, '2026-10', '125').reading == '125'


def test_a_reading_higher_than_a_later_one_is_refused(meter_estate, in_tenant):
    e = meter_estate()
    room = e.rooms['1-1-101']
    with in_tenant(e.tenant):
        metering.record_reading('water', room, '2026-11', '200')
        with pytest.raises(DomainError):
            metering.record_reading('water', room, '2026-10', '250')
        metering.record_reading('water', room, '2026-10', '150')


def test_metered_charge_is_usage_times_rate_with_its_basis(meter_estate, in_tenant):
    e = meter_estate()
    a, b, c, exempt = (e.rooms[k] for k in ('1-1-101', '1-1-201', '1-1-301', '1-1-401'))
    with in_tenant(e.tenant) as session:
        for room, before, now in ((a, '100', '124.2'), (b, '10.5', '13.555'), (exempt, '1', '9')):
            metering.record_reading('water', room, '2026-09', before)
            metering.record_reading('water', room, '2026-10', now)
        metering.record_reading('water', c, '2026-10', '50')  # no earlier reading: left out
        session.add(BillingRule(fee_item_id=e.items['water'], scope='room', room_id=b, rate='4.5',
                                effective_from=metering.month_start('2026-01')))
        session.add(BillingRule(fee_item_id=e.items['water'], scope='room', room_id=exempt, exempt=True,
                                effective_from=metering.month_start('2026-01')))
    with in_tenant(e.tenant) as session:
        item = session.get(FeeItem, e.items['water'])
        charges = metering.meter_charges(item, _rooms(session, [a, b, c, exempt]), '2026-10')
        assert set(charges) == {a, b}
        assert charges[a].amount_fen == 9680
        assert charges[a].basis['formula'] == '24.2 吨 × 4.00 元/吨 = 96.80 元'
        assert charges[a].basis | {} == {**charges[a].basis, 'meter': 'water', 'previous': '100', 'current': '124.2',
                                         'usage': '24.2', 'rate': '4.00', 'rule_id': None, 'scope': 'item'}
        # 3.055 × 4.50 = 13.7475 yuan -> rounded once, half up: 1375 fen
        assert charges[b].amount_fen == 1375 and charges[b].basis['rate'] == '4.50'
        assert charges[b].basis['scope'] == 'room' and charges[b].basis['rule_id'] is not None
        assert charges[a].description == '水费 2026-10'


def _read_shared(session, e, master_before, master_now, subs):
    metering.record_reading('water', None, '2026-09', master_before)
    metering.record_reading('water', None, '2026-10', master_now)
    for code, (before, now) in subs.items():
        metering.record_reading('water', e.rooms[code], '2026-09', before)
        metering.record_reading('water', e.rooms[code], '2026-10', now)


def test_shared_total_is_master_minus_sub_meters_split_by_area(meter_estate, in_tenant):
    e = meter_estate()
    with in_tenant(e.tenant) as session:
        # master 1000 -> 1300 (300 t); sub-meters 20 + 30.5 = 50.5 t; shared 249.5 t × 4.00 = 998.00 yuan
        _read_shared(session, e, '1000', '1300', {'1-1-101': ('0', '20'), '2-1-101': ('10', '40.5')})
    with in_tenant(e.tenant) as session:
        item = session.get(FeeItem, e.items['shared'])
        rooms = _rooms(session, list(e.rooms.values()))
        result = metering.shared_split(item, rooms, '2026-10')
        assert result.master.usage == 300 and result.sub_total == Decimal('50.5')
        assert result.shared_usage == Decimal('249.5') and result.total_fen == 99800
        assert result.formula == '(300 吨 − 50.5 吨) × 4.00 元/吨 = 998.00 元'
        charges = metering.meter_charges(item, rooms, '2026-10')
        assert sum(c.amount_fen for c in charges.values()) == 99800
        # 6 rooms each of 89.50, 120.00, 65.25 m²: total 1648.50 m²
        basis = charges[e.rooms['2-1-101']].basis
        assert basis['weight'] == '120.00' and basis['total_weight'] == '1648.50' and basis['sub_total'] == '50.5'
        assert basis['master_usage'] == '300' and basis['total_fen'] == 99800 and basis['split_by'] == 'area'
        assert '按面积 120.00 ㎡ / 1648.50 ㎡ 分摊' in basis['formula']
        exact = Decimal(99800) * 120 / Decimal('1648.50')
        assert abs(charges[e.rooms['2-1-101']].amount_fen - exact) < 1


def test_shared_split_sums_exactly_and_ignores_room_order(meter_estate, in_tenant):
    e = meter_estate()
    with in_tenant(e.tenant) as session:
        _read_shared(session, e, '0', '777.777', {'3-1-601': ('5', '6.001')})
    rng = random.Random(20261031)
    with in_tenant(e.tenant) as session:
        item = session.get(FeeItem, e.items['shared'])
        all_rooms = _rooms(session, list(e.rooms.values()))
        for split_by in ('area', 'household'):
            item.split_by = split_by
            for _ in range(8):
                chosen = rng.sample(all_rooms, rng.randint(1, len(all_rooms)))
                charges = metering.meter_charges(item, chosen, '2026-10')
                total = metering.shared_split(item, chosen, '2026-10').total_fen
                assert total == metering.round_fen(Decimal('776.776') * 4)
                assert sum(c.amount_fen for c in charges.values()) == total
                shuffled = chosen[:]
                rng.shuffle(shuffled)
                again = metering.meter_charges(item, shuffled, '2026-10')
                assert {k: v.amount_fen for k, v in again.items()} == {k: v.amount_fen for k, v in charges.items()}
        session.rollback()


def test_negative_shared_usage_is_refused(meter_estate, in_tenant):
    e = meter_estate()
    with in_tenant(e.tenant) as session:
        _read_shared(session, e, '100', '110', {'1-1-101': ('0', '8'), '1-1-201': ('0', '4')})
    with in_tenant(e.tenant) as session:
        item = session.get(FeeItem, e.items['shared'])
        with pytest.raises(DomainError) as refused:
            metering.meter_charges(item, _rooms(session, list(e.rooms.values())), '2026-10')
        assert '公摊用量为负' in str(refused.value.message)


def test_shared_without_master_reading_or_area_is_refused(meter_estate, in_tenant):
    e = meter_estate()
    with in_tenant(e.tenant) as session:
        item = session.get(FeeItem, e.items['shared'])
        rooms = _rooms(session, list(e.rooms.values()))
        with pytest.raises(DomainError):
            metering.meter_charges(item, rooms, '2026-10')
        _read_shared(session, e, '100', '110', {})
        rooms[0].area_m2 = None
        with pytest.raises(DomainError) as refused:
            metering.meter_charges(item, rooms, '2026-10')
        assert rooms[0].code in str(refused.value.message)
        session.rollback()


def test_usage_over_many_rooms_takes_constant_statements(app, meter_estate, in_tenant):
    e = meter_estate()
    with in_tenant(e.tenant) as session:
        building = Building(name='9栋')
        unit = Unit(building=building, name='1单元')
        session.add_all([building, unit])
        rooms = [Room(building=building, unit=unit, number=str(n), code=f'9-1-{n}', area_m2=Decimal('50'))
                 for n in range(1, 601)]
        session.add_all(rooms)
        session.flush()
        ids = [room.id for room in rooms]
        session.add_all([MeterReading(meter='water', room_id=i, period=p, reading=r)
                         for i in ids for p, r in (('2026-09', '10'), ('2026-10', '12.5'))])
    with in_tenant(e.tenant):
        with count_queries(app) as few:
            small = metering.usage('water', ids[:5], '2026-10')
        with count_queries(app) as many:
            large = metering.usage('water', ids, '2026-10')
    assert len(small) == 5 and len(large) == 600 and set(large.values()) == {Decimal('2.5')}
    assert len(many) == len(few) == 1


def test_another_tenants_readings_count_for_nothing(meter_estate, in_tenant):
    a, b = meter_estate('甲小区'), meter_estate('乙小区')
    with in_tenant(a.tenant) as session:
        _read_shared(session, a, '0', '100', {'1-1-101': ('0', '10')})
    with in_tenant(b.tenant) as session:
        _read_shared(session, b, '0', '50', {})
        assert metering.usage('water', [a.rooms['1-1-101'], None], '2026-10') == {None: Decimal('50')}
        item = session.get(FeeItem, b.items['shared'])
        assert metering.shared_split(item, _rooms(session, list(b.rooms.values())), '2026-10').sub_total == 0
