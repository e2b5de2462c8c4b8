"""Late fees (滞纳金) through the pages and the API: the settings, the bill pages (lines with their basis, waived lines
struck through, the 减免 form, what has accrued since), waivers and their refusals, the late-fee item's page, roles
and another project's ids.

Estate: tests/billing/test_runs.py; see tests/billing/test_late_fees.py for the February bills and the April run.
"""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from propsaas.billing import late_fees
from propsaas.billing.models import Bill, BillLine, FeeItem
from propsaas.tenancy import clock
from propsaas.tenancy.models import Tenant
from tests.billing.test_late_fees import bill_of, enable, late_lines, moment, run_on
from tests.billing.test_runs import api_token, build_estate


@pytest.fixture
def estate(make_tenant, make_user, in_tenant):
    return lambda name='收费小区': build_estate(make_tenant, make_user, in_tenant, name)


def api_client(app, e):
    client = app.test_client()
    client.base = f'http://{e.tenant.slug}.localhost'
    return client


def assessed(monkeypatch, in_tenant, e) -> dict:
    """February billed, late fees on, April run issued on 1 April; the ids the tests use."""
    run_on(monkeypatch, in_tenant, e, date(2026, 2, 1), '2026-02')
    enable(in_tenant, e)
    run_on(monkeypatch, in_tenant, e, date(2026, 4, 1), '2026-04')
    with in_tenant(e.tenant) as session:
        feb = bill_of(session, e, '1-1-102', '2026-02')
        line = late_lines(session)[f'latefee:{feb.id}']
        ordinary = next(x for x in line.bill.lines if x.id != line.id)
        return {'feb': feb.id, 'april': line.bill_id, 'line': line.id, 'ordinary': ordinary.id,
                'feb_number': feb.number}


def stored_settings(in_tenant, e) -> dict:
    with in_tenant(e.tenant) as session:
        return dict(session.get(Tenant, e.tenant.id).settings.get('late_fee') or {})


# --- settings -----------------------------------------------------------------------------------------------------

def test_settings_page_takes_a_percentage_and_explains_its_bounds(app, estate, in_tenant, client_for):
    e = estate()
    admin = client_for(e.tenant, e.admin)
    page = admin.get('/billing/late-fees/settings')
    assert page.status_code == 200 and '每日比例（%）' in page.text and '万分之五' in page.text
    assert 'value="0.05"' in page.text and '未启用' in page.text
    assert '滞纳金设置' in admin.get('/billing/reminders/schedule').text  # linked from the dunning pages
    before = stored_settings(in_tenant, e)
    for form, text in (({'daily_percent': '0.0005'}, '0.001%'),  # a fraction typed as a percentage
                       ({'daily_percent': '5'}, '0.1%'),
                       ({'daily_percent': 'abc'}, '百分数'),
                       ({'grace_days': 'x'}, '宽限天数'),
                       ({'grace_days': '400'}, '宽限天数'),
                       ({'cap_percent': '150'}, '封顶'),
                       ({'cap_percent': ''}, '封顶')):
        data = {'enabled': 'y', 'daily_percent': '0.05', 'grace_days': '15', 'cap_percent': '100', **form}
        answer = admin.post('/billing/late-fees/settings', data=data)
        assert answer.status_code == 422 and text in answer.text, (form, answer.status_code)
    assert stored_settings(in_tenant, e) == before
    saved = admin.post('/billing/late-fees/settings', data={'enabled': 'y', 'daily_percent': '0.03',
                                                             'grace_days': '10', 'cap_percent': '50'},
                       follow_redirects=True)
    assert saved.status_code == 200 and '已启用滞纳金：每日 0.03%，宽限 10 天，封顶本金的 50%' in saved.text
    assert stored_settings(in_tenant, e) == {'enabled': True, 'daily_rate': '0.0003', 'grace_days': 10,
                                             'cap_percent': '50', 'since': today(in_tenant, e)}
    off = admin.post('/billing/late-fees/settings', data={'daily_percent': '0.03', 'grace_days': '10',
                                                           'cap_percent': '50'}, follow_redirects=True)
    assert '滞纳金已关闭' in off.text and stored_settings(in_tenant, e)['enabled'] is False
    assert client_for(e.tenant, e.cashier).get('/billing/late-fees/settings').status_code == 403
    assert client_for(e.tenant, e.cashier).post('/billing/late-fees/settings', data={}).status_code == 403
    assert '滞纳金设置' not in client_for(e.tenant, e.cashier).get('/billing/reminders/schedule').text
    assert admin.post('/billing/late-fees/settings', data={'daily_percent': '0.05'}, csrf=False).status_code == 400


def today(in_tenant, e) -> str:
    from propsaas.tenancy.clock import tenant_today

    with in_tenant(e.tenant) as session:
        return tenant_today(session.get(Tenant, e.tenant.id)).isoformat()


def test_settings_api(app, estate, in_tenant):
    e = estate()
    client, admin, cashier = api_client(app, e), api_token(in_tenant, e, e.admin), api_token(in_tenant, e, e.cashier)
    url = '/api/v1/billing/late-fee-settings'
    got = client.get(url, headers=admin)
    assert got.status_code == 200 and got.json == {'enabled': False, 'daily_rate': '0.0005', 'grace_days': 15,
                                                   'cap_percent': '100', 'percent_per_day': '0.05', 'since': None}
    body = {'enabled': True, 'daily_rate': '0.0003', 'grace_days': 0, 'cap_percent': '30'}
    put = client.put(url, json=body, headers=admin)
    since = today(in_tenant, e)
    assert put.status_code == 200 and put.json == {**body, 'percent_per_day': '0.03', 'since': since}
    assert stored_settings(in_tenant, e) == {**body, 'since': since}
    # saved again while on: still charged from the day it was switched on
    assert client.put(url, json=body, headers=admin).json['since'] == since
    for bad in ({**body, 'daily_rate': '0.05'}, {**body, 'daily_rate': 0.0003}, {**body, 'grace_days': '0'},
                {**body, 'grace_days': 1000}, {**body, 'cap_percent': '-1'}, {**body, 'enabled': 'maybe'},
                {'enabled': True}, {**body, 'daily_rate': 'x' * 5000}, {**body, 'daily_rate': '1e-4'}):
        answer = client.put(url, json=bad, headers=admin)
        assert answer.status_code == 422 and answer.json['error']['message'], (bad, answer.status_code)
    assert client.put(url, data='enabled=1', headers=admin).status_code in (400, 415, 422)
    assert stored_settings(in_tenant, e) == {**body, 'since': since}
    assert client.get(url, headers=cashier).status_code == 403
    assert client.put(url, json=body, headers=cashier).status_code == 403
    assert client.get(url).status_code == 401


# --- bill pages and waivers ---------------------------------------------------------------------------------------

def test_bill_pages_show_late_fees_their_basis_and_what_accrues_next(app, estate, in_tenant, client_for,
                                                                       monkeypatch):
    e = estate()
    ids = assessed(monkeypatch, in_tenant, e)
    monkeypatch.setattr(clock, 'now_utc', lambda: moment(date(2026, 4, 10)))
    staff = client_for(e.tenant, e.cashier).get(f'/billing/bills/{ids["april"]}')
    assert staff.status_code == 200
    assert f'滞纳金（{ids["feb_number"]}，逾期 16 天）' in staff.text
    assert '282.00 元 × 0.05% × 16 天 = 2.26 元' in staff.text and '2026-03-16 至 2026-03-31' in staff.text
    assert f'/billing/bills/{ids["april"]}/lines/{ids["line"]}/waive' in staff.text
    assert f'/lines/{ids["ordinary"]}/waive' not in staff.text  # only late fees are waived
    # February's bill is still open: 16 Mar - 10 Apr is 26 days, 366.6 -> 367, less 226 assessed
    feb = client_for(e.tenant, e.cashier).get(f'/billing/bills/{ids["feb"]}')
    assert '截至今日滞纳金约 1.41 元，将计入下期账单' in feb.text
    portal = client_for(e.tenant, e.neighbour_user)
    mine = portal.get(f'/my/bills/{ids["april"]}')
    assert mine.status_code == 200 and '282.00 元 × 0.05% × 16 天 = 2.26 元' in mine.text
    assert '/waive' not in mine.text
    assert '截至今日滞纳金约 1.41 元，将计入下期账单' in portal.get(f'/my/bills/{ids["feb"]}').text


def test_waiving_through_the_bill_page(app, estate, in_tenant, client_for, monkeypatch):
    e = estate()
    ids = assessed(monkeypatch, in_tenant, e)
    cashier = client_for(e.tenant, e.cashier)
    url = f'/billing/bills/{ids["april"]}/lines/{ids["line"]}/waive'
    missing = cashier.post(url, data={'reason': ''})
    assert missing.status_code == 422 and '请填写减免原因' in missing.text
    too_long = cashier.post(url, data={'reason': '长' * 201})
    assert too_long.status_code == 422
    ordinary = cashier.post(f'/billing/bills/{ids["april"]}/lines/{ids["ordinary"]}/waive', data={'reason': '错'})
    assert ordinary.status_code == 422 and '只能减免滞纳金' in ordinary.text
    assert cashier.post(f'/billing/bills/{ids["feb"]}/lines/{ids["line"]}/waive',
                        data={'reason': '错'}).status_code == 404  # the line is on another bill
    assert cashier.post(url, data={'reason': '无 CSRF'}, csrf=False).status_code == 400
    with in_tenant(e.tenant) as session:
        assert session.get(BillLine, ids['line']).waived_at is None
        assert session.get(Bill, ids['april']).total_fen == 28200 + 226
    for user in (e.desk, e.neighbour_user):
        assert client_for(e.tenant, user).post(url, data={'reason': '想减'}).status_code == 403
    done = cashier.post(url, data={'reason': '首次逾期，经理同意'})
    assert done.status_code == 303
    page = cashier.get(done.headers['Location'])
    assert '已减免滞纳金 2.26 元' in page.text and '已减免：首次逾期，经理同意' in page.text
    assert '<del>2.26</del>' in page.text and '/waive' not in page.text
    with in_tenant(e.tenant) as session:
        line, bill = session.get(BillLine, ids['line']), session.get(Bill, ids['april'])
        assert line.waived_by_id == e.cashier and bill.total_fen == 28200
    twice = cashier.post(url, data={'reason': '再来'})
    assert twice.status_code == 422 and '已经减免过了' in twice.text
    portal = client_for(e.tenant, e.neighbour_user).get(f'/my/bills/{ids["april"]}')
    assert '已减免：首次逾期，经理同意' in portal.text and '<del>' in portal.text


def test_waiving_over_the_api(app, estate, in_tenant, monkeypatch):
    e, other = estate(), estate('别处小区')
    ids = assessed(monkeypatch, in_tenant, e)
    foreign = assessed(monkeypatch, in_tenant, other)
    client = api_client(app, e)
    admin, cashier, desk = (api_token(in_tenant, e, u) for u in (e.admin, e.cashier, e.desk))
    url = f'/api/v1/billing/bills/{ids["april"]}/lines/{ids["line"]}/waive'
    # another project's bill or line is 404 whatever the body
    for path in (f'/api/v1/billing/bills/{foreign["april"]}/lines/{foreign["line"]}/waive',
                 f'/api/v1/billing/bills/{ids["april"]}/lines/{foreign["line"]}/waive',
                 f'/api/v1/billing/bills/{ids["feb"]}/lines/{ids["line"]}/waive',
                 f'/api/v1/billing/bills/{ids["april"]}/lines/99999999999/waive'):
        for body in ({'reason': 'x'}, {}, {'reason': 5}):
            assert client.post(path, json=body, headers=admin).status_code == 404, (path, body)
    for bad in ({}, {'reason': ''}, {'reason': 'x' * 201}, {'reason': ['x']}, {'why': 'x'}):
        answer = client.post(url, json=bad, headers=cashier)
        assert answer.status_code == 422, (bad, answer.status_code)
    ordinary = client.post(f'/api/v1/billing/bills/{ids["april"]}/lines/{ids["ordinary"]}/waive',
                           json={'reason': 'x'}, headers=cashier)
    assert ordinary.status_code == 422 and '只能减免滞纳金' in ordinary.json['error']['message']
    assert client.post(url, json={'reason': 'x'}, headers=desk).status_code == 403
    assert client.post(url, json={'reason': 'x'}).status_code == 401
    done = client.post(url, json={'reason': '协商减免'}, headers=cashier)
    assert done.status_code == 200 and done.json['total_fen'] == 28200
    waived = next(line for line in done.json['lines'] if line['id'] == ids['line'])
    assert waived['waive_reason'] == '协商减免' and waived['waived_at'] and waived['amount_fen'] == 226
    assert waived['basis']['accrued_fen'] == 226 and waived['basis']['bill_number'] == ids['feb_number']
    again = client.post(url, json={'reason': '再来'}, headers=cashier)
    assert again.status_code == 422 and '已经减免过了' in again.json['error']['message']
    with in_tenant(other.tenant) as session:
        assert session.get(BillLine, foreign['line']).waived_at is None
    spec = client.get('/api/v1/openapi.json').json
    operation = spec['paths']['/api/v1/billing/bills/{bill_id}/lines/{line_id}/waive']['post']
    assert {'400', '401', '403', '404', '415', '422'} <= set(operation['responses'])


# --- the late-fee item's page -------------------------------------------------------------------------------------

def test_the_late_fee_item_page_offers_no_edit(app, estate, in_tenant, client_for):
    e = estate()
    with in_tenant(e.tenant):
        item_id = late_fees.late_fee_item().id
    admin = client_for(e.tenant, e.admin)
    listed = admin.get('/billing/fee-items')
    assert '滞纳金（自动计算）' in listed.text and '按滞纳金设置计算' in listed.text
    page = admin.get(f'/billing/fee-items/{item_id}')
    assert page.status_code == 200 and '不能手工出账、修改或删除' in page.text
    assert f'/billing/fee-items/{item_id}/delete' not in page.text and '修改收费项目' not in page.text
    assert admin.post(f'/billing/fee-items/{item_id}', data={'name': '罚款', 'charging': 'fixed', 'amount': '1',
                                                             'cycle': 'month', 'applies_to': 'room',
                                                             'recurring': 'y'}).status_code == 422
    assert admin.post(f'/billing/fee-items/{item_id}/delete').status_code == 422
    assert admin.post(f'/billing/fee-items/{item_id}/rules', data={
        'rule-scope': 'tenant', 'rule-effective_from': '2026-01', 'rule-rate': '1'}).status_code == 422
    runs_page = admin.get('/billing/runs')
    assert f'value="{item_id}"' not in runs_page.text  # never chosen in a run
    with in_tenant(e.tenant) as session:
        item = session.get(FeeItem, item_id)
        assert (item.name, item.charging) == ('滞纳金', 'late_fee')
    api = api_client(app, e)
    token = api_token(in_tenant, e, e.admin)
    assert api.patch(f'/api/v1/billing/fee-items/{item_id}', json={'name': '罚款'}, headers=token).status_code == 422
    assert api.post(f'/api/v1/billing/fee-items/{item_id}/rules', json={
        'scope': 'tenant', 'effective_from': '2026-01', 'rate': '1'}, headers=token).status_code == 422
    assert api.post('/api/v1/billing/fee-items', json={'code': 'late_fee', 'name': 'x', 'charging': 'fixed',
                                                       'amount_fen': 100}, headers=token).status_code == 422
    with in_tenant(e.tenant) as session:
        assert session.execute(sa.select(sa.func.count(FeeItem.id)).where(FeeItem.code == 'late_fee')
                               ).scalar_one() == 1
