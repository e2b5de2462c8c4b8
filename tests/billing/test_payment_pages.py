"""The payment pages (收款) as a cashier uses them, the room account, and the resident's 缴费记录."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from propsaas.billing import payments
from propsaas.billing.models import Bill, Payment, PaymentAllocation
from propsaas.property.models import Room
from tests.billing.test_runs import build_estate, run_period
from tests.helpers import count_queries


@pytest.fixture
def estate(make_tenant, make_user, in_tenant):
    return lambda name='收费小区': build_estate(make_tenant, make_user, in_tenant, name)


def _statuses(in_tenant, e, code='1-1-101') -> list[str]:
    with in_tenant(e.tenant) as session:
        return list(session.execute(sa.select(Bill.status).where(Bill.room_id == e.rooms[code])
                                    .order_by(Bill.due_on, Bill.id)).scalars())


def _pay(in_tenant, e, fen: int, code='1-1-101', **kwargs) -> int:
    with in_tenant(e.tenant) as session:
        return payments.record_payment(session.get(Room, e.rooms[code]), fen, 'cash', **kwargs).id


def test_cashier_records_a_payment_and_prints_the_receipt(app, estate, in_tenant, client_for):
    e = estate()
    run_period(in_tenant, e, '2026-02')
    client = client_for(e.tenant, e.cashier)
    assert '还没有收款记录' in client.get('/billing/payments').text
    form = client.get('/billing/payments/new?room=1-1-101')
    assert form.status_code == 200 and '待缴 210.33 元' in form.text and 'B1-001' in form.text
    bad = client.post('/billing/payments/new', data={'room': '1-1-101', 'amount': '12.345', 'method': 'cash'})
    assert bad.status_code == 422 and '最多两位小数' in bad.text
    nowhere = client.post('/billing/payments/new', data={'room': '9-9-999', 'amount': '10', 'method': 'cash'})
    assert nowhere.status_code == 422 and '找不到这个房号' in nowhere.text
    done = client.post('/billing/payments/new', data={'room': '1-1-101', 'amount': '250.00', 'method': 'pos',
                                                       'reference': 'POS-1', 'note': '前台收款'})
    assert done.status_code == 302
    receipt = client.get(done.headers['Location'])
    assert receipt.status_code == 200
    text = receipt.text
    assert '贰佰伍拾元整' in text and '王业主' in text and '89.50' in text and '2026-02' in text
    assert 'POS-1' in text and 'SJ20' in text and '前台收款' in text
    assert _statuses(in_tenant, e) == ['paid', 'partial']
    listing = client.get('/billing/payments')
    assert listing.text.count('SJ20') == 1 and '1栋1单元101' in listing.text
    assert 'SJ20' not in client.get('/billing/payments?method=cash').text
    assert '找不到这个房号' in client.get('/billing/payments?room=8-8-888').text
    assert client.get('/billing/payments?room=1-1-101&start=2020-01-01&end=2099-12-31').text.count('SJ20') == 1
    assert 'SJ20' not in client.get('/billing/payments?end=2020-01-01').text


def test_choosing_bills_and_the_prepaid_cap_on_the_form(app, estate, in_tenant, client_for):
    e = estate()
    run_period(in_tenant, e, '2026-02')
    with in_tenant(e.tenant) as session:
        space_bill = session.execute(sa.select(Bill.id).where(Bill.parking_space_id == e.space)).scalar_one()
    client = client_for(e.tenant, e.cashier)
    chosen = client.post('/billing/payments/new', data={'room': '1-1-101', 'amount': '60', 'method': 'cash',
                                                         'bill_ids': [str(space_bill)]})
    assert chosen.status_code == 302 and _statuses(in_tenant, e) == ['unpaid', 'paid']
    too_much = client.post('/billing/payments/new', data={'room': '1-1-101', 'amount': '10000', 'method': 'cash'})
    assert too_much.status_code == 422 and '预存款最多' in too_much.text


def test_refund_and_reverse_through_the_receipt(app, estate, in_tenant, client_for):
    e = estate()
    run_period(in_tenant, e, '2026-02')
    payment_id = _pay(in_tenant, e, 27033 + 1000)
    client = client_for(e.tenant, e.cashier)
    page = client.get(f'/billing/payments/{payment_id}')
    assert '最多 10.00 元' in page.text and '冲正' in page.text
    over = client.post(f'/billing/payments/{payment_id}/refund', data={'amount': '10.01', 'reason': '多交'})
    assert over.status_code == 422 and '最多可退 10.00 元' in over.text
    no_reason = client.post(f'/billing/payments/{payment_id}/refund', data={'amount': '5', 'reason': ''})
    assert no_reason.status_code == 422 and '请填写原因' in no_reason.text
    refunded = client.post(f'/billing/payments/{payment_id}/refund', data={'amount': '10', 'reason': '多交'})
    assert refunded.status_code == 302
    assert '退款' in client.get(refunded.headers['Location']).text
    reversed_ = client.post(f'/billing/payments/{payment_id}/reverse', data={'reason': '录错房号'})
    assert reversed_.status_code == 302 and _statuses(in_tenant, e) == ['unpaid', 'unpaid']
    again = client.post(f'/billing/payments/{payment_id}/reverse', data={'reason': '再来'})
    assert again.status_code == 422 and '已经冲正' in again.text
    assert '已冲正' in client.get(f'/billing/payments/{payment_id}').text
    with in_tenant(e.tenant) as session:
        assert session.execute(sa.select(sa.func.count(Payment.id))).scalar_one() == 3
        assert session.execute(sa.select(sa.func.sum(PaymentAllocation.amount_fen))).scalar_one() == 0


def test_room_account_statement(app, estate, in_tenant, client_for):
    e = estate()
    run_period(in_tenant, e, '2026-02')
    _pay(in_tenant, e, 21033)
    client = client_for(e.tenant, e.cashier)
    page = client.get(f'/billing/rooms/{e.rooms["1-1-101"]}/account')
    assert page.status_code == 200
    assert '60.00' in page.text and '1 张未缴账单' in page.text and 'SJ20' in page.text
    _pay(in_tenant, e, 6000 + 5000)
    page = client.get(f'/billing/rooms/{e.rooms["1-1-101"]}/account')
    assert '50.00' in page.text and '0 张未缴账单' in page.text


def test_who_may_see_payments_and_other_tenants_get_404(app, estate, in_tenant, client_for):
    e, other = estate(), estate('别的小区')
    run_period(in_tenant, other, '2026-02')
    foreign = _pay(in_tenant, other, 500)
    mine = _pay(in_tenant, e, 500)
    for user, status in ((e.admin, 200), (e.cashier, 200), (e.desk, 403), (e.owner_user, 403)):
        client = client_for(e.tenant, user)
        for url in ('/billing/payments', '/billing/payments/new', f'/billing/payments/{mine}',
                    f'/billing/rooms/{e.rooms["1-1-101"]}/account'):
            assert client.get(url).status_code == status, (user, url)
    admin = client_for(e.tenant, e.admin)
    assert admin.get(f'/billing/payments/{foreign}').status_code == 404
    assert admin.get(f'/billing/rooms/{other.rooms["1-1-101"]}/account').status_code == 404
    assert admin.post(f'/billing/payments/{foreign}/refund', data={'amount': '1', 'reason': 'x'}).status_code == 404
    assert admin.post(f'/billing/payments/{foreign}/reverse', data={'reason': 'x'}).status_code == 404
    assert admin.get(f'/my/payments/{foreign}').status_code == 404
    assert admin.get(f'/my/payments/{mine}').status_code == 404  # not a resident: nothing of their own


def test_list_statements_do_not_grow_with_rows(app, estate, in_tenant, client_for):
    e = estate()
    run_period(in_tenant, e, '2026-02')
    _pay(in_tenant, e, 100)
    client = client_for(e.tenant, e.cashier)
    with count_queries(app) as few:
        client.get('/billing/payments')
    for code in ('1-1-102', '2-1-201', '1-1-101', '1-1-103'):
        _pay(in_tenant, e, 100, code=code)
    with count_queries(app) as more:
        client.get('/billing/payments')
    assert len(few) == len(more)
    owner = client_for(e.tenant, e.owner_user)
    with count_queries(app) as mine:
        owner.get('/my/payments')
    _pay(in_tenant, e, 100)
    with count_queries(app) as mine_more:
        owner.get('/my/payments')
    assert len(mine) == len(mine_more)


def test_resident_sees_only_their_rooms_payments(app, estate, in_tenant, client_for):
    e, other = estate(), estate('别的小区')
    run_period(in_tenant, e, '2026-02')
    mine = _pay(in_tenant, e, 21033)
    neighbours = _pay(in_tenant, e, 28200, code='1-1-102')
    foreign = _pay(in_tenant, other, 100)
    client = client_for(e.tenant, e.owner_user)
    page = client.get('/my/payments')
    assert page.status_code == 200 and page.text.count('/my/payments/') == 1
    receipt = client.get(f'/my/payments/{mine}')
    assert receipt.status_code == 200 and '贰佰壹拾元叁角叁分' in receipt.text and '2026-02' in receipt.text
    assert client.get(f'/my/payments/{neighbours}').status_code == 404
    assert client.get(f'/my/payments/{foreign}').status_code == 404
    assert client.get(f'/billing/payments/{mine}').status_code == 403
    assert '暂无缴费记录' in client_for(other.tenant, other.neighbour_user).get('/my/payments').text
