"""The bill run and bill pages as staff use them, and the resident's 我的账单."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from propsaas.billing.models import Bill, BillRun
from tests.billing.test_runs import build_estate, run_period
from tests.helpers import count_queries


@pytest.fixture
def estate(make_tenant, make_user, in_tenant):
    """estate(name=...): see tests/billing/test_runs.py."""
    return lambda name='收费小区': build_estate(make_tenant, make_user, in_tenant, name)


def _bill_id(in_tenant, e, code: str) -> int:
    with in_tenant(e.tenant) as session:
        return session.execute(sa.select(Bill.id).where(Bill.room_id == e.rooms[code],
                                                        Bill.parking_space_id.is_(None))).scalar_one()


def test_preview_then_run_then_void_through_the_pages(app, estate, in_tenant, client_for):
    e = estate()
    client = client_for(e.tenant, e.cashier)
    page = client.get('/billing/runs')
    assert page.status_code == 200 and '还没有出过账' in page.text
    form = {'period': '2026-02', 'building_id': '', 'due_on': '2026-02-28', 'action': 'preview'}
    preview = client.post('/billing/runs', data=form)
    assert preview.status_code == 200
    assert '预览' in preview.text and '492.33' in preview.text and '未登记建筑面积' in preview.text
    with in_tenant(e.tenant) as session:
        assert session.execute(sa.select(sa.func.count(BillRun.id))).scalar_one() == 0
    started = client.post('/billing/runs', data={**form, 'action': 'start'})
    assert started.status_code == 302
    detail = client.get(started.headers['Location'])
    assert detail.status_code == 200
    assert '已完成' in detail.text and 'ZD202602-000001' in detail.text and '100%' in detail.text
    run_id = int(started.headers['Location'].rstrip('/').split('/')[-1])
    missing_reason = client.post(f'/billing/runs/{run_id}/void', data={'reason': ''})
    assert missing_reason.status_code == 422 and '请填写作废原因' in missing_reason.text
    voided = client.post(f'/billing/runs/{run_id}/void', data={'reason': '面积录错'}, follow_redirects=True)
    assert voided.status_code == 200 and '已作废 4 张未缴账单' in voided.text
    with in_tenant(e.tenant) as session:
        assert {b.status for b in session.execute(sa.select(Bill)).scalars()} == {'void'}


def test_run_form_errors_are_shown(app, estate, in_tenant, client_for):
    e = estate()
    client = client_for(e.tenant, e.admin)
    bad = client.post('/billing/runs', data={'period': '2026-13', 'due_on': '2026-02-28', 'action': 'start'})
    assert bad.status_code == 422 and '请按“年-月”填写账期' in bad.text
    early = client.post('/billing/runs', data={'period': '2026-02', 'due_on': '2025-01-01', 'action': 'start'})
    assert early.status_code == 422 and '缴费截止日期须在账期当月1日至一年之内' in early.text
    with in_tenant(e.tenant) as session:
        assert session.execute(sa.select(sa.func.count(BillRun.id))).scalar_one() == 0


def test_who_may_use_the_billing_pages(app, estate, in_tenant, client_for):
    e = estate()
    run_period(in_tenant, e, '2026-02')
    bill_id = _bill_id(in_tenant, e, '1-1-101')
    for user, status in ((e.admin, 200), (e.cashier, 200), (e.desk, 403), (e.owner_user, 403)):
        client = client_for(e.tenant, user)
        for url in ('/billing/runs', '/billing/bills', f'/billing/bills/{bill_id}'):
            assert client.get(url).status_code == status, (user, url)
    assert client_for(e.tenant).get('/billing/bills').status_code == 302  # to the login page


def test_bill_detail_shows_basis_capitals_and_a_masked_mobile(app, estate, in_tenant, client_for):
    e = estate()
    run_period(in_tenant, e, '2026-02')
    bill_id = _bill_id(in_tenant, e, '1-1-101')
    page = client_for(e.tenant, e.cashier).get(f'/billing/bills/{bill_id}')
    assert page.status_code == 200
    assert '89.50 ㎡ × 2.35 元/㎡·月 × 1 月 = 210.33 元' in page.text
    assert '贰佰壹拾元叁角叁分' in page.text and '138****1234' in page.text and '13800001234' not in page.text
    assert '13800001234' in client_for(e.tenant, e.admin).get(f'/billing/bills/{bill_id}').text


def test_bill_list_filters_search_and_constant_statements(app, estate, in_tenant, client_for):
    e = estate()
    run_period(in_tenant, e, '2026-02')
    run_period(in_tenant, e, '2026-04')
    client = client_for(e.tenant, e.cashier)
    everything = client.get('/billing/bills')
    assert everything.text.count('ZD2026') == 10
    assert client.get('/billing/bills?period=2026-04').text.count('ZD202604') == 6
    assert 'ZD202602' not in client.get('/billing/bills?period=2026-04').text
    assert client.get(f'/billing/bills?building={e.buildings["2"]}').text.count('ZD2026') == 2
    one_room = client.get('/billing/bills?room=1-1-102')
    assert one_room.text.count('ZD2026') == 2 and '李邻居' in one_room.text
    assert '找不到这个房号' in client.get('/billing/bills?room=9-9-999').text
    assert '没有符合条件的账单' in client.get('/billing/bills?status=paid').text
    with count_queries(app) as few:
        client.get('/billing/bills?period=2026-02')
    with count_queries(app) as more:
        client.get('/billing/bills')
    assert len(few) == len(more)


def test_resident_sees_only_their_bills_unpaid_first(app, estate, in_tenant, client_for):
    e, other = estate(), estate('别的小区')
    run_period(in_tenant, e, '2026-02')
    run_period(in_tenant, e, '2026-04')
    run_period(in_tenant, other, '2026-02')
    with in_tenant(e.tenant) as session:
        older = session.execute(sa.select(Bill).where(Bill.room_id == e.rooms['1-1-101'], Bill.period == '2026-02',
                                                      Bill.parking_space_id.is_(None))).scalar_one()
        older.status = 'paid'
        older_id = older.id
    client = client_for(e.tenant, e.owner_user)
    page = client.get('/my/bills')
    assert page.status_code == 200
    text = page.text
    assert text.count('/my/bills/') == 4  # 101 Feb + Apr, B1-001 Feb + Apr
    assert text.index('已缴清') > text.index('未缴')  # the paid one last
    assert client.get(f'/my/bills/{older_id}').status_code == 200
    detail = client.get(f'/my/bills/{older_id}')
    assert '89.50 ㎡ × 2.35 元/㎡·月 × 1 月 = 210.33 元' in detail.text and '贰佰壹拾元叁角叁分' in detail.text
    with in_tenant(e.tenant) as session:
        neighbours = session.execute(sa.select(Bill.id).where(Bill.room_id == e.rooms['1-1-102'])).scalars().first()
    assert client.get(f'/my/bills/{neighbours}').status_code == 404
    with in_tenant(other.tenant) as session:
        foreign = session.execute(sa.select(Bill.id)).scalars().first()
    assert client.get(f'/my/bills/{foreign}').status_code == 404
    assert client_for(e.tenant, e.cashier).get('/my/bills').status_code == 403
