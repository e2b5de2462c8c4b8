"""Late fees (滞纳金): hand-computed accrual, grace boundary, partial payments, the cap, assessment in bill runs
(idempotent, increments only, building runs, late-fee-only bills), no late fee on a late fee, the preview, waivers
and their refusals, settings and provisioning.

Estate: tests/billing/test_runs.py. Runs here bill only the lift property fee, so the February bills (due
2026-02-28) are 1-1-101: 21033 fen and 1-1-102: 28200 fen. With 0.0005 a day and 15 days' grace, late fees accrue
from 2026-03-16; a run issued on 2026-04-01 counts through 2026-03-31: 16 days.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest
import sqlalchemy as sa

from propsaas.billing import late_fees, payments, runs
from propsaas.billing.models import Bill, BillLine, BillRun, FeeItem, PaymentAllocation
from propsaas.errors import DomainError
from propsaas.property.models import Room
from propsaas.tenancy import clock
from propsaas.tenancy.models import Tenant
from tests.billing.test_runs import build_estate, run_period

RATE, GRACE, CAP = Decimal('0.0005'), 15, Decimal('100')
DUE = date(2026, 1, 31)


# --- accrual, by hand ---------------------------------------------------------------------------------------------

def test_hand_computed_accrual_thirty_days_overdue():
    # 100.00 元 due 31 Jan, 15 days' grace: charged from 16 Feb; through 17 Mar that is 30 days
    accrual = late_fees.accrue(10000, DUE, date(2026, 3, 17), [], RATE, GRACE, CAP)
    assert accrual.accrued_fen == 150  # 10000 × 0.0005 × 30
    assert (accrual.start, accrual.end, accrual.days) == (date(2026, 2, 16), date(2026, 3, 17), 30)
    assert accrual.cap_fen == 10000 and not accrual.capped
    assert late_fees.formula(accrual, RATE, CAP) == '100.00 元 × 0.05% × 30 天 = 1.50 元'


def test_grace_boundary_day():
    assert late_fees.accrue(10000, DUE, date(2026, 2, 15), [], RATE, GRACE, CAP).accrued_fen == 0  # last grace day
    first = late_fees.accrue(10000, DUE, date(2026, 2, 16), [], RATE, GRACE, CAP)
    assert (first.accrued_fen, first.days, first.start) == (5, 1, date(2026, 2, 16))
    assert late_fees.accrue(10000, DUE, date(2026, 2, 16), [], RATE, 0, CAP).days == 16  # no grace: from 1 Feb


def test_a_partial_payment_lowers_the_daily_principal_from_the_next_day():
    paid = [(date(2026, 2, 25), 6000)]
    accrual = late_fees.accrue(10000, DUE, date(2026, 3, 17), paid, RATE, GRACE, CAP)
    # 16-25 Feb on 100.00 (10 days), 26 Feb - 17 Mar on 40.00 (20 days): 50 + 40
    assert accrual.accrued_fen == 90 and accrual.days == 30
    assert [(s.balance_fen, s.days) for s in accrual.segments] == [(10000, 10), (4000, 20)]
    assert late_fees.formula(accrual, RATE, CAP) == '100.00 元 × 0.05% × 10 天 + 40.00 元 × 0.05% × 20 天 = 0.90 元'
    # a payment in the grace period counts from the start; one paid in full stops the accrual
    assert late_fees.accrue(10000, DUE, date(2026, 3, 17), [(date(2026, 2, 1), 5000)], RATE, GRACE,
                            CAP).accrued_fen == 75
    settled = late_fees.accrue(10000, DUE, date(2026, 3, 17), [(date(2026, 2, 20), 10000)], RATE, GRACE, CAP)
    assert (settled.accrued_fen, settled.days, settled.end) == (25, 5, date(2026, 2, 20))
    # a reversal (negative allocation) puts the balance back
    back = late_fees.accrue(10000, DUE, date(2026, 3, 17), [(date(2026, 2, 20), 10000), (date(2026, 3, 7), -10000)],
                            RATE, GRACE, CAP)
    assert back.accrued_fen == 25 + 50 and back.days == 15


def test_rounded_once_half_up_and_capped():
    # 10.00 元 × 0.05% = 0.5 fen a day: three days are 1.5 fen -> 2 (rounding each day would give 3)
    assert late_fees.accrue(1000, DUE, date(2026, 2, 18), [], RATE, GRACE, CAP).accrued_fen == 2
    capped = late_fees.accrue(10000, DUE, date(2026, 12, 31), [], RATE, GRACE, Decimal('1'))
    assert capped.accrued_fen == 100 and capped.cap_fen == 100 and capped.capped
    assert late_fees.formula(capped, RATE, Decimal('1'), 60).endswith('封顶 1% = 1.00 元，已计 0.60 元，本次 0.40 元')
    # 100 % of the principal at most, however long
    assert late_fees.accrue(10000, date(2000, 1, 1), date(2026, 1, 1), [], RATE, 0, CAP).accrued_fen == 10000
    assert late_fees.accrue(0, DUE, date(2026, 12, 31), [], RATE, GRACE, CAP).accrued_fen == 0


# --- settings -----------------------------------------------------------------------------------------------------

def test_settings_are_validated_with_reasons():
    ok = late_fees.validate_settings(enabled=True, daily_rate='0.0005', grace_days=15, cap_percent='100')
    assert ok.as_dict() == {'enabled': True, 'daily_rate': '0.0005', 'grace_days': 15, 'cap_percent': '100'}
    assert ok.percent_per_day == '0.05'
    for changes, field, text in (
            ({'daily_rate': '0.05'}, 'daily_rate', '0.1%'),  # 5 % a day: a percentage typed as a fraction
            ({'daily_rate': '0'}, 'daily_rate', '0.001%'),
            ({'daily_rate': '0.000005'}, 'daily_rate', '0.001%'),
            ({'daily_rate': 'abc'}, 'daily_rate', '每日比例'),
            ({'daily_rate': 0.0005}, 'daily_rate', '每日比例'),  # never a float
            ({'daily_rate': 'NaN'}, 'daily_rate', '每日比例'),
            ({'grace_days': -1}, 'grace_days', '宽限天数'),
            ({'grace_days': 366}, 'grace_days', '宽限天数'),
            ({'grace_days': '15'}, 'grace_days', '宽限天数'),
            ({'cap_percent': '0'}, 'cap_percent', '封顶'),
            ({'cap_percent': '150'}, 'cap_percent', '封顶'),
            ({'cap_percent': '12.345'}, 'cap_percent', '封顶'),
            ({'enabled': 'yes'}, 'enabled', '启用')):
        values = {'enabled': True, 'daily_rate': '0.0005', 'grace_days': 15, 'cap_percent': '100', **changes}
        with pytest.raises(DomainError) as info:
            late_fees.validate_settings(**values)
        assert info.value.field == field and text in str(info.value.message), changes
    assert late_fees.rate_from_percent('0.05') == Decimal('0.0005')
    assert late_fees.rate_from_percent('0.03%') == Decimal('0.0003')


def test_unreadable_or_missing_settings_mean_off():
    from types import SimpleNamespace

    assert not late_fees.settings_of(SimpleNamespace(settings={})).enabled
    broken = SimpleNamespace(settings={'late_fee': {'enabled': True, 'daily_rate': '5'}})
    assert not late_fees.settings_of(broken).enabled
    kept = SimpleNamespace(settings={'late_fee': {'enabled': True, 'daily_rate': '0.0003', 'grace_days': 0}})
    assert late_fees.settings_of(kept).as_dict() == {'enabled': True, 'daily_rate': '0.0003', 'grace_days': 0,
                                                     'cap_percent': '100'}


def test_provisioning_keeps_the_templates_late_fee_settings_and_makes_the_item(make_tenant, in_tenant):
    tenant = make_tenant()
    with in_tenant(tenant) as session:
        stored = session.get(Tenant, tenant.id).settings['late_fee']
        assert stored == {'enabled': False, 'daily_rate': '0.0005', 'grace_days': 15, 'cap_percent': '100'}
        [item] = session.execute(sa.select(FeeItem).where(FeeItem.charging == 'late_fee')).scalars().all()
        assert (item.code, item.name, item.recurring) == ('late_fee', '滞纳金', False)
        assert late_fees.late_fee_item().id == item.id  # never a second one
        assert item not in runs.selected_items()


def test_the_late_fee_item_is_not_edited_priced_deleted_or_copied(make_tenant, in_tenant):
    from propsaas.billing import fee_items, rule_admin

    tenant = make_tenant()
    with in_tenant(tenant):
        item = late_fees.late_fee_item()
        for call in (lambda: fee_items.update_fee_item(item, name='罚款'),
                     lambda: fee_items.deactivate_fee_item(item),
                     lambda: fee_items.delete_fee_item(item),
                     lambda: rule_admin.add_rule(item, scope='tenant', effective_month='2026-01', rate='1')):
            with pytest.raises(DomainError) as info:
                call()
            assert '滞纳金' in str(info.value.message)
        with pytest.raises(DomainError) as info:
            fee_items.create_fee_item(code='late_fee', name='滞纳金2', charging='fixed', amount_fen=100)
        assert info.value.field == 'code'
        with pytest.raises(DomainError):
            fee_items.create_fee_item(code='penalty', name='滞纳金2', charging='late_fee')
        assert item not in fee_items.active_items()


# --- assessment in bill runs --------------------------------------------------------------------------------------

@pytest.fixture
def estate(make_tenant, make_user, in_tenant):
    return lambda name='收费小区': build_estate(make_tenant, make_user, in_tenant, name)


def moment(day: date) -> datetime:
    return datetime.combine(day, time(2, 0), tzinfo=UTC)  # 10:00 in Shanghai


def run_on(monkeypatch, in_tenant, e, day: date, period: str, **kwargs) -> int:
    """A run issued on ``day`` (the clock pinned; the run recorded as made then), billing the lift fee only."""
    monkeypatch.setattr(clock, 'now_utc', lambda: moment(day))
    kwargs.setdefault('fee_item_ids', [e.items['lift']])
    run_id = run_period(in_tenant, e, period, **kwargs)
    with in_tenant(e.tenant) as session:
        session.execute(sa.update(BillRun).where(BillRun.id == run_id).values(created_at=moment(day)))
    return run_id


def enable(in_tenant, e, **changes) -> None:
    values = {'enabled': True, 'daily_rate': '0.0005', 'grace_days': 15, 'cap_percent': '100', **changes}
    with in_tenant(e.tenant) as session:
        late_fees.save_settings(session.get(Tenant, e.tenant.id), **values)


def bill_of(session, e, code: str, period: str) -> Bill:
    return session.execute(sa.select(Bill).where(Bill.room_id == e.rooms[code], Bill.period == period,
                                                 Bill.parking_space_id.is_(None), Bill.status != 'void')
                           .order_by(Bill.id)).scalars().first()


def late_lines(session, period: str | None = None) -> dict[str, BillLine]:
    """Live late-fee lines by subject ('latefee:<bill id>')."""
    query = (sa.select(BillLine).join(FeeItem, FeeItem.id == BillLine.fee_item_id)
             .where(FeeItem.charging == 'late_fee', BillLine.voided.is_(False)))
    if period:
        query = query.where(BillLine.period == period)
    lines = session.execute(query.order_by(BillLine.id)).scalars().all()
    return {line.subject: line for line in lines}


def pay(in_tenant, e, code: str, fen: int, day: date) -> None:
    """A cash payment allocated to the room's open bills, recorded as made on ``day``."""
    with in_tenant(e.tenant) as session:
        payment = payments.record_payment(session.get(Room, e.rooms[code]), fen, 'cash')
        session.execute(sa.update(PaymentAllocation).where(PaymentAllocation.payment_id == payment.id)
                        .values(created_at=moment(day)))


def test_disabled_tenant_gets_no_late_fees(app, estate, in_tenant, monkeypatch):
    e = estate()
    run_on(monkeypatch, in_tenant, e, date(2026, 2, 1), '2026-02')
    run_on(monkeypatch, in_tenant, e, date(2026, 6, 1), '2026-06')
    with in_tenant(e.tenant) as session:
        assert late_lines(session) == {}
        assert late_fees.assessments(session.get(Tenant, e.tenant.id), '2026-07',
                                     through=date(2026, 6, 30)).lines == []


def test_a_run_assesses_late_fees_onto_the_rooms_bill_once(app, estate, in_tenant, monkeypatch):
    e = estate()
    run_on(monkeypatch, in_tenant, e, date(2026, 2, 1), '2026-02')
    enable(in_tenant, e)
    run_on(monkeypatch, in_tenant, e, date(2026, 4, 1), '2026-04')
    with in_tenant(e.tenant) as session:
        feb = bill_of(session, e, '1-1-102', '2026-02')
        april = bill_of(session, e, '1-1-102', '2026-04')
        lines = late_lines(session, '2026-04')
        line = lines[f'latefee:{feb.id}']
        assert line.bill_id == april.id and line.amount_fen == 226  # 28200 × 0.0005 × 16 = 225.6
        assert line.description == f'滞纳金（{feb.number}，逾期 16 天）'
        assert line.basis == {'bill_id': feb.id, 'bill_number': feb.number, 'from': '2026-03-16',
                              'to': '2026-03-31', 'days': 16, 'daily_rate': '0.0005', 'grace_days': 15,
                              'principal_fen': 28200, 'cap_fen': 28200, 'accrued_fen': 226,
                              'assessed_before_fen': 0, 'formula': '282.00 元 × 0.05% × 16 天 = 2.26 元'}
        assert april.total_fen == 28200 + 226
        feb101 = bill_of(session, e, '1-1-101', '2026-02')
        assert lines[f'latefee:{feb101.id}'].amount_fen == 168  # 21033 × 0.0005 × 16 = 168.264
        assert len(lines) == 2
        run = session.execute(sa.select(BillRun).where(BillRun.period == '2026-04')).scalar_one()
        assert run.summary['items']['late_fee'] == {'fee_item_id': line.fee_item_id, 'name': '滞纳金', 'lines': 2,
                                                    'fen': 394}
        assert run.total_fen == 28200 + 21033 + 23500 + 394  # 1-1-105 is billed from April
        feb_id, feb101_id = feb.id, feb101.id
    # a re-run of April, days later, adds nothing
    again = run_on(monkeypatch, in_tenant, e, date(2026, 4, 10), '2026-04')
    with in_tenant(e.tenant) as session:
        assert len(late_lines(session)) == 2
        assert session.get(BillRun, again).bill_count == 0
    # May assesses only the increment: 16 Mar - 30 Apr is 46 days, 648.6 -> 649, less the 226 assessed
    run_on(monkeypatch, in_tenant, e, date(2026, 5, 1), '2026-05')
    with in_tenant(e.tenant) as session:
        may = late_lines(session, '2026-05')[f'latefee:{feb_id}']
        assert may.amount_fen == 649 - 226
        assert may.basis['accrued_fen'] == 649 and may.basis['assessed_before_fen'] == 226
        assert may.basis['days'] == 46 and may.description.endswith('逾期 46 天）')
        assert may.basis['formula'] == '282.00 元 × 0.05% × 46 天 = 6.49 元，已计 2.26 元，本次 4.23 元'
        # the April bill (due 28 Apr) is still in its grace period
        assert set(late_lines(session, '2026-05')) == {f'latefee:{feb_id}', f'latefee:{feb101_id}'}


def test_no_late_fee_on_a_late_fee_and_late_fee_only_bills(app, estate, in_tenant, monkeypatch):
    e = estate()
    run_on(monkeypatch, in_tenant, e, date(2026, 2, 1), '2026-02')
    enable(in_tenant, e)
    # April bills only the parking fee: 1-1-102 has no parking, yet gets a bill for its late fee
    run_on(monkeypatch, in_tenant, e, date(2026, 4, 1), '2026-04', fee_item_ids=[e.items['parking']])
    with in_tenant(e.tenant) as session:
        feb = bill_of(session, e, '1-1-102', '2026-02')
        only = bill_of(session, e, '1-1-102', '2026-04')
        assert [(line.subject, line.amount_fen) for line in only.lines] == [(f'latefee:{feb.id}', 226)]
        assert only.total_fen == 226 and only.payer_resident_id == e.residents['1-1-102']
        assert only.due_on == date(2026, 4, 28)
        # 101's late fee goes on its room bill, not on its parking space's bill
        space_bill = session.execute(sa.select(Bill).where(Bill.parking_space_id == e.space,
                                                           Bill.period == '2026-04')).scalar_one()
        assert all(not line.subject.startswith('latefee:') for line in space_bill.lines)
        assert bill_of(session, e, '1-1-101', '2026-04').lines[0].subject.startswith('latefee:')
        feb_id, only_id = feb.id, only.id
    # June: the late-fee-only bill is overdue but has no principal, so nothing accrues on it
    run_on(monkeypatch, in_tenant, e, date(2026, 6, 1), '2026-06')
    with in_tenant(e.tenant) as session:
        june = late_lines(session, '2026-06')
        assert f'latefee:{only_id}' not in june
        assert f'latefee:{feb_id}' in june
        assert late_fees.principals([only_id, feb_id]) == {feb_id: 28200}


def test_late_fee_principal_excludes_the_late_fee_lines_of_a_mixed_bill(app, estate, in_tenant, monkeypatch):
    e = estate()
    run_on(monkeypatch, in_tenant, e, date(2026, 2, 1), '2026-02')
    enable(in_tenant, e)
    run_on(monkeypatch, in_tenant, e, date(2026, 4, 1), '2026-04')
    run_on(monkeypatch, in_tenant, e, date(2026, 6, 1), '2026-06')
    with in_tenant(e.tenant) as session:
        april = bill_of(session, e, '1-1-102', '2026-04')  # 28200 + 226 late fee, due 28 Apr
        line = late_lines(session, '2026-06')[f'latefee:{april.id}']
        # charged from 14 May through 31 May (18 days) on 282.00, not on 284.26
        assert line.basis['principal_fen'] == 28200 and line.basis['days'] == 18
        assert line.amount_fen == 254  # 28200 × 0.0005 × 18 = 253.8


def test_partial_payment_mid_way_and_a_bill_paid_late(app, estate, in_tenant, monkeypatch):
    e = estate()
    run_on(monkeypatch, in_tenant, e, date(2026, 2, 1), '2026-02')
    enable(in_tenant, e)
    pay(in_tenant, e, '1-1-102', 10000, date(2026, 3, 20))  # part of February's 282.00
    pay(in_tenant, e, '1-1-101', 21033, date(2026, 3, 20))  # all of it, 5 days into the late fees
    run_on(monkeypatch, in_tenant, e, date(2026, 4, 1), '2026-04')
    with in_tenant(e.tenant) as session:
        lines = late_lines(session, '2026-04')
        feb102, feb101 = bill_of(session, e, '1-1-102', '2026-02'), bill_of(session, e, '1-1-101', '2026-02')
        # 16-20 Mar on 282.00 (5 days), 21-31 Mar on 182.00 (11 days): 70.5 + 100.1 = 170.6
        assert lines[f'latefee:{feb102.id}'].amount_fen == 171
        assert lines[f'latefee:{feb102.id}'].basis['formula'] == \
            '282.00 元 × 0.05% × 5 天 + 182.00 元 × 0.05% × 11 天 = 1.71 元'
        # paid in full on 20 Mar: 16-20 Mar, 21033 × 0.0005 × 5 = 52.58
        assert feb101.status == 'paid' and lines[f'latefee:{feb101.id}'].amount_fen == 53
        assert lines[f'latefee:{feb101.id}'].basis['to'] == '2026-03-20'
        feb101_id, feb102_id = feb101.id, feb102.id
    # the paid bill is complete: May adds nothing more for it
    run_on(monkeypatch, in_tenant, e, date(2026, 5, 1), '2026-05')
    with in_tenant(e.tenant) as session:
        assert f'latefee:{feb101_id}' not in late_lines(session, '2026-05')
        assert f'latefee:{feb102_id}' in late_lines(session, '2026-05')


def test_building_runs_assess_only_their_rooms(app, estate, in_tenant, monkeypatch):
    e = estate()
    run_on(monkeypatch, in_tenant, e, date(2026, 2, 1), '2026-02', fee_item_ids=[e.items['lift'], e.items['nolift']])
    enable(in_tenant, e)
    run_on(monkeypatch, in_tenant, e, date(2026, 4, 1), '2026-04', building_id=e.buildings['2'],
           fee_item_ids=[e.items['nolift']])
    with in_tenant(e.tenant) as session:
        feb201 = bill_of(session, e, '2-1-201', '2026-02')
        assert set(late_lines(session)) == {f'latefee:{feb201.id}'}
        assert late_lines(session)[f'latefee:{feb201.id}'].amount_fen == 48  # 6000 × 0.0005 × 16


def test_preview_shows_the_late_fee_total_and_counts_constant_statements(app, estate, in_tenant, monkeypatch):
    from tests.helpers import count_queries

    e = estate()
    run_on(monkeypatch, in_tenant, e, date(2026, 2, 1), '2026-02')
    enable(in_tenant, e)
    monkeypatch.setattr(clock, 'now_utc', lambda: moment(date(2026, 4, 1)))
    with in_tenant(e.tenant) as session:
        with count_queries(app) as small:
            summary = runs.preview(session.get(Tenant, e.tenant.id), '2026-04', fee_item_ids=[e.items['lift']])
        assert summary['items']['late_fee']['lines'] == 2 and summary['items']['late_fee']['fen'] == 226 + 168
        assert summary['bills'] == 3 and summary['total_fen'] == 28200 + 21033 + 23500 + 394
        assert session.execute(sa.select(sa.func.count(BillLine.id)).where(BillLine.period == '2026-04')
                               ).scalar_one() == 0
    with in_tenant(e.tenant) as session:  # ten more overdue rooms: the same number of statements
        room = session.get(Room, e.rooms['1-1-102'])
        for n in range(10):
            extra = Room(building_id=room.building_id, unit_id=room.unit_id, number=f'8{n:02d}', code=f'1-1-8{n:02d}',
                         floor=8, area_m2=Decimal('50.00'), billing_starts_on=date(2025, 1, 1))
            session.add(extra)
            session.flush()
            session.add(Bill(number=f'X-{n}', room_id=extra.id, period='2026-02', issued_on=date(2026, 2, 1),
                             due_on=date(2026, 2, 28), total_fen=1000, status='unpaid'))
            session.flush()
            bill_id = session.execute(sa.select(Bill.id).where(Bill.number == f'X-{n}')).scalar_one()
            session.add(BillLine(bill_id=bill_id, fee_item_id=e.items['lift'], subject=f'room:{extra.id}',
                                 period='2026-02', description='x', amount_fen=1000, basis={}))
    with in_tenant(e.tenant) as session:
        with count_queries(app) as big:
            summary = runs.preview(session.get(Tenant, e.tenant.id), '2026-04', fee_item_ids=[e.items['lift']])
        assert summary['items']['late_fee']['lines'] == 12
    assert len(big) == len(small)


# --- waivers ------------------------------------------------------------------------------------------------------

def _assessed_april(monkeypatch, in_tenant, e):
    run_on(monkeypatch, in_tenant, e, date(2026, 2, 1), '2026-02')
    enable(in_tenant, e)
    run_on(monkeypatch, in_tenant, e, date(2026, 4, 1), '2026-04')


def test_waiver_takes_the_line_out_of_the_total_and_is_never_reassessed(app, estate, in_tenant, monkeypatch):
    e = estate()
    _assessed_april(monkeypatch, in_tenant, e)
    with in_tenant(e.tenant) as session:
        feb = bill_of(session, e, '1-1-102', '2026-02')
        line = late_lines(session)[f'latefee:{feb.id}']
        april = line.bill
        late_fees.waive_line(line, ' 首次逾期，经理批准 ', by_user_id=e.cashier)
        assert line.waive_reason == '首次逾期，经理批准' and line.waived_by_id == e.cashier
        assert line.waived_at is not None and not line.voided
        assert april.total_fen == 28200 and april.status == 'unpaid'
        assert payments.balance(april) == 28200
        feb_id, line_id = feb.id, line.id
    with in_tenant(e.tenant) as session:
        again = session.get(BillLine, line_id)
        with pytest.raises(DomainError, match='已经减免'):
            late_fees.waive_line(again, '再减一次')
    # May: the waived 226 still counts as assessed, so only the increment is added
    run_on(monkeypatch, in_tenant, e, date(2026, 5, 1), '2026-05')
    with in_tenant(e.tenant) as session:
        assert late_lines(session, '2026-05')[f'latefee:{feb_id}'].amount_fen == 649 - 226


def test_waiver_refusals(app, estate, in_tenant, monkeypatch):
    e = estate()
    _assessed_april(monkeypatch, in_tenant, e)
    with in_tenant(e.tenant) as session:
        feb102, feb101 = bill_of(session, e, '1-1-102', '2026-02'), bill_of(session, e, '1-1-101', '2026-02')
        lines = late_lines(session)
        line102, line101 = lines[f'latefee:{feb102.id}'], lines[f'latefee:{feb101.id}']
        ordinary = next(x for x in line102.bill.lines if not x.subject.startswith('latefee:'))
        for bad in ('', '  ', 'x' * 201):
            with pytest.raises(DomainError) as info:
                late_fees.waive_line(line102, bad)
            assert info.value.field == 'reason'
        with pytest.raises(DomainError, match='只能减免滞纳金'):
            late_fees.waive_line(ordinary, '面积有误')
        line101_id, line102_id = line101.id, line102.id
    # 101 pays its April bill in full: the late fee was paid, so it is refunded, not waived
    pay(in_tenant, e, '1-1-101', 21033 + 168 + 21033, date(2026, 4, 2))
    with in_tenant(e.tenant) as session:
        line = session.get(BillLine, line101_id)
        assert line.bill.status == 'paid'
        with pytest.raises(DomainError, match='退款'):
            late_fees.waive_line(line, '想减免')
        assert session.get(BillLine, line101_id).waived_at is None
    # a void bill
    with in_tenant(e.tenant) as session:
        april_run = session.execute(sa.select(BillRun).where(BillRun.period == '2026-04')).scalar_one()
        runs.void_run(april_run, '单价录入错误')
    with in_tenant(e.tenant) as session:
        line = session.get(BillLine, line102_id)
        with pytest.raises(DomainError, match='作废'):
            late_fees.waive_line(line, '不收')


def test_books_stay_balanced_after_a_waiver_on_a_part_paid_bill(app, estate, in_tenant, monkeypatch):
    from tests.billing.test_payments import check_books

    e = estate()
    _assessed_april(monkeypatch, in_tenant, e)
    pay(in_tenant, e, '1-1-102', 28200 + 20000, date(2026, 4, 2))  # February, and most of April
    with in_tenant(e.tenant) as session:
        feb = bill_of(session, e, '1-1-102', '2026-02')
        line = late_lines(session)[f'latefee:{feb.id}']
        april = line.bill
        assert april.status == 'partial' and payments.balance(april) == 28200 + 226 - 20000
        late_fees.waive_line(line, '协商减免')
        assert april.total_fen == 28200 and payments.balance(april) == 8200 and april.status == 'partial'
        check_books(session)
        april_id = april.id
    pay(in_tenant, e, '1-1-102', 8200, date(2026, 4, 3))
    with in_tenant(e.tenant) as session:
        april = session.get(Bill, april_id)
        assert april.status == 'paid' and payments.balance(april) == 0
        live = sum(x.amount_fen for x in april.lines if not x.voided and x.waived_at is None)
        assert live == april.total_fen
        check_books(session)


def test_pending_late_fee_for_an_overdue_bill(app, estate, in_tenant, monkeypatch):
    e = estate()
    run_on(monkeypatch, in_tenant, e, date(2026, 2, 1), '2026-02')
    with in_tenant(e.tenant) as session:
        feb = bill_of(session, e, '1-1-102', '2026-02')
        tenant = session.get(Tenant, e.tenant.id)
        assert late_fees.pending_fen(feb, tenant, date(2026, 3, 31)) == 0  # disabled
        feb_id = feb.id
    enable(in_tenant, e)
    with in_tenant(e.tenant) as session:
        feb, tenant = session.get(Bill, feb_id), session.get(Tenant, e.tenant.id)
        assert late_fees.pending_fen(feb, tenant, date(2026, 3, 15)) == 0  # grace
        assert late_fees.pending_fen(feb, tenant, date(2026, 3, 31)) == 226
    run_on(monkeypatch, in_tenant, e, date(2026, 4, 1), '2026-04')
    with in_tenant(e.tenant) as session:
        feb, tenant = session.get(Bill, feb_id), session.get(Tenant, e.tenant.id)
        assert late_fees.pending_fen(feb, tenant, date(2026, 3, 31)) == 0  # assessed already
        assert late_fees.pending_fen(feb, tenant, date(2026, 4, 2)) == 254 - 226  # 18 days: 253.8


def test_no_day_before_late_fees_were_switched_on_is_charged():
    from datetime import date as day
    from decimal import Decimal

    # overdue since mid-February, switched on 2026-03-08: 8-17 March, 10 days of 100.00 元 × 0.05 %
    accrual = late_fees.accrue(10000, day(2026, 1, 31), day(2026, 3, 17), [], Decimal('0.0005'), 15, Decimal(100),
                               since=day(2026, 3, 8))
    assert (accrual.start, accrual.days, accrual.accrued_fen) == (day(2026, 3, 8), 10, 50)
    before = late_fees.accrue(10000, day(2026, 1, 31), day(2026, 3, 7), [], Decimal('0.0005'), 15, Decimal(100),
                              since=day(2026, 3, 8))
    assert before.accrued_fen == 0 and before.segments == ()


def test_switching_on_records_the_day_and_saving_again_keeps_it(in_tenant, make_tenant, monkeypatch):
    tenant = make_tenant()
    with in_tenant(tenant) as session:
        row = session.get(Tenant, tenant.id)
        monkeypatch.setattr(clock, 'now_utc', lambda: moment(date(2026, 3, 8)))
        late_fees.save_settings(row, enabled=True, daily_rate='0.0005', grace_days=15, cap_percent='100')
        monkeypatch.setattr(clock, 'now_utc', lambda: moment(date(2026, 4, 1)))
        late_fees.save_settings(row, enabled=True, daily_rate='0.0003', grace_days=15, cap_percent='100')
        assert late_fees.settings_of(row).since == date(2026, 3, 8)
        late_fees.save_settings(row, enabled=False, daily_rate='0.0003', grace_days=15, cap_percent='100')
        late_fees.save_settings(row, enabled=True, daily_rate='0.0003', grace_days=15, cap_percent='100')
        assert late_fees.settings_of(row).since == date(2026, 4, 1)
