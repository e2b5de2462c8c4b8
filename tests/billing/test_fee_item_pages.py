"""The fee item pages (/billing/fee-items, rules, price check): admin and cashiers; errors in Chinese, nothing
saved; the list is a constant number of statements."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from propsaas.billing import fee_items as services
from propsaas.billing.models import Bill, BillingRule, BillLine, FeeItem
from tests.billing.test_rules import fee_estate
from tests.helpers import count_queries


@pytest.fixture
def estate(make_tenant, make_user, in_tenant):
    return lambda name='计费小区': fee_estate(make_tenant, make_user, in_tenant, name)


def item_id(in_tenant, e, code):
    with in_tenant(e.tenant) as session:
        return session.execute(sa.select(FeeItem.id).where(FeeItem.code == code)).scalar_one()


def test_the_list_shows_the_templates_items_to_cashiers_only(app, estate, client_for, in_tenant):
    e = estate()
    page = client_for(e.tenant, e.cashier).get('/billing/fee-items')
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for words in ('物业服务费（电梯楼）', '1.8', '元/㎡/月', '车位管理费', '60.00', '每月', '一次性', '车位', '启用'):
        assert words in html
    assert client_for(e.tenant, e.admin).get('/billing/fee-items').status_code == 200
    assert client_for(e.tenant, e.desk).get('/billing/fee-items').status_code == 403
    assert client_for(e.tenant, e.owner_user).get('/billing/fee-items').status_code == 403
    assert client_for(e.tenant).get('/billing/fee-items').status_code in (302, 401)


def test_the_list_is_a_constant_number_of_statements(app, estate, client_for, in_tenant):
    e = estate()
    client = client_for(e.tenant, e.cashier)
    client.get('/billing/fee-items')
    with count_queries(app) as few:
        client.get('/billing/fee-items')
    with in_tenant(e.tenant):
        for n in range(20):
            services.create_fee_item(code=f'extra_{n}', name=f'附加费{n}', charging='fixed', amount_fen=100 + n)
    with count_queries(app) as many:
        assert client.get('/billing/fee-items').status_code == 200
    assert len(many) == len(few)


def test_create_edit_and_add_a_rule_through_the_pages(app, estate, client_for, in_tenant):
    e = estate()
    client = client_for(e.tenant, e.cashier)
    assert client.get('/billing/fee-items/new').status_code == 200
    created = client.post('/billing/fee-items/new', data={
        'code': 'lift_fee', 'name': '电梯运行费', 'charging': 'area', 'rate': '0.30', 'cycle': 'month',
        'recurring': 'y', 'applies_to': 'room_with_lift'})
    assert created.status_code == 302
    fid = item_id(in_tenant, e, 'lift_fee')
    assert created.headers['Location'].endswith(f'/billing/fee-items/{fid}')
    detail = client.get(f'/billing/fee-items/{fid}')
    assert detail.status_code == 200 and '电梯运行费' in detail.get_data(as_text=True)

    saved = client.post(f'/billing/fee-items/{fid}', data={
        'name': '电梯运行费', 'charging': 'area', 'rate': '0.35', 'cycle': 'month', 'recurring': 'y',
        'applies_to': 'room_with_lift', 'active': 'y'})
    assert saved.status_code == 302
    ruled = client.post(f'/billing/fee-items/{fid}/rules', data={
        'rule-scope': 'room', 'rule-room': '1栋1单元101', 'rule-exempt': 'y', 'rule-effective_from': '2026-07',
        'rule-note': '合同约定一楼免收'})
    assert ruled.status_code == 302
    with in_tenant(e.tenant) as session:
        item = session.get(FeeItem, fid)
        rule = session.execute(sa.select(BillingRule)).scalar_one()
        assert item.rate == '0.35' and item.active
        assert (rule.scope, rule.room_id, rule.exempt, rule.effective_from) == \
            ('room', e.rooms['1-1-101'], True, date(2026, 7, 1))
    html = client.get(f'/billing/fee-items/{fid}').get_data(as_text=True)
    assert '1栋1单元101' in html and '2026-07' in html and '合同约定一楼免收' in html

    checked = client.get('/billing/price-check?room=1-1-101&period=2026-07')
    text = checked.get_data(as_text=True)
    assert checked.status_code == 200 and '免收' in text and '电梯运行费' in text
    assert client.get('/billing/price-check').status_code == 200

    deactivated = client.post(f'/billing/fee-items/{fid}', data={
        'name': '电梯运行费', 'charging': 'area', 'rate': '0.35', 'cycle': 'month', 'recurring': 'y',
        'applies_to': 'room_with_lift'})
    assert deactivated.status_code == 302
    with in_tenant(e.tenant) as session:
        assert not session.get(FeeItem, fid).active


def test_errors_are_shown_in_chinese_and_nothing_is_saved(app, estate, client_for, in_tenant):
    e = estate()
    client = client_for(e.tenant, e.admin)
    bad = client.post('/billing/fee-items/new', data={'code': 'parking_fee', 'name': '重复', 'charging': 'fixed',
                                                      'amount': '10', 'cycle': 'month', 'applies_to': 'room'})
    assert bad.status_code == 422 and '已被使用' in bad.get_data(as_text=True)
    bad = client.post('/billing/fee-items/new', data={'code': 'x1', 'name': '某费', 'charging': 'fixed',
                                                      'amount': '12.345', 'cycle': 'month', 'applies_to': 'room'})
    assert bad.status_code == 422 and '最多两位小数' in bad.get_data(as_text=True)
    fid = item_id(in_tenant, e, 'service_fee_lift')
    bad = client.post(f'/billing/fee-items/{fid}', data={'name': '物业服务费', 'charging': 'area', 'rate': '',
                                                        'cycle': 'month', 'applies_to': 'room', 'active': 'y'})
    assert bad.status_code == 422 and '单价' in bad.get_data(as_text=True)
    bad = client.post(f'/billing/fee-items/{fid}/rules', data={'rule-scope': 'room', 'rule-room': '9-9-999',
                                                              'rule-rate': '2.00', 'rule-effective_from': '2026-07'})
    assert bad.status_code == 422 and '找不到这个房号' in bad.get_data(as_text=True)
    bad = client.get('/billing/price-check?room=9-9-999&period=2026-13')
    assert bad.status_code == 422 and '找不到这个房号' in bad.get_data(as_text=True)
    with in_tenant(e.tenant) as session:
        assert session.execute(sa.select(sa.func.count(FeeItem.id))).scalar() == 7  # the template's and 滞纳金
        assert session.get(FeeItem, fid).rate == '1.8'
        assert session.execute(sa.select(sa.func.count(BillingRule.id))).scalar() == 0


def test_deleting_rules_and_items(app, estate, client_for, in_tenant):
    e = estate()
    client = client_for(e.tenant, e.cashier)
    fid = item_id(in_tenant, e, 'service_fee_lift')
    for month in ('2026-01', '2027-01'):
        assert client.post(f'/billing/fee-items/{fid}/rules', data={
            'rule-scope': 'tenant', 'rule-rate': '2.35', 'rule-effective_from': month}).status_code == 302
    with in_tenant(e.tenant) as session:
        used, unused = session.execute(sa.select(BillingRule.id).order_by(BillingRule.id)).scalars().all()
        bill = Bill(number='ZD202603-000001', period='2026-03', issued_on=date(2026, 3, 1), due_on=date(2026, 3, 31))
        session.add(bill)
        session.flush()
        session.add(BillLine(bill_id=bill.id, fee_item_id=fid, subject='room:1', period='2026-03',
                             description='物业服务费', amount_fen=100, basis={'rule_id': used}))
    refused = client.post(f'/billing/rules/{used}/delete')
    assert refused.status_code == 422 and '不能删除' in refused.get_data(as_text=True)
    assert client.post(f'/billing/rules/{unused}/delete').status_code == 302
    refused = client.post(f'/billing/fee-items/{fid}/delete')
    assert refused.status_code == 422 and '停用' in refused.get_data(as_text=True)
    other = item_id(in_tenant, e, 'renovation_waste')
    assert client.post(f'/billing/fee-items/{other}/delete').status_code == 302
    with in_tenant(e.tenant) as session:
        assert session.execute(sa.select(BillingRule.id)).scalars().all() == [used]
        assert session.get(FeeItem, other) is None and session.get(FeeItem, fid) is not None


def test_another_projects_items_and_rules_are_not_found(app, estate, client_for, in_tenant):
    a, b = estate('甲小区'), estate('乙小区')
    fid = item_id(in_tenant, a, 'service_fee_lift')
    with in_tenant(a.tenant):
        from propsaas.billing import rule_admin
        rid = rule_admin.add_rule(services.active_items()[0], scope='tenant', effective_month='2026-01',
                                  rate='2.00').id
    client = client_for(b.tenant, b.admin)
    assert client.get(f'/billing/fee-items/{fid}').status_code == 404
    assert client.post(f'/billing/fee-items/{fid}/rules', data={'rule-scope': 'tenant', 'rule-rate': '1',
                                                               'rule-effective_from': '2026-01'}).status_code == 404
    assert client.post(f'/billing/rules/{rid}/delete').status_code == 404
    own = item_id(in_tenant, b, 'service_fee_lift')
    response = client.post(f'/billing/fee-items/{own}/rules', data={
        'rule-scope': 'building', 'rule-building_id': str(a.buildings['1']), 'rule-rate': '2.00',
        'rule-effective_from': '2026-01'})
    assert response.status_code == 422 and '找不到这个楼栋' in response.get_data(as_text=True)
    with in_tenant(a.tenant) as session:
        assert session.execute(sa.select(BillingRule.id)).scalars().all() == [rid]
