"""Billing rules (计费规则): the narrowest scope wins, a rule applies from its month on, duplicates and another
project's targets are refused, and a rule a bill used is never deleted."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from propsaas.billing import rule_admin
from propsaas.billing.models import Bill, BillingRule, BillLine, FeeItem
from propsaas.errors import DomainError
from propsaas.property.models import Room
from tests.helpers import count_queries
from tests.renovations.estate import build_estate


def fee_estate(make_tenant, make_user, in_tenant, name='计费小区'):
    """The renovation estate (1-1-101, 1-1-102 in 1栋; 2-1-201 in 2栋), with areas, 2-1-201 a shop (底商)."""
    e = build_estate(make_tenant, make_user, in_tenant, name)
    with in_tenant(e.tenant) as session:
        for code, area, kind in (('1-1-101', '89.50', 'residence'), ('1-1-102', '100.00', 'residence'),
                                 ('2-1-201', '50.00', 'shop')):
            room = session.get(Room, e.rooms[code])
            room.area_m2, room.type = Decimal(area), kind
        e.units = {code: session.get(Room, rid).unit_id for code, rid in e.rooms.items()}
        e.items = {item.code: item.id for item in session.execute(sa.select(FeeItem)).scalars()}
    return e


@pytest.fixture
def estate(make_tenant, make_user, in_tenant):
    return lambda name='计费小区': fee_estate(make_tenant, make_user, in_tenant, name)


def add(session, e, scope='tenant', month='2026-01', code='service_fee_lift', **kwargs):
    item = session.get(FeeItem, e.items[code])
    return rule_admin.add_rule(item, scope=scope, effective_month=month, **kwargs).id


def rate_of(session, e, room_code, period, code='service_fee_lift'):
    room = rule_admin.find_room(room_code)
    line = next(line for line in rule_admin.price_check(room, period) if line.item.code == code)
    return ('exempt' if line.price.exempt else str(line.price.rate)), line.price.scope


def test_shops_4_50_the_rest_2_35_room_1_1_101_exempt(estate, in_tenant):
    e = estate()
    with in_tenant(e.tenant) as session:
        assert rate_of(session, e, '1-1-102', '2026-03') == ('1.8', 'item')  # the template's rate
        add(session, e, rate='2.35')
        add(session, e, 'room_type', room_type='shop', rate='4.50')
        add(session, e, 'room', room='1-1-101', exempt=True, note='合同约定免收')
    with in_tenant(e.tenant) as session:
        assert rate_of(session, e, '1-1-102', '2026-03') == ('2.35', 'tenant')
        assert rate_of(session, e, '2-1-201', '2026-03') == ('4.5', 'room_type')
        assert rate_of(session, e, '1-1-101', '2026-03') == ('exempt', 'room')
        line = next(x for x in rule_admin.price_check(rule_admin.find_room('1-1-102'), '2026-03')
                    if x.item.code == 'service_fee_lift')
        assert line.monthly_fen == 23500 and line.applies  # 100 ㎡ × 2.35
        no_lift = next(x for x in rule_admin.price_check(rule_admin.find_room('1-1-102'), '2026-03')
                       if x.item.code == 'service_fee_no_lift')
        assert not no_lift.applies


def test_room_beats_unit_beats_building_beats_room_type_beats_project(estate, in_tenant):
    e = estate()
    steps = [('tenant', {}, '2.35', '2.35'), ('room_type', {'room_type': 'shop'}, '4.50', '4.5'),
             ('building', {'building_id': e.buildings['2']}, '3.00', '3'),
             ('unit', {'unit_id': e.units['2-1-201']}, '3.10', '3.1'),
             ('room', {'room_id': e.rooms['2-1-201']}, '3.20', '3.2')]
    for scope, target, rate, expected in steps:
        with in_tenant(e.tenant) as session:
            add(session, e, scope, rate=rate, **target)
        with in_tenant(e.tenant) as session:
            assert rate_of(session, e, '2-1-201', '2026-06') == (expected, scope)
            # the other building's rooms keep the project's rate
            assert rate_of(session, e, '1-1-102', '2026-06') == ('2.35', 'tenant')


def test_a_rule_from_2027_01_leaves_2026_12_alone(estate, in_tenant):
    e = estate()
    with in_tenant(e.tenant) as session:
        add(session, e, month='2026-01', rate='2.35')
        add(session, e, month='2027-01', rate='2.60')
    with in_tenant(e.tenant) as session:
        assert rate_of(session, e, '1-1-102', '2025-12') == ('1.8', 'item')
        assert rate_of(session, e, '1-1-102', '2026-12') == ('2.35', 'tenant')
        assert rate_of(session, e, '1-1-102', '2027-01') == ('2.6', 'tenant')
        rule = session.execute(sa.select(BillingRule).where(BillingRule.rate == '2.6')).scalar_one()
        assert rule.effective_from == date(2027, 1, 1)


def test_duplicates_and_bad_values_are_refused_in_chinese(estate, in_tenant):
    e = estate()
    with in_tenant(e.tenant) as session:
        add(session, e, 'building', building_id=e.buildings['1'], rate='2.00')
    cases = [
        (dict(scope='building', building_id=e.buildings['1'], rate='2.10'), 'effective_from', '已有一条规则'),
        (dict(scope='room', room='9-9-999', rate='2.10'), 'room', '找不到这个房号'),
        (dict(scope='room_type', room_type='castle', rate='2.10'), 'room_type', '房屋类型'),
        (dict(scope='tenant', exempt=True), 'note', '免收须写明原因'),
        (dict(scope='tenant', rate='2.10', exempt=True, note='x'), 'rate', '请选择一种'),
        (dict(scope='tenant', rate='abc'), 'rate', '单价'),
        (dict(scope='tenant', month='2026-13', rate='2.10'), 'effective_from', '年-月'),
        (dict(scope='tenant', amount='10.00'), 'amount', '单价'),
        (dict(scope='unit', unit_id=2**40, rate='2.10'), 'unit_id', '找不到这个单元'),
    ]
    for kwargs, field, words in cases:
        with in_tenant(e.tenant) as session:
            with pytest.raises(DomainError) as caught:
                add(session, e, **kwargs)
            assert caught.value.field == field, kwargs
            assert words in str(caught.value.message), kwargs
            session.rollback()
    with in_tenant(e.tenant) as session:
        assert session.execute(sa.select(sa.func.count(BillingRule.id))).scalar() == 1
        # a fixed item takes an amount, not a rate
        assert add(session, e, code='parking_fee', amount='80.00')
        assert session.execute(sa.select(BillingRule.amount_fen).where(BillingRule.amount_fen.is_not(None))).scalar() \
            == 8000


def test_another_projects_building_is_not_a_target(estate, in_tenant):
    a, b = estate('甲小区'), estate('乙小区')
    with in_tenant(b.tenant) as session:
        for scope, target, field in (('building', {'building_id': a.buildings['1']}, 'building_id'),
                                     ('unit', {'unit_id': a.units['1-1-101']}, 'unit_id'),
                                     ('room', {'room_id': a.rooms['1-1-101']}, 'room')):
            with pytest.raises(DomainError) as caught:
                add(session, b, scope, rate='2.00', **target)
            assert caught.value.field == field
        session.rollback()
    with in_tenant(b.tenant) as session:
        assert session.execute(sa.select(sa.func.count(BillingRule.id))).scalar() == 0


def _bill_line(session, e, rule_id, code='service_fee_lift'):
    bill = Bill(number=f'ZD202603-{rule_id:06d}', room_id=e.rooms['1-1-102'], period='2026-03',
                issued_on=date(2026, 3, 1), due_on=date(2026, 3, 31), total_fen=23500)
    session.add(bill)
    session.flush()
    session.add(BillLine(bill_id=bill.id, fee_item_id=e.items[code], subject=f'room:{e.rooms["1-1-102"]}',
                         period='2026-03', description='物业服务费', amount_fen=23500,
                         basis={'rule_id': rule_id, 'scope': 'tenant', 'rate': '2.35'}))


def test_a_rule_a_bill_used_is_not_deleted(estate, in_tenant):
    e = estate()
    with in_tenant(e.tenant) as session:
        used, unused = add(session, e, rate='2.35'), add(session, e, month='2027-01', rate='2.60')
        _bill_line(session, e, used)
    with in_tenant(e.tenant) as session:
        with pytest.raises(DomainError) as caught:
            rule_admin.delete_rule(session.get(BillingRule, used))
        assert '另加一条' in str(caught.value.message)
        session.rollback()
    with in_tenant(e.tenant) as session:
        rule_admin.delete_rule(session.get(BillingRule, unused))
    with in_tenant(e.tenant) as session:
        assert session.execute(sa.select(BillingRule.id)).scalars().all() == [used]


def test_price_check_loads_rules_in_one_statement(app, estate, in_tenant):
    e = estate()
    with in_tenant(e.tenant) as session:
        for month in ('2026-01', '2026-02', '2026-03'):
            add(session, e, month=month, rate='2.35')
            add(session, e, 'room', month=month, room='1-1-101', exempt=True, note='免收')
    with in_tenant(e.tenant):
        room = rule_admin.find_room('1-1-101')
        with count_queries(app) as statements:
            lines = rule_admin.price_check(room, '2026-03')
        assert len(lines) == 6
        assert sum('billing_rules' in s for s in statements) == 1
        assert len(statements) <= 3
