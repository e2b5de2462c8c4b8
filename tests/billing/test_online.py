"""Online payments through the sandbox provider: the resident's whole flow, the notification's checks (SECURITY.md
14-15), ten concurrent copies of one notification, 代扣 with its failure path, and the admin's settings.

Estate: tests/billing/test_runs.py (room 1-1-101: a property-fee bill of 21033 fen and a parking bill of 6000 fen in
February; 业主王 lives there).
"""
from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from propsaas.billing import online
from propsaas.billing.models import AutopayMandate, Bill, Payment, PaymentAllocation, PaymentOrder
from propsaas.billing.providers import sandbox as sandbox_provider
from propsaas.notices.models import Message
from propsaas.property.models import Room
from tests.billing.test_payments import check_books
from tests.billing.test_runs import build_estate, run_period


@pytest.fixture
def estate(make_tenant, make_user, in_tenant):
    def make(name='在线缴费小区', *, sandbox=True, decline=False):
        e = build_estate(make_tenant, make_user, in_tenant, name)
        run_period(in_tenant, e, '2026-02')
        if sandbox:
            with in_tenant(e.tenant) as session:
                online.save_settings('sandbox', enabled=True, values={'decline_charges': '1' if decline else ''})
                session.commit()
        return e
    return make


def bills_of(in_tenant, e, code='1-1-101') -> list:
    """(id, status, total_fen) of the room's bills, oldest first."""
    with in_tenant(e.tenant) as session:
        return session.execute(sa.select(Bill.id, Bill.status, Bill.total_fen).where(Bill.room_id == e.rooms[code])
                               .order_by(Bill.due_on, Bill.id)).all()


def money_rows(in_tenant, e) -> tuple:
    with in_tenant(e.tenant) as session:
        return (session.execute(sa.select(Payment.__table__)).all(),
                session.execute(sa.select(PaymentAllocation.__table__)).all(),
                session.execute(sa.select(Bill.id, Bill.status).order_by(Bill.id)).all(),
                session.execute(sa.select(PaymentOrder.id, PaymentOrder.status).order_by(PaymentOrder.id)).all())


def new_order(in_tenant, e, bill_ids=None, code='1-1-101', provider='sandbox') -> PaymentOrder:
    from propsaas.auth.models import User

    with in_tenant(e.tenant) as session:
        if bill_ids is None:
            bill_ids = [bill.id for bill in bills_of(in_tenant, e, code)]
        order = online.start_order(session.get(User, e.owner_user), session.get(Room, e.rooms[code]), provider,
                                   bill_ids)
        session.commit()
        session.refresh(order)
        session.expunge(order)
        return order


def signed(e, app, in_tenant, number, **changes):
    """A genuine sandbox notification for an order, with ``changes`` applied to its payload before signing."""
    with in_tenant(e.tenant) as session:
        order = session.execute(sa.select(PaymentOrder).where(PaymentOrder.number == number)).scalar_one()
        payload = {'event': 'payment', 'merchant_id': f'sandbox-{e.tenant.id}', 'order_number': order.number,
                   'status': 'SUCCESS', 'txn_id': f'SBX-T-{order.number}', 'amount_fen': order.amount_fen,
                   'currency': 'CNY', 'paid_at': '2026-02-20T02:00:00+00:00'}
    timestamp = changes.pop('timestamp', None)
    payload.update(changes)
    with app.app_context():
        return sandbox_provider.sign(e.tenant.id, payload, timestamp=timestamp)


def test_a_resident_pays_two_bills_through_the_sandbox(app, estate, in_tenant, client_for):
    e = estate()
    first, second = bills_of(in_tenant, e)
    client = client_for(e.tenant, e.owner_user)
    detail = client.get(f'/my/bills/{first.id}')
    assert f'/my/bills/{first.id}/pay' in detail.text
    page = client.get(f'/my/bills/{first.id}/pay')
    assert page.status_code == 200 and '模拟支付' in page.text and '待缴 210.33 元' in page.text
    started = client.post(f'/my/bills/{first.id}/pay', data={'bill_ids': [first.id, second.id], 'provider': 'sandbox'})
    assert started.status_code == 302 and '/pay/sandbox/orders/' in started.headers['Location']
    cashier_page = client.get(started.headers['Location'])
    assert cashier_page.status_code == 200 and '270.33' in cashier_page.text
    done = client.post(started.headers['Location'], data={'outcome': 'pay'})
    assert done.status_code == 302 and '/my/pay/orders/' in done.headers['Location']
    outcome = client.get(done.headers['Location'])
    assert outcome.status_code == 200 and '缴费成功' in outcome.text and 'Refresh' not in outcome.headers
    assert [bill.status for bill in bills_of(in_tenant, e)] == ['paid', 'paid']
    with in_tenant(e.tenant) as session:
        payment = session.execute(sa.select(Payment)).scalar_one()
        assert (payment.method, payment.amount_fen, payment.payer_name) == ('sandbox', 27033, '王业主')
        assert payment.provider_txn_id.startswith('SBX') and payment.number.startswith('SJ')
        order = session.execute(sa.select(PaymentOrder)).scalar_one()
        assert (order.status, order.payment_id) == ('paid', payment.id)
        message = session.execute(sa.select(Message).where(Message.source_key == f'payment:{payment.id}:received'))
        assert '270.33' in message.scalar_one().body
        check_books(session)
    # paying the same order again is refused by the sandbox's page; the bill has nothing left to pay
    again = client.post(started.headers['Location'], data={'outcome': 'pay'})
    assert again.status_code == 302
    assert len(money_rows(in_tenant, e)[0]) == 1
    assert '这个房屋没有待缴账单' in client.get(f'/my/bills/{first.id}/pay').text


def test_a_failed_payment_leaves_the_bill_unpaid(app, estate, in_tenant, client_for):
    e = estate()
    first, _second = bills_of(in_tenant, e)
    client = client_for(e.tenant, e.owner_user)
    started = client.post(f'/my/bills/{first.id}/pay', data={'bill_ids': [first.id], 'provider': 'sandbox'})
    done = client.post(started.headers['Location'], data={'outcome': 'fail'})
    assert '支付未成功' in client.get(done.headers['Location']).text
    assert [bill.status for bill in bills_of(in_tenant, e)] == ['unpaid', 'unpaid']
    with in_tenant(e.tenant) as session:
        assert session.execute(sa.select(PaymentOrder.status)).scalar_one() == 'failed'
        assert session.execute(sa.select(sa.func.count(Payment.id))).scalar_one() == 0


def test_paying_needs_an_enabled_provider_and_own_open_bills(app, estate, in_tenant, client_for):
    e = estate(sandbox=False)
    first, _second = bills_of(in_tenant, e)
    owner = client_for(e.tenant, e.owner_user)
    assert '暂未开通在线缴费' in owner.get(f'/my/bills/{first.id}/pay').text
    refused = owner.post(f'/my/bills/{first.id}/pay', data={'bill_ids': [first.id], 'provider': 'sandbox'})
    assert refused.status_code == 422 and '没有开通这种支付方式' in refused.text
    with in_tenant(e.tenant) as session:
        online.save_settings('sandbox', enabled=True, values={})
        session.commit()
    # a neighbour may not pay (or even see) this room's bills; staff have no 'my bills'
    assert client_for(e.tenant, e.neighbour_user).get(f'/my/bills/{first.id}/pay').status_code == 404
    assert client_for(e.tenant, e.cashier).get(f'/my/bills/{first.id}/pay').status_code == 404
    nothing = owner.post(f'/my/bills/{first.id}/pay', data={'provider': 'sandbox'})
    assert nothing.status_code == 422 and '请选择要缴的账单' in nothing.text
    foreign = owner.post(f'/my/bills/{first.id}/pay', data={'bill_ids': [first.id, 10 ** 9], 'provider': 'sandbox'})
    assert foreign.status_code == 422 and '不是这个房屋的未缴账单' in foreign.text
    junk = owner.post(f'/my/bills/{first.id}/pay', data={'bill_ids': ['x'], 'provider': 'sandbox'})
    assert junk.status_code == 422
    assert money_rows(in_tenant, e)[3] == []


def _post_notice(app, e, headers, body):
    client = app.test_client()
    return client.post('/pay/notify/sandbox', data=body, headers={**headers, 'Content-Type': 'application/json'},
                       base_url=f'http://{e.tenant.slug}.localhost', csrf=False)


def test_forged_stale_or_mismatched_notifications_are_refused_and_change_nothing(app, estate, in_tenant):
    e = estate()
    order = new_order(in_tenant, e)
    before = money_rows(in_tenant, e)
    now = int(time.time())
    cases = {
        'wrong amount': signed(e, app, in_tenant, order.number, amount_fen=order.amount_fen - 1),
        'amount as a float': signed(e, app, in_tenant, order.number, amount_fen=order.amount_fen / 100),
        'wrong currency': signed(e, app, in_tenant, order.number, currency='USD'),
        'wrong merchant': signed(e, app, in_tenant, order.number, merchant_id='sandbox-999999'),
        'unknown order': signed(e, app, in_tenant, order.number, order_number='PO0000000000000000000'),
        'stale': signed(e, app, in_tenant, order.number, timestamp=now - 3600),
        'from the future': signed(e, app, in_tenant, order.number, timestamp=now + 3600),
    }
    headers, body = signed(e, app, in_tenant, order.number)
    cases['bad signature'] = ({**headers, 'X-Sandbox-Signature': '0' * 64}, body)
    cases['tampered body'] = (headers, body.replace(b'"SUCCESS"', b'"SUCCESS" ', 1))
    cases['no headers'] = ({}, body)
    cases['not json'] = signed(e, app, in_tenant, order.number)[0], b'{{{'
    for name, (h, b) in cases.items():
        response = _post_notice(app, e, h, b)
        assert response.status_code == 400, name
        assert json.loads(response.text)['code'] == 'FAIL', name
    assert money_rows(in_tenant, e) == before
    # the genuine one is believed
    assert _post_notice(app, e, headers, body).status_code == 200
    assert [bill.status for bill in bills_of(in_tenant, e)] == ['paid', 'paid']


def test_a_flood_of_refused_notifications_is_slowed_and_genuine_ones_still_arrive(app, estate, in_tenant,
                                                                                monkeypatch):
    monkeypatch.setitem(app.config, 'NOTIFY_REFUSED_LIMIT_PER_CLIENT', '3 per minute')
    e = estate()
    order = new_order(in_tenant, e)
    headers, body = signed(e, app, in_tenant, order.number)
    forged = {**headers, 'X-Sandbox-Signature': '0' * 64}
    flooder = app.test_client()
    flooder.environ_base['REMOTE_ADDR'] = '198.51.100.66'

    def post(client, h):
        return client.post('/pay/notify/sandbox', data=body, headers={**h, 'Content-Type': 'application/json'},
                           base_url=f'http://{e.tenant.slug}.localhost', csrf=False)

    assert [post(flooder, forged).status_code for _ in range(4)] == [400, 400, 400, 429]
    # the provider, from its own address, is not slowed down by the flood, and its notification is believed
    assert _post_notice(app, e, headers, body).status_code == 200
    assert [bill.status for bill in bills_of(in_tenant, e)] == ['paid', 'paid']


def test_a_notification_on_another_projects_host_is_refused(app, estate, in_tenant):
    a, b = estate('甲小区'), estate('乙小区')
    order = new_order(in_tenant, a)
    headers, body = signed(a, app, in_tenant, order.number)
    assert _post_notice(app, b, headers, body).status_code == 400  # B's key, B's orders: neither matches
    assert money_rows(in_tenant, b)[0] == [] and money_rows(in_tenant, a)[0] == []
    # a provider the project has not enabled is not there at all
    assert app.test_client().post('/pay/notify/wechat', data=b'{}', base_url=f'http://{a.tenant.slug}.localhost',
                                  csrf=False).status_code == 404


def test_ten_concurrent_copies_of_a_notification_credit_once(app, estate, in_tenant):
    e = estate()
    order = new_order(in_tenant, e)
    headers, body = signed(e, app, in_tenant, order.number)
    answers, gate = [], threading.Barrier(10)

    def deliver():
        gate.wait()
        response = _post_notice(app, e, headers, body)
        answers.append((response.status_code, json.loads(response.text)['code']))

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [(200, 'SUCCESS')] * 10
    with in_tenant(e.tenant) as session:
        assert session.execute(sa.select(sa.func.count(Payment.id))).scalar_one() == 1
        assert session.execute(sa.select(sa.func.sum(PaymentAllocation.amount_fen))).scalar_one() == 27033
        check_books(session)
    # an eleventh, later: success again, nothing changes
    assert _post_notice(app, e, headers, body).status_code == 200
    assert len(money_rows(in_tenant, e)[0]) == 1


def test_money_arriving_for_bills_paid_meanwhile_becomes_prepaid(app, estate, in_tenant):
    from propsaas.billing import payments

    e = estate()
    first, _second = bills_of(in_tenant, e)
    order = new_order(in_tenant, e, [first.id])
    with in_tenant(e.tenant) as session:
        payments.record_payment(session.get(Room, e.rooms['1-1-101']), 21033, 'cash', bill_ids=[first.id])
        session.commit()
    assert _post_notice(app, e, *signed(e, app, in_tenant, order.number)).status_code == 200
    with in_tenant(e.tenant) as session:
        # the parking bill (still open) takes 6000 of it, the rest is prepaid
        assert [bill.status for bill in bills_of(in_tenant, e)] == ['paid', 'paid']
        assert payments.prepaid_fen(e.rooms['1-1-101']) == 21033 - 6000
        check_books(session)


def test_autopay_signed_charged_declined_and_cancelled(app, estate, in_tenant, client_for):
    e = estate()
    client = client_for(e.tenant, e.owner_user)
    page = client.get('/my/autopay')
    assert page.status_code == 200 and '开通自动代扣' in page.text
    started = client.post('/my/autopay', data={'room_id': e.rooms['1-1-101'], 'provider': 'sandbox'})
    assert started.status_code == 302 and '/pay/sandbox/mandates/' in started.headers['Location']
    signed_page = client.post(started.headers['Location'], data={'outcome': 'sign'})
    assert signed_page.status_code == 302
    assert '已签约' in client.get('/my/autopay').text
    with in_tenant(e.tenant) as session:
        mandate = session.execute(sa.select(AutopayMandate)).scalar_one()
        assert mandate.status == 'active' and mandate.agreement_no
        mandate_id = mandate.id
        # before the due date (2026-02-28) nothing is charged; on it, both bills once
        assert online.charge_due_bills('2026-02-27') == {'charged': 0, 'declined': 0, 'closed_orders': 0}
        assert online.charge_due_bills('2026-02-28')['charged'] == 2
    assert [bill.status for bill in bills_of(in_tenant, e)] == ['paid', 'paid']
    with in_tenant(e.tenant) as session:
        assert online.charge_due_bills('2026-03-01')['charged'] == 0
        orders = session.execute(sa.select(PaymentOrder).order_by(PaymentOrder.id)).scalars().all()
        assert [(o.status, o.mandate_id) for o in orders] == [('paid', mandate_id)] * 2
        check_books(session)
    assert '代扣记录' in client.get('/my/autopay').text
    cancelled = client.post(f'/my/autopay/{mandate_id}/cancel', data={'reason': '改为自己缴'})
    assert cancelled.status_code == 302
    run_period(in_tenant, e, '2026-03')
    with in_tenant(e.tenant) as session:
        assert session.get(AutopayMandate, mandate_id).status == 'cancelled'
        assert online.charge_due_bills('2026-03-28')['charged'] == 0


def test_a_declined_charge_fails_the_order_tells_the_resident_and_leaves_the_bill_open(app, estate, in_tenant):
    from propsaas.auth.models import User

    e = estate(decline=True)
    with in_tenant(e.tenant) as session:
        mandate = online.start_mandate(session.get(User, e.owner_user), session.get(Room, e.rooms['1-1-101']),
                                       'sandbox')
        session.commit()
        online.deliver_sandbox_notice(mandate, succeeded=True)
        assert online.charge_due_bills('2026-02-28') == {'charged': 0, 'declined': 2, 'closed_orders': 0}
        reasons = session.execute(sa.select(PaymentOrder.failure_reason)).scalars().all()
        assert reasons == ['余额不足（模拟）'] * 2
        messages = session.execute(sa.select(Message.body).where(Message.source_key.like('autopay:%'))).scalars()
        assert all('自动代扣未成功' in body for body in messages)
        # tried once per bill: the next day charges nothing again (the ordinary reminders take over)
        assert online.charge_due_bills('2026-03-01')['declined'] == 0
    assert [bill.status for bill in bills_of(in_tenant, e)] == ['unpaid', 'unpaid']


def test_admin_configures_providers_secrets_are_write_only(app, estate, in_tenant, client_for):
    e = estate(sandbox=False)
    admin = client_for(e.tenant, e.admin)
    page = admin.get('/billing/payment-settings')
    assert page.status_code == 200 and '模拟支付' in page.text and '/pay/notify/sandbox' in page.text
    saved = admin.post('/billing/payment-settings/sandbox', data={'enabled': 'y', 'decline_charges': ''})
    assert saved.status_code == 302
    with in_tenant(e.tenant):
        assert online.enabled_providers() == ['sandbox']
    assert client_for(e.tenant, e.cashier).get('/billing/payment-settings').status_code == 403
    assert admin.post('/billing/payment-settings/paypal', data={'enabled': 'y'}).status_code == 404
    assert client_for(e.tenant, e.cashier).get('/billing/payment-orders').status_code == 200


def test_the_sandbox_is_offered_only_where_the_operator_allows_it(app, estate, in_tenant):
    e = estate()
    app.config['PAYMENT_SANDBOX'] = False
    try:
        with in_tenant(e.tenant):
            assert 'sandbox' not in online.offered_providers() and online.enabled_providers() == []
    finally:
        app.config['PAYMENT_SANDBOX'] = True


def test_expired_orders_close_but_a_late_notification_still_credits(app, estate, in_tenant):
    e = estate()
    order = new_order(in_tenant, e)
    with in_tenant(e.tenant) as session:
        session.execute(sa.update(PaymentOrder).values(expires_at=datetime(2020, 1, 1, tzinfo=UTC)))
        assert online.close_expired() == 1
        session.commit()
    assert _post_notice(app, e, *signed(e, app, in_tenant, order.number)).status_code == 200
    with in_tenant(e.tenant) as session:
        assert session.execute(sa.select(PaymentOrder.status)).scalar_one() == 'paid'


def test_paying_and_autopay_over_the_api(app, estate, in_tenant):
    from tests.billing.test_runs import api_token

    e = estate()
    first, second = bills_of(in_tenant, e)
    client = app.test_client()
    client.base = f'http://{e.tenant.slug}.localhost'
    owner, neighbour = api_token(in_tenant, e, e.owner_user), api_token(in_tenant, e, e.neighbour_user)
    cashier = api_token(in_tenant, e, e.cashier)
    started = client.post('/api/v1/me/payment-orders', json={'bill_ids': [first.id, second.id],
                                                             'provider': 'sandbox'}, headers=owner)
    assert started.status_code == 201, started.json
    order = started.json['order']
    assert order['amount_fen'] == 27033 and order['status'] == 'pending'
    assert f'/pay/sandbox/orders/{order["id"]}' in started.json['checkout']['redirect_url']
    for bad in ({'bill_ids': [first.id], 'provider': 'paypal'}, {'bill_ids': [], 'provider': 'sandbox'},
                {'bill_ids': ['x'], 'provider': 'sandbox'}, {'provider': 'sandbox'}):
        assert client.post('/api/v1/me/payment-orders', json=bad, headers=owner).status_code == 422, bad
    # the neighbour's token reaches neither the bills nor the order
    assert client.post('/api/v1/me/payment-orders', json={'bill_ids': [first.id], 'provider': 'sandbox'},
                       headers=neighbour).status_code == 404
    assert client.get(f'/api/v1/me/payment-orders/{order["id"]}', headers=neighbour).status_code == 404
    assert _post_notice(app, e, *signed(e, app, in_tenant, order['number'])).status_code == 200
    paid = client.get(f'/api/v1/me/payment-orders/{order["id"]}', headers=owner).json
    assert paid['status'] == 'paid' and paid['payment_id']
    listed = client.get('/api/v1/billing/payment-orders?status=paid', headers=cashier).json
    assert [item['id'] for item in listed['items']] == [order['id']]
    assert client.get('/api/v1/billing/payment-orders', headers=owner).status_code == 403

    assert client.get('/api/v1/me/autopay', headers=owner).json == {'providers': ['sandbox'], 'mandates': []}
    signed_up = client.post('/api/v1/me/autopay', json={'room_id': e.rooms['1-1-101'], 'provider': 'sandbox'},
                            headers=owner)
    assert signed_up.status_code == 201 and signed_up.json['mandate']['status'] == 'pending'
    mandate_id = signed_up.json['mandate']['id']
    assert client.post('/api/v1/me/autopay', json={'room_id': e.rooms['1-1-102'], 'provider': 'sandbox'},
                       headers=owner).status_code == 422  # not the owner's room
    assert client.post(f'/api/v1/me/autopay/{mandate_id}/cancel', json={}, headers=neighbour).status_code == 404
    cancelled = client.post(f'/api/v1/me/autopay/{mandate_id}/cancel', json={'reason': '不需要'}, headers=owner)
    assert cancelled.status_code == 200 and cancelled.json['status'] == 'cancelled'
    assert client.post(f'/api/v1/me/autopay/{mandate_id}/cancel', json={}, headers=owner).status_code == 422


def test_reminders_wait_for_the_autopay_charge_and_follow_a_failed_one(app, estate, in_tenant):
    from propsaas.auth.models import User
    from propsaas.billing import dunning
    from propsaas.billing.models import Reminder

    e = estate(decline=True)
    with in_tenant(e.tenant) as session:
        mandate = online.start_mandate(session.get(User, e.owner_user), session.get(Room, e.rooms['1-1-101']),
                                       'sandbox')
        session.commit()
        online.deliver_sandbox_notice(mandate, succeeded=True)
        dunning.run_due_reminders(datetime(2026, 2, 25).date())  # 3 days before the due date (a Wednesday)
        early = session.execute(sa.select(Reminder.status, Reminder.note).join(Bill, Bill.id == Reminder.bill_id)
                                .where(Bill.room_id == e.rooms['1-1-101'])).all()
        assert early and all(row == ('skipped', '已开通自动代扣，到期日自动扣款') for row in early)
        online.charge_due_bills('2026-02-28')  # declined
        dunning.run_due_reminders(datetime(2026, 3, 9).date())  # 7 days after (a Monday): the ordinary reminder
        later = session.execute(sa.select(Reminder.status).join(Bill, Bill.id == Reminder.bill_id)
                                .where(Bill.room_id == e.rooms['1-1-101'], Reminder.step == 7)).scalars().all()
        assert later and set(later) == {'sent'}
