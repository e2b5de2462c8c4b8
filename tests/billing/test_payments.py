"""Payments (收款): allocation oldest first or as chosen, partial payments, prepaid balance and its cap, refunds and
reversals as new rows, receipt numbers — with the books checked after every step.

Estate: tests/billing/test_runs.py. Room 1-1-101 has a property-fee bill (21033 fen in February) and a parking bill
(6000 fen, space B1-001) per month; in April its property bill also carries the quarterly rubbish fee (39033).
"""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from propsaas.billing import payments
from propsaas.billing.models import Bill, Payment, PaymentAllocation
from propsaas.errors import DomainError
from propsaas.property.models import Room
from tests.billing.test_runs import build_estate, run_period

MARCH = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)


@pytest.fixture
def estate(make_tenant, make_user, in_tenant):
    return lambda name='收费小区': build_estate(make_tenant, make_user, in_tenant, name)


def room_bills(session, e, code: str) -> list[Bill]:
    return list(session.execute(sa.select(Bill).where(Bill.room_id == e.rooms[code])
                                .order_by(Bill.due_on, Bill.id)).scalars())


def check_books(session) -> None:
    """Every bill's balance is its total minus its allocations, its status agrees, all money is integer fen."""
    paid = payments.paid_by_bill(session.execute(sa.select(Bill.id)).scalars())
    for bill in session.execute(sa.select(Bill)).scalars():
        settled = paid.get(bill.id, 0)
        assert type(bill.total_fen) is int and type(settled) is int
        assert payments.balance(bill) == bill.total_fen - settled
        assert 0 <= settled <= bill.total_fen
        if bill.status != 'void':
            expected = 'paid' if settled == bill.total_fen else 'partial' if settled else 'unpaid'
            assert bill.status == expected, (bill.number, bill.status, settled)
    for amount in session.execute(sa.select(Payment.amount_fen)).scalars():
        assert type(amount) is int and amount > 0
    for amount in session.execute(sa.select(PaymentAllocation.amount_fen)).scalars():
        assert type(amount) is int and amount != 0


def snapshot(session) -> set:
    rows = set()
    for table in (Payment.__table__, PaymentAllocation.__table__):
        rows |= {(table.name, *row) for row in session.execute(sa.select(table)).all()}
    return rows


class Ledger:
    """Asserts that payment and allocation rows only ever grow (never updated, never deleted)."""

    def __init__(self):
        self.rows = set()

    def check(self, session):
        check_books(session)
        now = snapshot(session)
        assert self.rows <= now
        self.rows = now


def room(session, e, code='1-1-101') -> Room:
    return session.get(Room, e.rooms[code])


def test_one_payment_settles_several_bills_oldest_first_and_leaves_a_partial(app, estate, in_tenant):
    e = estate()
    run_period(in_tenant, e, '2026-04')
    run_period(in_tenant, e, '2026-02')  # created later, due earlier: still settled first
    ledger = Ledger()
    with in_tenant(e.tenant) as session:
        payment = payments.record_payment(room(session, e), 30000, 'cash', paid_at=MARCH, by_user_id=e.cashier)
        assert payment.number == 'SJ202603-000001' and payment.kind == 'payment'
        assert payment.payer_name == '王业主' and payment.payer_resident_id == e.residents['1-1-101']
        feb_room, feb_space, apr_room, apr_space = room_bills(session, e, '1-1-101')
        assert (feb_room.period, feb_room.total_fen, feb_space.total_fen, apr_room.total_fen) == \
               ('2026-02', 21033, 6000, 39033)
        assert [b.status for b in (feb_room, feb_space, apr_room, apr_space)] == ['paid', 'paid', 'partial', 'unpaid']
        assert payments.balance(apr_room) == 39033 - (30000 - 27033)
        assert [(a.bill_id, a.amount_fen) for a in payment.allocations] == \
               [(feb_room.id, 21033), (feb_space.id, 6000), (apr_room.id, 2967)]
        assert payments.prepaid_fen(e.rooms['1-1-101']) == 0
        ledger.check(session)
        rest = payments.balance(apr_room) + apr_space.total_fen
        second = payments.record_payment(room(session, e), rest, 'pos', reference='POS-778', paid_at=MARCH)
        assert second.number == 'SJ202603-000002'
        assert {b.status for b in room_bills(session, e, '1-1-101')} == {'paid'}
        ledger.check(session)
        with pytest.raises(DomainError) as online:  # online methods come through their providers only
            payments.record_payment(room(session, e), 100, 'wechat')
        assert online.value.field == 'method'


def test_the_payer_may_choose_which_bills(app, estate, in_tenant):
    e = estate()
    run_period(in_tenant, e, '2026-02')
    run_period(in_tenant, e, '2026-04')
    ledger = Ledger()
    with in_tenant(e.tenant) as session:
        feb_room, feb_space, apr_room, apr_space = room_bills(session, e, '1-1-101')
        payment = payments.record_payment(room(session, e), 12000, 'bank_transfer',
                                          bill_ids=[apr_space.id, feb_space.id])
        assert [(a.bill_id, a.amount_fen) for a in payment.allocations] == [(feb_space.id, 6000),
                                                                           (apr_space.id, 6000)]
        assert (feb_room.status, feb_space.status, apr_room.status, apr_space.status) == \
               ('unpaid', 'paid', 'unpaid', 'paid')
        ledger.check(session)
        neighbour = room_bills(session, e, '1-1-102')[0]
        for bad in ([neighbour.id], [feb_space.id], []):  # another room's, one paid already, none
            with pytest.raises(DomainError) as refused:
                payments.record_payment(room(session, e), 100, 'cash', bill_ids=bad)
            assert refused.value.field == 'bill_ids'
        ledger.check(session)


def test_overpayment_is_prepaid_and_settles_the_next_bills(app, estate, in_tenant):
    e = estate()
    run_period(in_tenant, e, '2026-02')
    ledger = Ledger()
    with in_tenant(e.tenant) as session:
        payment = payments.record_payment(room(session, e), 27033 + 50000, 'cash', paid_at=MARCH)
        assert payments.prepaid_fen(e.rooms['1-1-101']) == 50000
        assert payments.payment_state(payment)['unallocated'] == 50000
        assert payments.settle_from_prepaid(room(session, e)) == 0  # nothing open
        payment_id = payment.id
        ledger.check(session)
    run_period(in_tenant, e, '2026-04')  # the bill run settles the new bills from the prepaid money at once
    with in_tenant(e.tenant) as session:
        assert {b.status for b in room_bills(session, e, '1-1-101')} == {'paid'}  # April: 39033 + 6000
        assert payments.prepaid_fen(e.rooms['1-1-101']) == 50000 - 45033
        assert payments.settle_rooms() == 0  # idempotent
        allocations = session.execute(sa.select(PaymentAllocation).where(
            PaymentAllocation.payment_id == payment_id)).scalars().all()
        assert sum(a.amount_fen for a in allocations) == 27033 + 45033  # the same payment's money, allocated later
        ledger.check(session)
    run_period(in_tenant, e, '2026-05')  # 27033 more: the 4967 left settles part of it
    with in_tenant(e.tenant) as session:
        assert payments.settle_from_prepaid(room(session, e)) == 0
        statuses = [b.status for b in room_bills(session, e, '1-1-101') if b.period == '2026-05']
        assert statuses == ['partial', 'unpaid'] and payments.prepaid_fen(e.rooms['1-1-101']) == 0
        ledger.check(session)


def test_prepayment_is_capped_at_twelve_months_of_charges(app, estate, in_tenant):
    e = estate()
    with in_tenant(e.tenant) as session:  # no bills yet: no basis for a cap
        payments.record_payment(room(session, e, '1-1-102'), 10_000_000, 'bank_transfer')
        assert payments.prepay_cap_fen(e.rooms['1-1-102']) is None
    run_period(in_tenant, e, '2026-02')
    with in_tenant(e.tenant) as session:
        assert payments.prepay_cap_fen(e.rooms['1-1-101']) == 27033 * 12
        with pytest.raises(DomainError) as refused:
            payments.record_payment(room(session, e), 27033 + 27033 * 12 + 1, 'cash')
        assert refused.value.field == 'amount' and '预存款最多 3243.96 元' in str(refused.value.message)
        payments.record_payment(room(session, e), 27033 + 27033 * 12, 'cash')
        assert payments.prepaid_fen(e.rooms['1-1-101']) == 27033 * 12
        with pytest.raises(DomainError):
            payments.record_payment(room(session, e), 1, 'cash')


def test_refund_only_the_unallocated_part_then_reverse_the_rest(app, estate, in_tenant):
    e = estate()
    run_period(in_tenant, e, '2026-02')
    ledger = Ledger()
    with in_tenant(e.tenant) as session:
        payment = payments.record_payment(room(session, e), 27033 + 1000, 'cash', paid_at=MARCH)
        ledger.check(session)
        with pytest.raises(DomainError) as too_much:
            payments.refund(payment, 1001, '多交退回')
        assert '最多可退 10.00 元' in str(too_much.value.message)
        with pytest.raises(DomainError) as no_reason:
            payments.refund(payment, 100, ' ')
        assert no_reason.value.field == 'reason'
        first = payments.refund(payment, 600, '多交退回', by_user_id=e.cashier)
        assert first.kind == 'refund' and first.reverses_id == payment.id and first.amount_fen == 600
        assert first.number.startswith('SJ') and first.number.endswith('-000002')
        with pytest.raises(DomainError):
            payments.refund(payment, 401, '再退')
        payments.refund(payment, 400, '再退')
        assert payments.prepaid_fen(e.rooms['1-1-101']) == 0
        with pytest.raises(DomainError):
            payments.refund(payment, 1, '没有了')
        ledger.check(session)
        with pytest.raises(DomainError):
            payments.refund(first, 1, '退款的退款')  # only payments are refunded
        reversal = payments.reverse(payment, '录错房号', by_user_id=e.admin)
        assert reversal.kind == 'reversal' and reversal.amount_fen == 27033  # 28033 less the 1000 refunded
        assert sorted(a.amount_fen for a in reversal.allocations) == [-21033, -6000]
        assert {b.status for b in room_bills(session, e, '1-1-101')} == {'unpaid'}
        assert payments.prepaid_fen(e.rooms['1-1-101']) == 0
        ledger.check(session)
        with pytest.raises(DomainError):
            payments.reverse(payment, '再冲一次')
        with pytest.raises(DomainError):
            payments.refund(payment, 1, '冲正后退款')
        ledger.check(session)


def test_reversal_restores_balances_and_an_unspent_payment_reverses_whole(app, estate, in_tenant):
    e = estate()
    run_period(in_tenant, e, '2026-02')
    ledger = Ledger()
    with in_tenant(e.tenant) as session:
        first = payments.record_payment(room(session, e), 10000, 'cash')
        second = payments.record_payment(room(session, e), 20000, 'cash')
        feb_room, feb_space = room_bills(session, e, '1-1-101')
        assert (feb_room.status, feb_space.status, payments.prepaid_fen(e.rooms['1-1-101'])) == ('paid', 'paid', 2967)
        ledger.check(session)
        payments.reverse(first, '重复录入')
        assert (feb_room.status, feb_space.status) == ('partial', 'paid')
        assert payments.balance(feb_room) == 10000
        ledger.check(session)
        assert payments.settle_from_prepaid(room(session, e)) == 2967  # the second payment's rest
        assert payments.balance(feb_room) == 10000 - 2967
        payments.reverse(second, '整笔退回重收')
        assert {b.status for b in room_bills(session, e, '1-1-101')} == {'unpaid'}
        assert payments.prepaid_fen(e.rooms['1-1-101']) == 0
        ledger.check(session)
        prepaid_only = payments.record_payment(room(session, e, '1-1-104'), 5000, 'cash')  # no bills: all prepaid
        assert payments.reverse(prepaid_only, '交错了').amount_fen == 5000
        ledger.check(session)


def test_amounts_are_integer_fen_only(app, estate, in_tenant):
    e = estate()
    with in_tenant(e.tenant) as session:
        for bad in (100.0, Decimal('100'), '100', True, 0, -5, 10**10):
            with pytest.raises(DomainError) as refused:
                payments.record_payment(room(session, e), bad, 'cash')
            assert refused.value.field == 'amount'
        assert session.execute(sa.select(sa.func.count(Payment.id))).scalar_one() == 0


def test_receipt_numbers_are_unique_and_sequential_per_tenant(app, estate, in_tenant):
    e, other = estate(), estate('别的小区')
    with in_tenant(e.tenant) as session:
        numbers = [payments.record_payment(room(session, e), 100 + n, 'cash', paid_at=MARCH).number
                   for n in range(3)]
        numbers.append(payments.refund(session.execute(sa.select(Payment).order_by(Payment.id)).scalars().first(),
                                       50, '退').number)
    with in_tenant(other.tenant) as session:
        foreign = payments.record_payment(room(session, other), 100, 'cash', paid_at=MARCH).number
    assert numbers[:3] == ['SJ202603-000001', 'SJ202603-000002', 'SJ202603-000003']
    assert numbers[3].endswith('-000004') and len(set(numbers)) == 4
    assert foreign == 'SJ202603-000001'  # per tenant
