"""/api/v1/billing/... (staff: admin or cashier) and /api/v1/me/bills (residents): money in fen, basis included."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from propsaas.billing.models import Bill, BillRun
from tests.billing.test_runs import api_token, build_estate, run_period
from tests.helpers import count_queries


@pytest.fixture
def estate(make_tenant, make_user, in_tenant):
    """estate(name=...): see tests/billing/test_runs.py."""
    return lambda name='收费小区': build_estate(make_tenant, make_user, in_tenant, name)


def api_client(app, e):
    client = app.test_client()
    client.base = f'http://{e.tenant.slug}.localhost'
    return client


def test_preview_run_void_over_the_api(app, estate, in_tenant):
    e = estate()
    client, cashier = api_client(app, e), api_token(in_tenant, e, e.cashier)
    body = {'period': '2026-02', 'due_on': '2026-02-28'}
    preview = client.post('/api/v1/billing/runs', json={**body, 'preview': True}, headers=cashier)
    assert preview.status_code == 200, preview.json
    assert preview.json['bills'] == 4 and preview.json['total_fen'] == 61233
    assert preview.json['items']['pf_lift']['fen'] == 49233
    assert preview.json['skipped_counts'] == {'no_area': 1, 'not_handed_over': 1, 'not_started': 1}
    with in_tenant(e.tenant) as session:
        assert session.execute(sa.select(sa.func.count(BillRun.id))).scalar_one() == 0
    started = client.post('/api/v1/billing/runs', json=body, headers=cashier)
    assert started.status_code == 202, started.json
    run = started.json
    assert run['status'] == 'done' and run['bill_count'] == 4 and run['job_status'] == 'done' and run['progress'] == 100
    assert client.get(f'/api/v1/billing/runs/{run["id"]}', headers=cashier).json['total_fen'] == 61233
    assert client.get('/api/v1/billing/runs', headers=cashier).json['total'] == 1
    bills = client.get('/api/v1/billing/bills?room=1-1-101', headers=cashier).json
    assert bills['total'] == 2 and {b['total_fen'] for b in bills['items']} == {21033, 6000}
    room_bill = next(b for b in bills['items'] if b['parking_space_id'] is None)
    detail = client.get(f'/api/v1/billing/bills/{room_bill["id"]}', headers=cashier).json
    assert detail['lines'][0]['basis']['formula'] == '89.50 ㎡ × 2.35 元/㎡·月 × 1 月 = 210.33 元'
    assert detail['payer_mobile'] == '138****1234' and detail['number'].startswith('ZD202602-')
    admin = api_token(in_tenant, e, e.admin)
    assert client.get(f'/api/v1/billing/bills/{room_bill["id"]}', headers=admin).json['payer_mobile'] == '13800001234'
    no_reason = client.post(f'/api/v1/billing/runs/{run["id"]}/void', json={}, headers=cashier)
    assert no_reason.status_code == 422
    voided = client.post(f'/api/v1/billing/runs/{run["id"]}/void', json={'reason': '重新出账'}, headers=cashier)
    assert voided.status_code == 200 and voided.json['status'] == 'voided'
    again = client.post(f'/api/v1/billing/runs/{run["id"]}/void', json={'reason': '再次'}, headers=cashier)
    assert again.status_code == 422
    assert client.get('/api/v1/billing/bills?status=void', headers=cashier).json['total'] == 4


def test_api_errors_and_roles(app, estate, in_tenant):
    e, other = estate(), estate('别处')
    run_period(in_tenant, other, '2026-02')
    with in_tenant(other.tenant) as session:
        foreign_bill = session.execute(sa.select(Bill.id)).scalars().first()
        foreign_run = session.execute(sa.select(BillRun.id)).scalar_one()
    client = api_client(app, e)
    cashier, desk, owner = (api_token(in_tenant, e, u) for u in (e.cashier, e.desk, e.owner_user))
    assert client.get('/api/v1/billing/bills').status_code == 401
    assert client.get('/api/v1/billing/bills', headers=desk).status_code == 403
    assert client.get('/api/v1/billing/runs', headers=owner).status_code == 403
    assert client.get(f'/api/v1/billing/bills/{foreign_bill}', headers=cashier).status_code == 404
    assert client.get(f'/api/v1/billing/runs/{foreign_run}', headers=cashier).status_code == 404
    assert client.post(f'/api/v1/billing/runs/{foreign_run}/void', json={'reason': 'x'},
                       headers=cashier).status_code == 404
    assert client.post('/api/v1/billing/runs', json={'period': '2026-13', 'due_on': '2026-02-28'},
                       headers=cashier).status_code == 422
    missing_due = client.post('/api/v1/billing/runs', json={'period': '2026-02'}, headers=cashier)
    assert missing_due.status_code == 422 and 'due_on' in missing_due.json['error']['fields']
    bad_item = client.post('/api/v1/billing/runs', json={'period': '2026-02', 'due_on': '2026-02-28',
                                                         'fee_item_ids': [999999]}, headers=cashier)
    assert bad_item.status_code == 422
    assert client.post('/api/v1/billing/runs', data='x', headers={**cashier, 'Content-Type': 'text/plain'}
                       ).status_code == 415
    assert client.get('/api/v1/billing/bills?status=nope', headers=cashier).status_code == 422


def test_resident_api_sees_only_their_bills(app, estate, in_tenant):
    e = estate()
    run_period(in_tenant, e, '2026-02')
    client, owner = api_client(app, e), api_token(in_tenant, e, e.owner_user)
    mine = client.get('/api/v1/me/bills', headers=owner)
    assert mine.status_code == 200 and mine.json['total'] == 2
    assert all('payer_resident_id' not in b for b in mine.json['items'])
    one = mine.json['items'][0]['id']
    assert client.get(f'/api/v1/me/bills/{one}', headers=owner).json['lines']
    with in_tenant(e.tenant) as session:
        neighbours = session.execute(sa.select(Bill.id).where(Bill.room_id == e.rooms['1-1-102'])).scalar_one()
    assert client.get(f'/api/v1/me/bills/{neighbours}', headers=owner).status_code == 404
    assert client.get('/api/v1/me/bills', headers=api_token(in_tenant, e, e.cashier)).status_code == 403


def test_api_bill_list_statements_do_not_grow(app, estate, in_tenant):
    e = estate()
    run_period(in_tenant, e, '2026-02', fee_item_ids=[e.items['lift']])
    client, cashier = api_client(app, e), api_token(in_tenant, e, e.cashier)
    with count_queries(app) as few:
        assert client.get('/api/v1/billing/bills', headers=cashier).json['total'] == 2
    run_period(in_tenant, e, '2026-04')
    with count_queries(app) as more:
        assert client.get('/api/v1/billing/bills', headers=cashier).json['total'] == 8
    assert len(few) == len(more)
