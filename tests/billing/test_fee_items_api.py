"""/api/v1/billing: fee items, rules and the price check with bearer tokens; money in fen, rates as strings."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from propsaas.billing.models import Bill, BillingRule, BillLine, FeeItem
from tests.billing.test_rules import fee_estate
from tests.renovations.estate import api_token

API = '/api/v1/billing'


@pytest.fixture
def estate(make_tenant, make_user, in_tenant):
    return lambda name='计费小区': fee_estate(make_tenant, make_user, in_tenant, name)


def api_client(app, e):
    client = app.test_client()
    client.base = f'http://{e.tenant.slug}.localhost'
    return client


def test_items_rules_and_price_check(app, estate, in_tenant):
    e = estate()
    api, cashier = api_client(app, e), api_token(in_tenant, e, e.cashier)
    listed = api.get(f'{API}/fee-items', headers=cashier)
    assert listed.status_code == 200 and listed.json['total'] == 7  # the template's six and 滞纳金
    first = listed.json['items'][0]
    assert (first['code'], first['rate'], first['charging']) == ('service_fee_lift', '1.8', 'area')
    parking = next(i for i in listed.json['items'] if i['code'] == 'parking_fee')
    assert parking['amount_fen'] == 6000 and parking['rate'] is None

    created = api.post(f'{API}/fee-items', json={'code': 'lift_fee', 'name': '电梯运行费', 'charging': 'area',
                                                 'rate': '0.30', 'applies_to': 'room_with_lift'}, headers=cashier)
    assert created.status_code == 201 and created.json['rate'] == '0.3'
    fid = created.json['id']
    assert api.get(f'{API}/fee-items/{fid}', headers=cashier).json['name'] == '电梯运行费'
    patched = api.patch(f'{API}/fee-items/{fid}', json={'rate': '0.32', 'active': False}, headers=cashier)
    assert patched.status_code == 200 and patched.json['rate'] == '0.32' and patched.json['active'] is False

    sid = e.items['service_fee_lift']
    for body in ({'scope': 'tenant', 'rate': '2.35', 'effective_from': '2026-01'},
                 {'scope': 'room_type', 'room_type': 'shop', 'rate': '4.50', 'effective_from': '2026-01'},
                 {'scope': 'room', 'room': '1-1-101', 'exempt': True, 'note': '合同约定免收',
                  'effective_from': '2026-01'}):
        added = api.post(f'{API}/fee-items/{sid}/rules', json=body, headers=cashier)
        assert added.status_code == 201, added.json
    rules = api.get(f'{API}/fee-items/{sid}/rules', headers=cashier).json
    assert [(r['scope'], r['effective_from']) for r in rules] == [('tenant', '2026-01'), ('room_type', '2026-01'),
                                                                    ('room', '2026-01')]
    assert rules[2]['room_id'] == e.rooms['1-1-101'] and rules[2]['exempt'] is True

    for room, expected in (('1-1-102', ('2.35', 'tenant', False, 23500)), ('2-1-201', ('4.5', 'room_type', False,
                                                                                      22500)),
                           ('1-1-101', ('1.8', 'room', True, None))):
        checked = api.get(f'{API}/price-check', query_string={'room': room, 'period': '2026-06'}, headers=cashier)
        assert checked.status_code == 200
        line = next(i for i in checked.json['items'] if i['code'] == 'service_fee_lift')
        assert (line['rate'], line['scope'], line['exempt'], line['monthly_fen']) == expected, room
    assert api.delete(f'{API}/rules/{rules[1]["id"]}', headers=cashier).status_code == 204


def test_errors_are_documented_4xx_in_chinese_and_save_nothing(app, estate, in_tenant):
    e = estate()
    api = api_client(app, e)
    cashier, desk = api_token(in_tenant, e, e.cashier), api_token(in_tenant, e, e.desk)
    assert api.get(f'{API}/fee-items').status_code == 401
    assert api.get(f'{API}/fee-items', headers=desk).status_code == 403
    bad = api.post(f'{API}/fee-items', json={'code': 'x', 'name': '某费', 'charging': 'fixed'}, headers=cashier)
    assert bad.status_code == 422 and '金额' in bad.json['error']['message'] and 'amount' in bad.json['error']['fields']
    bad = api.post(f'{API}/fee-items', json={'code': 'parking_fee', 'name': '重复', 'charging': 'fixed',
                                             'amount_fen': 100}, headers=cashier)
    assert bad.status_code == 422 and '已被使用' in bad.json['error']['message']
    sid = e.items['service_fee_lift']
    bad = api.patch(f'{API}/fee-items/{sid}', json={'charging': 'meter'}, headers=cashier)
    assert bad.status_code == 422 and 'meter' in bad.json['error']['fields']
    body = {'scope': 'tenant', 'rate': '2.35', 'effective_from': '2026-01'}
    assert api.post(f'{API}/fee-items/{sid}/rules', json=body, headers=cashier).status_code == 201
    dup = api.post(f'{API}/fee-items/{sid}/rules', json=body, headers=cashier)
    assert dup.status_code == 422 and '已有一条规则' in dup.json['error']['message']
    missing = api.get(f'{API}/price-check', query_string={'room': '9-9-999', 'period': '2026-06'}, headers=cashier)
    assert missing.status_code == 422 and '找不到这个房号' in missing.json['error']['message']
    assert api.get(f'{API}/fee-items/999999', headers=cashier).status_code == 404
    assert api.delete(f'{API}/rules/999999', headers=cashier).status_code == 404
    with in_tenant(e.tenant) as session:
        rule_id = session.execute(sa.select(BillingRule.id)).scalar_one()
        bill = Bill(number='ZD202603-000001', period='2026-03', issued_on=date(2026, 3, 1), due_on=date(2026, 3, 31))
        session.add(bill)
        session.flush()
        session.add(BillLine(bill_id=bill.id, fee_item_id=sid, subject='room:1', period='2026-03',
                             description='物业服务费', amount_fen=100, basis={'rule_id': rule_id}))
    used = api.delete(f'{API}/rules/{rule_id}', headers=cashier)
    assert used.status_code == 422 and '不能删除' in used.json['error']['message']
    with in_tenant(e.tenant) as session:
        assert session.execute(sa.select(sa.func.count(FeeItem.id))).scalar() == 7  # the template's and 滞纳金
        assert session.get(FeeItem, sid).charging == 'area'
        assert session.execute(sa.select(sa.func.count(BillingRule.id))).scalar() == 1
    spec = app.test_client().get('/api/v1/openapi.json').json
    delete = spec['paths']['/api/v1/billing/rules/{rule_id}']['delete']['responses']
    assert {'204', '404', '422'} <= set(delete)


def test_another_projects_objects_are_404_or_unknown(app, estate, in_tenant):
    a, b = estate('甲小区'), estate('乙小区')
    api, admin_b = api_client(app, b), api_token(in_tenant, b, b.admin)
    fid = a.items['service_fee_lift']
    assert api.get(f'{API}/fee-items/{fid}', headers=admin_b).status_code == 404
    assert api.patch(f'{API}/fee-items/{fid}', json={'name': '改'}, headers=admin_b).status_code == 404
    assert api.get(f'{API}/fee-items/{fid}/rules', headers=admin_b).status_code == 404
    own = b.items['service_fee_lift']
    foreign = api.post(f'{API}/fee-items/{own}/rules', json={'scope': 'building', 'building_id': a.buildings['1'],
                                                             'rate': '2.00', 'effective_from': '2026-01'},
                       headers=admin_b)
    assert foreign.status_code == 422 and '找不到这个楼栋' in foreign.json['error']['message']
    with in_tenant(b.tenant) as session:
        assert session.execute(sa.select(sa.func.count(BillingRule.id))).scalar() == 0
