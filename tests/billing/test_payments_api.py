"""/api/v1/billing/payments... (staff: admin or cashier) and /api/v1/me/payments (residents): integer fen."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from propsaas.billing import payments
from propsaas.billing.models import Bill
from propsaas.property.models import Room
from tests.billing.test_runs import api_token, build_estate, run_period


@pytest.fixture
def estate(make_tenant, make_user, in_tenant):
    return lambda name='收费小区': build_estate(make_tenant, make_user, in_tenant, name)


def api_client(app, e):
    client = app.test_client()
    client.base = f'http://{e.tenant.slug}.localhost'
    return client


def test_pay_refund_reverse_and_account_over_the_api(app, estate, in_tenant):
    e = estate()
    run_period(in_tenant, e, '2026-02')
    client, cashier = api_client(app, e), api_token(in_tenant, e, e.cashier)
    room_id = e.rooms['1-1-101']
    body = {'room_id': room_id, 'amount_fen': 27033 + 1000, 'method': 'bank_transfer', 'reference': 'TX-1',
            'paid_at': '2026-03-05T10:00:00+08:00'}
    created = client.post('/api/v1/billing/payments', json=body, headers=cashier)
    assert created.status_code == 201, created.json
    payment = created.json
    assert payment['number'] == 'SJ202603-000001' and payment['kind'] == 'payment'
    assert [a['amount_fen'] for a in payment['allocations']] == [21033, 6000]
    assert payment['unallocated_fen'] == 1000 and payment['allocations'][0]['period'] == '2026-02'
    account = client.get(f'/api/v1/billing/rooms/{room_id}/account', headers=cashier).json
    assert account['prepaid_fen'] == 1000 and account['owed_fen'] == 0 and account['open_bills'] == []
    assert account['prepay_cap_fen'] == 27033 * 12 and account['recent_payments'][0]['id'] == payment['id']
    for bad in ({**body, 'amount_fen': 10.5}, {**body, 'amount_fen': '100'}, {**body, 'amount_fen': 0},
                {**body, 'method': 'wechat'}, {**body, 'room_id': 999999}, {**body, 'bill_ids': [999999]}):
        assert client.post('/api/v1/billing/payments', json=bad, headers=cashier).status_code == 422, bad
    refund = client.post(f'/api/v1/billing/payments/{payment["id"]}/refund', json={'amount_fen': 1001,
                                                                                 'reason': '多交'}, headers=cashier)
    assert refund.status_code == 422
    refund = client.post(f'/api/v1/billing/payments/{payment["id"]}/refund', json={'amount_fen': 1000,
                                                                                 'reason': '多交'}, headers=cashier)
    assert refund.status_code == 201 and refund.json['kind'] == 'refund' and refund.json['reverses_id'] == payment['id']
    assert client.post(f'/api/v1/billing/payments/{payment["id"]}/reverse', json={},
                       headers=cashier).status_code == 422
    reversal = client.post(f'/api/v1/billing/payments/{payment["id"]}/reverse', json={'reason': '录错'},
                           headers=cashier)
    assert reversal.status_code == 201 and reversal.json['amount_fen'] == 27033
    assert sorted(a['amount_fen'] for a in reversal.json['allocations']) == [-21033, -6000]
    assert client.get(f'/api/v1/billing/payments/{payment["id"]}', headers=cashier).json['reversed'] is True
    account = client.get(f'/api/v1/billing/rooms/{room_id}/account', headers=cashier).json
    assert account['owed_fen'] == 27033 and {b['status'] for b in account['open_bills']} == {'unpaid'}
    listing = client.get('/api/v1/billing/payments?kind=payment&method=bank_transfer', headers=cashier).json
    assert listing['total'] == 1
    assert client.get('/api/v1/billing/payments', headers=cashier).json['total'] == 3
    assert client.get('/api/v1/billing/payments?start=2026-03-06', headers=cashier).json['total'] == 2


def test_choosing_bills_over_the_api(app, estate, in_tenant):
    e = estate()
    run_period(in_tenant, e, '2026-02')
    with in_tenant(e.tenant) as session:
        space_bill = session.execute(sa.select(Bill.id).where(Bill.parking_space_id == e.space)).scalar_one()
    client, admin = api_client(app, e), api_token(in_tenant, e, e.admin)
    paid = client.post('/api/v1/billing/payments', json={'room_id': e.rooms['1-1-101'], 'amount_fen': 6000,
                                                         'method': 'cash', 'bill_ids': [space_bill]}, headers=admin)
    assert paid.status_code == 201 and [a['bill_id'] for a in paid.json['allocations']] == [space_bill]


def test_roles_isolation_and_the_residents_history(app, estate, in_tenant):
    e, other = estate(), estate('别处')
    run_period(in_tenant, other, '2026-02')
    with in_tenant(other.tenant) as session:
        foreign = payments.record_payment(session.get(Room, other.rooms['1-1-101']), 500, 'cash').id
    with in_tenant(e.tenant) as session:
        mine = payments.record_payment(session.get(Room, e.rooms['1-1-101']), 500, 'cash').id
        payments.record_payment(session.get(Room, e.rooms['1-1-102']), 700, 'cash')
    client = api_client(app, e)
    admin, desk, owner = (api_token(in_tenant, e, u) for u in (e.admin, e.desk, e.owner_user))
    assert client.get('/api/v1/billing/payments').status_code == 401
    assert client.get('/api/v1/billing/payments', headers=desk).status_code == 403
    assert client.get('/api/v1/billing/payments', headers=owner).status_code == 403
    assert client.get(f'/api/v1/billing/payments/{foreign}', headers=admin).status_code == 404
    assert client.get(f'/api/v1/billing/rooms/{other.rooms["1-1-101"]}/account', headers=admin).status_code == 404
    for path, body in (('refund', {}), ('refund', {'amount_fen': 1, 'reason': 'x'}), ('reverse', {'reason': 'x'}),
                       ('reverse', {'reason': ''})):
        answer = client.post(f'/api/v1/billing/payments/{foreign}/{path}', headers=admin, json=body)
        assert answer.status_code == 404, (path, body, answer.status_code)
    assert client.post('/api/v1/billing/payments', json={'room_id': other.rooms['1-1-101'], 'amount_fen': 1,
                                                         'method': 'cash'}, headers=admin).status_code == 422
    history = client.get('/api/v1/me/payments', headers=owner)
    assert history.status_code == 200 and [p['id'] for p in history.json['items']] == [mine]
    assert client.get('/api/v1/me/payments', headers=admin).status_code == 403
    spec = client.get('/api/v1/openapi.json').json
    refund_op = spec['paths']['/api/v1/billing/payments/{payment_id}/refund']['post']
    assert {'400', '401', '403', '404', '415', '422'} <= set(refund_op['responses'])
