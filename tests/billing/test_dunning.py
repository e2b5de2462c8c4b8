"""Dunning (催缴): the schedule, holiday postponement, holds, no payer, idempotent re-runs, the daily sweep."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from propsaas.billing import dunning
from propsaas.billing.models import Bill, ProjectDay, Reminder, ReminderHold
from propsaas.errors import DomainError
from propsaas.jobs.models import JobRecord
from propsaas.notices.models import Message
from propsaas.tenancy.models import Tenant
from tests.billing.test_arrears import make_bill, pay
from tests.billing.test_runs import build_estate


@pytest.fixture
def estate(make_tenant, make_user, in_tenant):
    return lambda name='收费小区': build_estate(make_tenant, make_user, in_tenant, name)


def run(in_tenant, e, day: date) -> dict:
    with in_tenant(e.tenant) as session:
        return dunning.run_due_reminders(day, session.get(Tenant, e.tenant.id)).as_dict()


def reminders(in_tenant, e) -> list[tuple]:
    with in_tenant(e.tenant) as session:
        return [(r.bill_id, r.step, r.due_on, r.sent_on, r.status, r.note) for r in session.execute(
            sa.select(Reminder).order_by(Reminder.bill_id, Reminder.step)).scalars()]


def messages(in_tenant, e) -> list[str]:
    with in_tenant(e.tenant) as session:
        return sorted(session.execute(sa.select(Message.source_key)).scalars())


def test_default_schedule_is_written_and_validated(estate, in_tenant):
    e = estate()
    with in_tenant(e.tenant) as session:
        tenant = session.get(Tenant, e.tenant.id)
        assert 'dunning' not in (tenant.settings or {})
        assert dunning.schedule(tenant) == [-3, 0, 7, 30]
    with in_tenant(e.tenant) as session:
        tenant = session.get(Tenant, e.tenant.id)
        assert tenant.settings['dunning'] == {'steps': [-3, 0, 7, 30]}
        assert 'duties' in tenant.settings  # the rest is kept
        assert dunning.save_schedule(tenant, '15, -5，0') == [-5, 0, 15]
        for bad in ('1.5', 'abc', '-61', '366', '', '1,2,3,4,5,6,7,8,9'):
            with pytest.raises(DomainError):
                dunning.save_schedule(tenant, bad)


def test_a_reminder_due_on_national_day_goes_out_on_the_8th(estate, in_tenant):
    e = estate()
    bill = make_bill(in_tenant, e, '1-1-101', date(2026, 10, 1), 25660)
    day = date(2026, 9, 27)
    while day <= date(2026, 10, 9):
        run(in_tenant, e, day)
        if date(2026, 10, 1) <= day <= date(2026, 10, 7):
            assert all(r[3] is None or r[3] < date(2026, 10, 1) for r in reminders(in_tenant, e)), day
        day += timedelta(days=1)
    assert reminders(in_tenant, e) == [
        (bill, -3, date(2026, 9, 28), date(2026, 9, 28), 'sent', None),
        (bill, 0, date(2026, 10, 1), date(2026, 10, 8), 'sent', None),
        (bill, 7, date(2026, 10, 8), None, 'skipped', '已与第 0 天的提醒合并发送'),  # one message on the 8th
    ]
    assert messages(in_tenant, e) == [f'reminder:{bill}:-3', f'reminder:{bill}:0']
    with in_tenant(e.tenant) as session:
        body = session.execute(sa.select(Message.body).where(Message.source_key == f'reminder:{bill}:0')).scalar_one()
    assert '1栋1单元101' in body and '256.60' in body and '2026-10-01' in body


def test_a_project_day_off_postpones_further(estate, in_tenant):
    e = estate()
    bill = make_bill(in_tenant, e, '1-1-101', date(2026, 10, 8), 1000)
    with in_tenant(e.tenant) as session:
        session.add(ProjectDay(day=date(2026, 10, 8), working=False, name='停电检修'))
    assert run(in_tenant, e, date(2026, 10, 8))['working_day'] is False
    run(in_tenant, e, date(2026, 10, 9))
    assert [r[1:5] for r in reminders(in_tenant, e) if r[0] == bill] == [
        (-3, date(2026, 10, 5), date(2026, 10, 9), 'sent'), (0, date(2026, 10, 8), None, 'skipped')]
    # steps -3 and 0 were both due: one message, the later step merged into it
    assert messages(in_tenant, e) == [f'reminder:{bill}:-3']


def test_partial_balance_is_what_the_reminder_asks_for(estate, in_tenant):
    e = estate()
    bill = make_bill(in_tenant, e, '1-1-101', date(2026, 6, 10), 30000)
    pay(in_tenant, e, bill, 10000)
    run(in_tenant, e, date(2026, 6, 10))
    with in_tenant(e.tenant) as session:
        body = session.execute(sa.select(Message.body)).scalar_one()
    assert '200.00' in body


def test_hold_skips_with_its_reason_and_lifting_resumes(estate, in_tenant):
    e = estate()
    bill = make_bill(in_tenant, e, '1-1-101', date(2026, 6, 10), 1000)
    with in_tenant(e.tenant) as session:
        from propsaas.property.models import Room

        hold = dunning.place_hold(session.get(Room, e.rooms['1-1-101']), '物业费争议，待核实')
        hold_id = hold.id
    run(in_tenant, e, date(2026, 6, 10))
    assert [r[1:] for r in reminders(in_tenant, e)] == [
        (-3, date(2026, 6, 7), None, 'skipped', '不催缴：物业费争议，待核实'),
        (0, date(2026, 6, 10), None, 'skipped', '不催缴：物业费争议，待核实')]
    assert messages(in_tenant, e) == []
    with in_tenant(e.tenant) as session:
        dunning.lift_hold(session.get(ReminderHold, hold_id))
        with pytest.raises(DomainError):
            dunning.lift_hold(session.get(ReminderHold, hold_id))
    run(in_tenant, e, date(2026, 6, 17))
    assert reminders(in_tenant, e)[-1][1:5] == (7, date(2026, 6, 17), date(2026, 6, 17), 'sent')
    assert messages(in_tenant, e) == [f'reminder:{bill}:7']


def test_rerun_sends_nothing_twice_and_paid_or_void_bills_get_nothing(estate, in_tenant):
    e = estate()
    first = make_bill(in_tenant, e, '1-1-101', date(2026, 6, 10), 1000)
    paid = make_bill(in_tenant, e, '1-1-101', date(2026, 6, 10), 2000)
    pay(in_tenant, e, paid, 2000)
    make_bill(in_tenant, e, '1-1-101', date(2026, 6, 10), 3000, status='void')
    no_payer = make_bill(in_tenant, e, '1-1-102', date(2026, 6, 10), 1000, payer=False)
    one = run(in_tenant, e, date(2026, 6, 10))
    again = run(in_tenant, e, date(2026, 6, 10))
    assert one['sent'] == 1 and one['failed'] == 1 and one['skipped'] == 2
    assert again['sent'] == again['failed'] == again['skipped'] == 0
    assert messages(in_tenant, e) == [f'reminder:{first}:-3']
    log = reminders(in_tenant, e)
    assert {r[0] for r in log} == {first, no_payer}
    assert [r[4:] for r in log if r[0] == no_payer and r[1] == -3] == [('failed', '没有缴费人，请先登记业主或缴费人')]
    with in_tenant(e.tenant) as session:  # paid since: the next step sends nothing
        session.execute(sa.update(Bill).where(Bill.id == first).values(status='paid'))
    assert run(in_tenant, e, date(2026, 6, 17))['sent'] == 0


def test_sweep_starts_the_job_once_a_day_per_tenant(app, estate, in_tenant):
    e = estate()
    bill = make_bill(in_tenant, e, '1-1-101', date(2026, 6, 10), 1000)
    now = datetime(2026, 6, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    with app.app_context():
        assert dunning.sweep(now)['tenants'] >= 1
    key = 'billing.reminders:2026-06-10'
    with in_tenant(e.tenant) as session:
        record = session.execute(sa.select(JobRecord).where(JobRecord.key == key)).scalar_one()
        assert record.status == 'done' and record.result['sent'] == 1
        finished = record.finished_at
    with app.app_context():
        dunning.sweep(now + timedelta(hours=3))  # the same local day: not started again
    with in_tenant(e.tenant) as session:
        assert session.execute(sa.select(JobRecord.finished_at).where(JobRecord.key == key)).scalar_one() == finished
    assert messages(in_tenant, e) == [f'reminder:{bill}:-3']
    with app.app_context():
        results = dict(dunning.send_reminders_now(e.tenant.slug, date(2026, 6, 10)))
    assert results[e.tenant.slug]['sent'] == 0
