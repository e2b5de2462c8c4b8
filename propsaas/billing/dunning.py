"""Dunning (催缴): payment reminders on a schedule relative to each bill's due date, never on a day off.

The schedule is ``tenant.settings['dunning']['steps']``: days relative to ``due_on`` (default -3, 0, 7, 30: three
days before, on the day, a week and a month after). Each day, for every open bill with a balance, every step whose
day has come and that has no Reminder row yet is handled:

- today is not a working day (calendar.py): nothing happens; the step goes out on the next working day, recorded
  with the day the schedule put it on (``due_on``) and the day it went out (``sent_on``);
- the room has an active hold (不催缴, ReminderHold): a 'skipped' Reminder with the hold's reason;
- no payer: a 'failed' Reminder saying so;
- otherwise the payer is notified (template ``payment_reminder``) and a 'sent' Reminder is recorded.

When several steps of one bill are due the same day (after a long holiday, or a schedule set up on old bills) the
resident gets one message — under the step that waited longest — and the later steps are recorded 'skipped',
merged into it.
A (bill, step) has at most one Reminder (unique key, checked first), so running again the same day sends nothing.
Bills paid or voided since get nothing.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from ..errors import DomainError
from ..extensions import db
from ..jobs.queue import job, maintenance_task, start_unless_current
from ..money import format_yuan
from ..property.models import Room
from ..residents.models import Resident
from ..tenancy.clock import tenant_today
from ..tenancy.context import current_tenant_id, platform_scope, tenant_scope
from ..tenancy.models import Tenant
from ..tenancy.provisioning import active_tenants
from . import calendar
from .arrears import OPEN_STATUSES, balance_fen
from .models import AutopayMandate, Bill, Reminder, ReminderHold

log = logging.getLogger(__name__)

DEFAULT_STEPS = (-3, 0, 7, 30)
MIN_STEP, MAX_STEP, MAX_STEPS = -60, 365, 8
REMINDER_STATUSES = ('sent', 'skipped', 'failed')
REMINDER_STATUS_NAMES = {'sent': _l('已发送'), 'skipped': _l('已跳过'), 'failed': _l('失败')}
TEMPLATE = 'payment_reminder'


# --- the schedule ---------------------------------------------------------------------------------------------

def validate_steps(steps) -> list[int]:
    """Sorted distinct integer days in [-60, 365], at most 8. Raises DomainError (field 'steps')."""
    if isinstance(steps, str):
        raw = [part for part in steps.replace('，', ',').replace(' ', ',').split(',') if part.strip()]
    else:
        raw = list(steps or [])
    values = []
    for item in raw:
        if isinstance(item, bool):
            raise DomainError(_l('提醒日须为整数天，例如 -3, 0, 7, 30'), field='steps')
        try:
            value = int(str(item).strip())
        except ValueError:
            raise DomainError(_l('提醒日须为整数天，例如 -3, 0, 7, 30'), field='steps') from None
        if str(item).strip() != str(value) and str(item).strip() != f'+{value}':
            raise DomainError(_l('提醒日须为整数天，例如 -3, 0, 7, 30'), field='steps')
        if not MIN_STEP <= value <= MAX_STEP:
            raise DomainError(_l('提醒日须在截止日前 60 天到截止日后 365 天之间'), field='steps')
        values.append(value)
    values = sorted(set(values))
    if not values:
        raise DomainError(_l('请至少设置一个提醒日'), field='steps')
    if len(values) > MAX_STEPS:
        raise DomainError(_l('最多设置 %(n)s 个提醒日', n=MAX_STEPS), field='steps')
    return values


def schedule(tenant: Tenant) -> list[int]:
    """The tenant's steps; writes the defaults into its settings when absent (or unreadable)."""
    settings = dict(tenant.settings or {})
    current = settings.get('dunning') or {}
    try:
        return validate_steps(current.get('steps'))
    except DomainError:
        settings['dunning'] = {**current, 'steps': list(DEFAULT_STEPS)}
        tenant.settings = settings  # a new dict: the JSON column sees the change
        return list(DEFAULT_STEPS)


def save_schedule(tenant: Tenant, steps) -> list[int]:
    """Validate and store the steps. Raises DomainError."""
    values = validate_steps(steps)
    settings = dict(tenant.settings or {})
    settings['dunning'] = {**(settings.get('dunning') or {}), 'steps': values}
    tenant.settings = settings
    return values


# --- holds (不催缴) -------------------------------------------------------------------------------------------

def place_hold(room: Room, reason: str, *, by_user_id: int | None = None) -> ReminderHold:
    """Stop reminders for a room, with a reason. A room has one active hold: placing another updates its reason."""
    reason = (reason or '').strip()
    if not reason:
        raise DomainError(_l('请填写不催缴的原因，例如“物业费争议，待核实”'), field='reason')
    if len(reason) > 200:
        raise DomainError(_l('原因最多 200 字'), field='reason')
    hold = active_hold(room.id)
    if hold is None:
        hold = ReminderHold(room_id=room.id, reason=reason, created_by_id=by_user_id)
        db.session.add(hold)
    else:
        hold.reason = reason
    db.session.flush()
    return hold


def lift_hold(hold: ReminderHold, *, by_user_id: int | None = None) -> ReminderHold:
    """Lift a hold (kept, with who lifted it and when). Raises DomainError when lifted already."""
    from ..models_base import utcnow

    if hold.lifted_at is not None:
        raise DomainError(_l('该暂停已解除'))
    hold.lifted_at, hold.lifted_by_id = utcnow(), by_user_id
    db.session.flush()
    return hold


def active_hold(room_id: int) -> ReminderHold | None:
    return db.session.execute(sa.select(ReminderHold).where(ReminderHold.room_id == room_id,
                                                            ReminderHold.lifted_at.is_(None))
                              .order_by(ReminderHold.id.desc()).limit(1)).scalar_one_or_none()


def active_holds() -> list[tuple[ReminderHold, Room]]:
    """Every active hold with its room, latest first (one statement)."""
    return [tuple(row) for row in db.session.execute(
        sa.select(ReminderHold, Room).join(Room, Room.id == ReminderHold.room_id)
        .where(ReminderHold.lifted_at.is_(None))
        .options(joinedload(Room.building), joinedload(Room.unit))
        .order_by(ReminderHold.created_at.desc(), ReminderHold.id.desc())).all()]


# --- running the schedule ---------------------------------------------------------------------------------------

@dataclass
class RunReport:
    day: date
    working_day: bool = True
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    bills: int = 0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {'day': self.day.isoformat(), 'working_day': self.working_day, 'sent': self.sent,
                'skipped': self.skipped, 'failed': self.failed, 'bills': self.bills}


def _pending_bills(today: date, steps: list[int]) -> list[tuple[Bill, int, list[int]]]:
    """Open bills with a balance and a step due by ``today`` without a Reminder: (bill, balance, due steps)."""
    missing = []
    for step in steps:
        done = sa.exists().where(Reminder.bill_id == Bill.id, Reminder.step == step)
        missing.append(sa.and_(Bill.due_on <= today - timedelta(days=step), ~done))
    balance = balance_fen().label('balance')
    rows = db.session.execute(
        sa.select(Bill, balance).where(Bill.status.in_(OPEN_STATUSES), balance_fen() > 0, sa.or_(*missing))
        .options(joinedload(Bill.room).joinedload(Room.building), joinedload(Bill.room).joinedload(Room.unit))
        .order_by(Bill.due_on, Bill.id)).all()
    if not rows:
        return []
    bill_ids = [bill.id for bill, _b in rows]
    done = set(db.session.execute(sa.select(Reminder.bill_id, Reminder.step)
                                  .where(Reminder.bill_id.in_(bill_ids))).all())
    result = []
    for bill, balance in rows:
        due = [s for s in steps if bill.due_on + timedelta(days=s) <= today and (bill.id, s) not in done]
        if due:
            result.append((bill, int(balance), due))
    return result


def _record(bill: Bill, step: int, today: date, status: str, *, note: str | None = None,
            resident_id: int | None = None, source_key: str | None = None) -> Reminder | None:
    """Insert the (bill, step) Reminder in a savepoint; None when another run recorded it first."""
    reminder = Reminder(bill_id=bill.id, step=step, due_on=bill.due_on + timedelta(days=step),
                        sent_on=today if status == 'sent' else None, status=status, note=note,
                        resident_id=resident_id, source_key=source_key)
    try:
        with db.session.begin_nested():
            db.session.add(reminder)
    except sa.exc.IntegrityError:
        return None
    return reminder


def run_due_reminders(today: date, tenant: Tenant | None = None) -> RunReport:
    """Handle every due step of the current tenant's open bills for ``today`` (the tenant's local date).

    Idempotent: a (bill, step) is handled once. Commits (notifying commits, and so does the end of the run).
    Nothing happens on a day off: the steps wait for the next working day.
    """
    tenant = tenant or db.session.get(Tenant, current_tenant_id())
    report = RunReport(day=today)
    steps = schedule(tenant)
    if not calendar.is_working_day(today):
        report.working_day = False
        db.session.commit()  # the default schedule, when written
        return report
    pending = _pending_bills(today, steps)
    report.bills = len(pending)
    room_ids = {bill.room_id for bill, _b, _s in pending if bill.room_id is not None}
    holds = {}
    if room_ids:
        for hold in db.session.execute(sa.select(ReminderHold).where(
                ReminderHold.room_id.in_(room_ids), ReminderHold.lifted_at.is_(None))
                .order_by(ReminderHold.id)).scalars():
            holds[hold.room_id] = hold
    # 代扣 takes the money on the due date: reminders up to it would ask for what is about to be charged. After it,
    # an open bill means the charge failed, and the ordinary reminders go on.
    autopay = set(db.session.execute(sa.select(AutopayMandate.room_id).where(
        AutopayMandate.room_id.in_(room_ids), AutopayMandate.status == 'active')).scalars()) if room_ids else set()
    payer_ids = {bill.payer_resident_id for bill, _b, _s in pending if bill.payer_resident_id is not None}
    payers = {}
    if payer_ids:
        payers = {r.id: r for r in db.session.execute(sa.select(Resident).where(Resident.id.in_(payer_ids)))
                  .scalars()}
    for bill, balance, due in pending:
        hold = holds.get(bill.room_id)
        if hold is not None:
            for step in due:
                if _record(bill, step, today, 'skipped', note=_('不催缴：%(reason)s', reason=hold.reason)[:200],
                           resident_id=bill.payer_resident_id):
                    report.skipped += 1
            continue
        if bill.room_id in autopay:
            for step in [step for step in due if step <= 0]:
                if _record(bill, step, today, 'skipped', resident_id=bill.payer_resident_id,
                           note=_('已开通自动代扣，到期日自动扣款')):
                    report.skipped += 1
            due = [step for step in due if step > 0]
            if not due:
                continue
        # the step that waited longest goes out; later ones due today are merged into it
        latest, merged = due[0], due[1:]
        for step in merged:
            if _record(bill, step, today, 'skipped', resident_id=bill.payer_resident_id,
                       note=_('已与第 %(step)s 天的提醒合并发送', step=latest)):
                report.skipped += 1
        payer = payers.get(bill.payer_resident_id)
        if payer is None:
            if _record(bill, latest, today, 'failed', note=_('没有缴费人，请先登记业主或缴费人')):
                report.failed += 1
            continue
        source_key = f'reminder:{bill.id}:{latest}'
        db.session.commit()  # what is recorded so far stays, whatever happens to this message
        reminder = _record(bill, latest, today, 'sent', resident_id=payer.id, source_key=source_key)
        if reminder is None:
            continue
        reason = _notify(bill, balance, payer.id, source_key)
        if reason is None:
            report.sent += 1
            continue
        report.failed += 1
        if reminder in db.session:
            reminder.status, reminder.sent_on, reminder.note = 'failed', None, reason[:200]
        else:  # rolled back with the message
            _record(bill, latest, today, 'failed', resident_id=payer.id, note=reason[:200], source_key=source_key)
    db.session.commit()
    return report


def _notify(bill: Bill, balance: int, payer_id: int, source_key: str) -> str | None:
    """Send the reminder through the notification center (which commits, with the Reminder row). None when a
    message went out, else why not (after a refusal the transaction is rolled back)."""
    from ..notices.templates import notify

    room = bill.room.label if bill.room is not None else ''
    try:
        fan_out = notify([payer_id], TEMPLATE, {'room': room, 'period': bill.period, 'amount': format_yuan(balance),
                                                'due_date': bill.due_on.isoformat()},
                         source_key=source_key, link=f'/my/bills/{bill.id}')
    except DomainError as exc:
        db.session.rollback()
        return str(exc.message)
    if not fan_out.messages and not fan_out.skipped:
        return _('缴费人没有可用的联系方式')
    return None


# --- job, maintenance, CLI ----------------------------------------------------------------------------------

@job(_l('发送缴费提醒'))
def send_reminders(day: str | None = None) -> dict:
    """The job: run the schedule for the current tenant for ``day`` ('YYYY-MM-DD', default its today)."""
    tenant = db.session.get(Tenant, current_tenant_id())
    today = date.fromisoformat(day) if day else tenant_today(tenant)
    return run_due_reminders(today, tenant).as_dict()


def _job_key(today: date) -> str:
    return f'billing.reminders:{today.isoformat()}'


def _tenants_with_open_bills(horizon: date) -> list[int]:
    with platform_scope():
        ids = db.session.execute(sa.select(Bill.tenant_id).distinct().join(Tenant, Tenant.id == Bill.tenant_id)
                                 .where(Bill.status.in_(OPEN_STATUSES), Bill.due_on <= horizon,
                                        Tenant.status == Tenant.ACTIVE)).scalars().all()
        db.session.rollback()
    return sorted(ids)


@maintenance_task
def sweep(now=None) -> dict:
    """Platform maintenance (every worker loop): once a day per tenant with open bills, start ``send_reminders``.

    Keyed per tenant and local date: a job that ran (or is running) today is not started again; a failed one is.
    """
    from ..tenancy.clock import now_utc

    now = now or now_utc()
    horizon = now.date() + timedelta(days=-MIN_STEP + 1)
    started = 0
    for tenant_id in _tenants_with_open_bills(horizon):
        with tenant_scope(tenant_id):
            today = tenant_today(db.session.get(Tenant, tenant_id), now)
            started += start_unless_current(send_reminders, today.isoformat(), key=_job_key(today))
    return {'tenants': started}


def send_reminders_now(slug: str | None = None, day: date | None = None) -> list[tuple[str, dict]]:
    """For ``flask billing send-reminders [--tenant slug] [--date YYYY-MM-DD]``: run the schedule inline for one
    tenant or every active one, whatever ran today already (it is idempotent). Returns (slug, report) pairs."""
    tenants = active_tenants(slug)
    results = []
    for tenant_id, tenant_slug in tenants:
        with tenant_scope(tenant_id):
            tenant = db.session.get(Tenant, tenant_id)
            report = run_due_reminders(day or tenant_today(tenant), tenant)
            results.append((tenant_slug, report.as_dict()))
    return results


# --- the log ------------------------------------------------------------------------------------------------------

def log_query(*, status: str | None = None, bill_id: int | None = None):
    """Reminders, latest first, with their bills and rooms (for the log page and API)."""
    query = sa.select(Reminder).order_by(Reminder.created_at.desc(), Reminder.id.desc())
    if status in REMINDER_STATUSES:
        query = query.where(Reminder.status == status)
    if bill_id is not None:
        query = query.where(Reminder.bill_id == bill_id)
    return query


def log_context(reminders) -> tuple[dict, dict]:
    """Bills (with rooms) and residents of a page of reminders: two statements."""
    bill_ids = {r.bill_id for r in reminders}
    resident_ids = {r.resident_id for r in reminders if r.resident_id is not None}
    bills = {}
    if bill_ids:
        bills = {b.id: b for b in db.session.execute(sa.select(Bill).where(Bill.id.in_(bill_ids)).options(
            joinedload(Bill.room).joinedload(Room.building), joinedload(Bill.room).joinedload(Room.unit))).scalars()}
    residents = {}
    if resident_ids:
        residents = {r.id: r for r in db.session.execute(sa.select(Resident).where(Resident.id.in_(resident_ids)))
                     .scalars()}
    return bills, residents
