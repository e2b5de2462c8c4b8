"""Fee items (收费项目): provisioned from each standard template, created and edited with the template's checks,
deactivated rather than deleted once a bill used them."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from propsaas.billing import fee_items as services
from propsaas.billing.models import Bill, BillingRule, BillLine, FeeItem
from propsaas.errors import DomainError


@pytest.mark.parametrize('template, expected', [
    ('standard-residential', {
        'service_fee_lift': ('area', '1.8', None, 'month', True, 'room_with_lift'),
        'service_fee_no_lift': ('area', '1', None, 'month', True, 'room_without_lift'),
        'parking_fee': ('fixed', None, 6000, 'month', True, 'parking_space'),
        'shared_electricity': ('meter', '0.6', None, 'month', True, 'room'),
        'shared_water': ('meter', '4', None, 'month', True, 'room'),
        'renovation_waste': ('fixed', None, 30000, 'month', False, 'room'),
    }),
    ('office-building', {
        'service_fee': ('area', '6', None, 'month', True, 'room'),
        'ac_energy': ('meter', '0.9', None, 'month', True, 'room'),
        'electricity': ('meter', '1', None, 'month', True, 'room'),
        'parking_fee': ('fixed', None, 6000, 'month', True, 'parking_space'),
        'shared_electricity': ('meter', '0.8', None, 'month', True, 'room'),
        'shared_water': ('meter', '5', None, 'month', True, 'room'),
        'fitout_management': ('fixed', None, 100000, 'month', False, 'room'),
    }),
])
def test_a_new_tenant_has_its_templates_fee_items(make_tenant, in_tenant, template, expected):
    tenant = make_tenant(template=template)
    with in_tenant(tenant) as session:
        items = session.execute(services.list_query()).scalars().all()
        # the template's items in its order, then the project's late-fee item (滞纳金, billing.late_fees)
        assert [item.code for item in items] == [*expected, 'late_fee']
        late_fee = items.pop()
        assert (late_fee.charging, late_fee.name, late_fee.recurring) == ('late_fee', '滞纳金', False)
        for item in items:
            assert (item.charging, item.rate, item.amount_fen, item.cycle, item.recurring, item.applies_to) \
                == expected[item.code], item.code
            assert item.active and item.name
        shared = next(item for item in items if item.code == 'shared_water')
        assert shared.meter == 'water' and shared.shared and shared.split_by == 'area'
        assert shared.note == '每年公示上一年度分摊明细'
        assert [item.sort_order for item in items] == list(range(1, len(items) + 1))


def test_create_edit_and_deactivate(make_tenant, in_tenant):
    tenant = make_tenant()
    with in_tenant(tenant):
        item = services.create_fee_item(code='lift_fee', name='电梯运行费', charging='area', rate='0.30',
                                        applies_to='room_with_lift', amount_fen=500, meter='water')
        assert item.rate == '0.3' and item.amount_fen is None and item.meter is None  # unused fields cleared
        assert item.sort_order == 8  # after the template's six and the late-fee item
        services.update_fee_item(item, charging='fixed', amount_fen=2000, cycle='quarter')
        assert (item.charging, item.rate, item.amount_fen, item.cycle) == ('fixed', None, 2000, 'quarter')
        services.deactivate_fee_item(item)
        assert not item.active
        assert 'lift_fee' not in [i.code for i in services.active_items()]


@pytest.mark.parametrize('changes, field, words', [
    ({'code': 'Service-Fee'}, 'code', '小写英文字母'),
    ({'code': ''}, 'code', '项目代码'),
    ({'code': 'parking_fee'}, 'code', '已被使用'),
    ({'name': '  '}, 'name', '名称'),
    ({'charging': 'weight'}, 'charging', '计费方式'),
    ({'charging': 'area', 'rate': None}, 'rate', '单价'),
    ({'charging': 'area', 'rate': '-1'}, 'rate', '单价'),
    ({'charging': 'area', 'rate': '1.23456'}, 'rate', '四位小数'),
    ({'charging': 'fixed', 'amount_fen': None}, 'amount', '金额'),
    ({'charging': 'fixed', 'amount_fen': 0}, 'amount', '大于 0'),
    ({'charging': 'meter', 'rate': '4.00', 'meter': None}, 'meter', '表的种类'),
    ({'charging': 'meter', 'rate': '4.00', 'meter': 'water', 'shared': True, 'split_by': 'age'}, 'split_by', '公摊'),
    ({'charging': 'area', 'rate': '1.00', 'applies_to': 'parking_space'}, 'applies_to', '车位'),
    ({'cycle': 'weekly'}, 'cycle', '收费周期'),
    ({'note': '长' * 201}, 'note', '太长'),
])
def test_invalid_items_are_refused_in_chinese(make_tenant, in_tenant, changes, field, words):
    tenant = make_tenant()
    values = {'code': 'cleaning', 'name': '保洁费', 'charging': 'fixed', 'amount_fen': 1000, **changes}
    with in_tenant(tenant) as session:
        with pytest.raises(DomainError) as caught:
            services.create_fee_item(**values)
        assert caught.value.field == field
        assert words in str(caught.value.message)
        session.rollback()
    with in_tenant(tenant) as session:
        assert session.execute(sa.select(sa.func.count(FeeItem.id))).scalar() == 7  # the template's and 滞纳金


def test_codes_are_unique_per_tenant_only(make_tenant, in_tenant):
    a, b = make_tenant(), make_tenant()
    for tenant in (a, b):
        with in_tenant(tenant):
            services.create_fee_item(code='cleaning', name='保洁费', charging='fixed', amount_fen=1000)
    with in_tenant(a) as session:
        assert session.execute(sa.select(sa.func.count()).where(FeeItem.code == 'cleaning')).scalar() == 1


def test_an_item_a_bill_used_is_deactivated_not_deleted(make_tenant, in_tenant):
    tenant = make_tenant()
    with in_tenant(tenant) as session:
        used = services.create_fee_item(code='cleaning', name='保洁费', charging='fixed', amount_fen=1000)
        unused = services.create_fee_item(code='security', name='安保费', charging='fixed', amount_fen=1000)
        session.add(BillingRule(fee_item_id=unused.id, scope='tenant', amount_fen=900, effective_from=date(2026, 1, 1)))
        bill = Bill(number='ZD202603-000001', period='2026-03', issued_on=date(2026, 3, 1), due_on=date(2026, 3, 31))
        session.add(bill)
        session.flush()
        session.add(BillLine(bill_id=bill.id, fee_item_id=used.id, subject='room:1', period='2026-03',
                             description='保洁费', amount_fen=1000, basis={}))
        ids = used.id, unused.id
    with in_tenant(tenant) as session:
        with pytest.raises(DomainError) as caught:
            services.delete_fee_item(session.get(FeeItem, ids[0]))
        assert '停用' in str(caught.value.message)
        session.rollback()
    with in_tenant(tenant) as session:
        services.delete_fee_item(session.get(FeeItem, ids[1]))
    with in_tenant(tenant) as session:
        assert session.get(FeeItem, ids[0]) is not None and session.get(FeeItem, ids[1]) is None
        assert session.execute(sa.select(sa.func.count(BillingRule.id))).scalar() == 0
