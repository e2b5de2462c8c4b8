"""Billing (费用管理): fee items, the rules that price them per building/unit/room, meter readings, bill runs, bills
and their lines.

Money is integer fen everywhere (``*_fen`` columns, BigInteger). Rates are exact decimals kept as strings in yuan
('2.35' per m² per month), computed with Decimal and rounded once per bill line (ROUND_HALF_UP). Nothing financial
is edited away: a voided bill keeps its lines and says why.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..models_base import UTCDateTime, utcnow
from ..property.models import ParkingSpace, Room
from ..tenancy.scoping import TenantScoped

CHARGINGS = ('area', 'fixed', 'meter')
CHARGING_NAMES = {'area': _l('按面积'), 'fixed': _l('固定金额'), 'meter': _l('按抄表')}
#: the project's late-fee item (滞纳金): never billed by a rule, only assessed on overdue bills (billing.late_fees)
LATE_FEE = 'late_fee'
CYCLES = ('month', 'quarter', 'year')
CYCLE_NAMES = {'month': _l('每月'), 'quarter': _l('每季度'), 'year': _l('每年')}
CYCLE_MONTHS = {'month': 1, 'quarter': 3, 'year': 12}
APPLIES_TO = ('room', 'room_with_lift', 'room_without_lift', 'parking_space')
APPLIES_TO_NAMES = {'room': _l('全部房屋'), 'room_with_lift': _l('电梯楼房屋'), 'room_without_lift': _l('无电梯楼房屋'),
                    'parking_space': _l('车位')}
METERS = ('water', 'electricity', 'gas', 'heat')
METER_NAMES = {'water': _l('水'), 'electricity': _l('电'), 'gas': _l('燃气'), 'heat': _l('热')}
#: narrowest last: a room's rule beats its unit's, which beats its building's, then its room type's, then the project's
RULE_SCOPES = ('tenant', 'room_type', 'building', 'unit', 'room')
RULE_SCOPE_NAMES = {'tenant': _l('全项目'), 'room_type': _l('房屋类型'), 'building': _l('楼栋'), 'unit': _l('单元'),
                    'room': _l('房屋')}
BILL_STATUSES = ('unpaid', 'partial', 'paid', 'void')
BILL_STATUS_NAMES = {'unpaid': _l('未缴'), 'partial': _l('部分缴纳'), 'paid': _l('已缴清'), 'void': _l('已作废')}
RUN_STATUSES = ('pending', 'running', 'done', 'failed', 'voided')


class FeeItem(TenantScoped, db.Model):
    """收费项目: what is charged and how (by area, a fixed amount per cycle, or by meter)."""

    __tablename__ = 'fee_items'
    __table_args__ = (
        sa.UniqueConstraint('tenant_id', 'code'),
        sa.CheckConstraint("charging in ('area', 'fixed', 'meter', 'late_fee')", name='charging'),
        sa.CheckConstraint("cycle in ('month', 'quarter', 'year')", name='cycle'),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(60))
    charging: Mapped[str] = mapped_column(sa.String(10))
    #: yuan, an exact decimal string: per m² per month (area), per unit read (meter)
    rate: Mapped[str | None] = mapped_column(sa.String(20))
    #: fixed: fen per cycle
    amount_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    #: how often it is billed; a quarterly item is billed in January, April, July and October for three months
    cycle: Mapped[str] = mapped_column(sa.String(10), default='month')
    recurring: Mapped[bool] = mapped_column(default=True)
    applies_to: Mapped[str] = mapped_column(sa.String(20), default='room')
    meter: Mapped[str | None] = mapped_column(sa.String(12))
    #: meter only: 公摊, a master meter's usage minus the sub-meters', split over rooms
    shared: Mapped[bool] = mapped_column(default=False)
    split_by: Mapped[str | None] = mapped_column(sa.String(10))
    note: Mapped[str | None] = mapped_column(sa.String(200))
    active: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def rate_decimal(self) -> Decimal | None:
        return Decimal(self.rate) if self.rate is not None else None


class BillingRule(TenantScoped, db.Model):
    """A price for one fee item in one scope from a month on: '商铺 4.50 from 2026-01', '1-1-101 exempt'.

    For a room, the narrowest scope wins (room > unit > building > room type > project), then the latest
    ``effective_from`` not after the billed month. A later rule never rewrites what was billed before it.
    """

    __tablename__ = 'billing_rules'
    __table_args__ = (
        sa.CheckConstraint("scope in ('tenant', 'room_type', 'building', 'unit', 'room')", name='scope'),
        sa.Index('ix_billing_rules_item', 'tenant_id', 'fee_item_id', 'effective_from'),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fee_item_id: Mapped[int] = mapped_column(sa.ForeignKey('fee_items.id'))
    scope: Mapped[str] = mapped_column(sa.String(10))
    room_type: Mapped[str | None] = mapped_column(sa.String(16))
    building_id: Mapped[int | None] = mapped_column(sa.ForeignKey('buildings.id'))
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey('units.id'))
    room_id: Mapped[int | None] = mapped_column(sa.ForeignKey('rooms.id'))
    #: overrides the item's rate (yuan decimal string) or amount (fen); both None with exempt=False keeps the item's
    rate: Mapped[str | None] = mapped_column(sa.String(20))
    amount_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    #: 免收: nothing is billed in this scope
    exempt: Mapped[bool] = mapped_column(default=False)
    #: the first day of the first month it applies to
    effective_from: Mapped[date]
    note: Mapped[str | None] = mapped_column(sa.String(200))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    fee_item: Mapped[FeeItem] = relationship()


class MeterReading(TenantScoped, db.Model):
    """抄表: a meter's reading for a month. A room's meter, or a master meter (room_id None) for shared usage."""

    __tablename__ = 'meter_readings'
    __table_args__ = (
        sa.UniqueConstraint('tenant_id', 'meter', 'room_id', 'period'),
        sa.CheckConstraint("meter in ('water', 'electricity', 'gas', 'heat')", name='meter'),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meter: Mapped[str] = mapped_column(sa.String(12))
    #: None: the project's master meter of this kind
    room_id: Mapped[int | None] = mapped_column(sa.ForeignKey('rooms.id'), index=True)
    #: 'YYYY-MM', the month the reading closes
    period: Mapped[str] = mapped_column(sa.String(7))
    #: the reading on the meter's face, exact decimal string ('1234.5')
    reading: Mapped[str] = mapped_column(sa.String(20))
    #: a new meter was fitted: this reading starts from zero, usage = reading
    replaced: Mapped[bool] = mapped_column(default=False)
    read_on: Mapped[date | None]
    note: Mapped[str | None] = mapped_column(sa.String(200))
    entered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Counter(TenantScoped, db.Model):
    """Per-tenant number sequences (bill numbers, receipt numbers), advanced atomically by UPDATE .. RETURNING."""

    __tablename__ = 'counters'
    __table_args__ = (sa.UniqueConstraint('tenant_id', 'name'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(40))
    value: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class BillRun(TenantScoped, db.Model):
    """出账: one period's bills for the project or one building, made by a job; voiding it voids its unpaid bills."""

    __tablename__ = 'bill_runs'
    __table_args__ = (
        sa.CheckConstraint("status in ('pending', 'running', 'done', 'failed', 'voided')", name='status'),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: 'YYYY-MM'
    period: Mapped[str] = mapped_column(sa.String(7))
    #: None: the whole project
    building_id: Mapped[int | None] = mapped_column(sa.ForeignKey('buildings.id'))
    #: the fee items billed; empty: every active recurring item
    fee_item_ids: Mapped[list] = mapped_column(sa.JSON, default=list)
    due_on: Mapped[date]
    status: Mapped[str] = mapped_column(sa.String(10), default='pending')
    bill_count: Mapped[int] = mapped_column(default=0)
    total_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: per fee item code: {"lines": n, "fen": total}, and what was skipped and why
    summary: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    job_id: Mapped[int | None] = mapped_column(sa.ForeignKey('job_records.id', ondelete='SET NULL'))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    void_reason: Mapped[str | None] = mapped_column(sa.String(200))


class Bill(TenantScoped, db.Model):
    """账单: what one room (or parking space) owes for one period. Its total is the sum of its lines."""

    __tablename__ = 'bills'
    __table_args__ = (
        sa.UniqueConstraint('tenant_id', 'number'),
        sa.CheckConstraint("status in ('unpaid', 'partial', 'paid', 'void')", name='status'),
        sa.Index('ix_bills_room_period', 'tenant_id', 'room_id', 'period'),
        sa.Index('ix_bills_status', 'tenant_id', 'status', 'due_on'),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: 'ZD202612-000123': unique per tenant
    number: Mapped[str] = mapped_column(sa.String(30))
    run_id: Mapped[int | None] = mapped_column(sa.ForeignKey('bill_runs.id'), index=True)
    room_id: Mapped[int | None] = mapped_column(sa.ForeignKey('rooms.id'))
    parking_space_id: Mapped[int | None] = mapped_column(sa.ForeignKey('parking_spaces.id'), index=True)
    #: who is asked to pay: the room's owner at billing time (the one who pays may differ)
    payer_resident_id: Mapped[int | None] = mapped_column(sa.ForeignKey('residents.id'), index=True)
    period: Mapped[str] = mapped_column(sa.String(7))
    issued_on: Mapped[date]
    due_on: Mapped[date]
    status: Mapped[str] = mapped_column(sa.String(10), default='unpaid')
    total_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    void_reason: Mapped[str | None] = mapped_column(sa.String(200))
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    lines: Mapped[list[BillLine]] = relationship(back_populates='bill', order_by='BillLine.id')
    room: Mapped[Room | None] = relationship()
    parking_space: Mapped[ParkingSpace | None] = relationship()


class BillLine(TenantScoped, db.Model):
    """One charge of a bill with its basis (rule, rate, area or usage, months), so '为什么是 256.60？' has an answer.

    At most one live line per (subject, fee item, period): a re-run adds only what is missing.
    """

    __tablename__ = 'bill_lines'
    __table_args__ = (
        sa.Index('uq_bill_lines_live', 'tenant_id', 'subject', 'fee_item_id', 'period', unique=True,
                 sqlite_where=sa.text('voided = 0'), postgresql_where=sa.text('NOT voided')),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bill_id: Mapped[int] = mapped_column(sa.ForeignKey('bills.id'), index=True)
    fee_item_id: Mapped[int] = mapped_column(sa.ForeignKey('fee_items.id'))
    #: 'room:12' or 'space:5': what is billed (the idempotency key with fee item and period)
    subject: Mapped[str] = mapped_column(sa.String(30))
    period: Mapped[str] = mapped_column(sa.String(7))
    description: Mapped[str] = mapped_column(sa.String(120))
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)
    #: how it was computed: {"rule_id", "scope", "rate", "area_m2", "months", "usage",
    #: "formula": "89.50 ㎡ × 2.35 元 × 1 月"}
    basis: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    voided: Mapped[bool] = mapped_column(default=False)
    #: 减免: a late-fee line waived with a reason; it stays on the bill (and keeps its idempotency key) but no longer
    #: counts in the bill's total
    waived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    waived_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    waive_reason: Mapped[str | None] = mapped_column(sa.String(200))

    bill: Mapped[Bill] = relationship(back_populates='lines')
    fee_item: Mapped[FeeItem] = relationship()


PAYMENT_METHODS = ('cash', 'bank_transfer', 'pos', 'wechat', 'alipay', 'sandbox', 'prepaid')
PAYMENT_METHOD_NAMES = {'cash': _l('现金'), 'bank_transfer': _l('银行转账'), 'pos': _l('POS 刷卡'),
                        'wechat': _l('微信支付'), 'alipay': _l('支付宝'), 'sandbox': _l('模拟支付'),
                        'prepaid': _l('预存款')}
PAYMENT_KINDS = ('payment', 'refund', 'reversal')


class Payment(TenantScoped, db.Model):
    """收款: money received for a room (or paid back). Never edited or deleted: a refund or a reversal is a new row
    (kind 'refund' / 'reversal', pointing at the payment it undoes, with its reason).

    ``amount_fen`` is always positive; the kind gives the direction. What is not allocated to bills is the room's
    prepaid balance (预存款), which settles its next bills.
    """

    __tablename__ = 'payments'
    __table_args__ = (
        sa.UniqueConstraint('tenant_id', 'number'),
        sa.UniqueConstraint('tenant_id', 'provider_txn_id'),
        sa.CheckConstraint("kind in ('payment', 'refund', 'reversal')", name='kind'),
        sa.CheckConstraint('amount_fen > 0', name='amount_positive'),
        sa.Index('ix_payments_room', 'tenant_id', 'room_id', 'paid_at'),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the receipt number (收据号) 'SJ202612-000001', unique per tenant
    number: Mapped[str] = mapped_column(sa.String(30))
    kind: Mapped[str] = mapped_column(sa.String(10), default='payment')
    method: Mapped[str] = mapped_column(sa.String(16))
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)
    room_id: Mapped[int | None] = mapped_column(sa.ForeignKey('rooms.id'))
    payer_resident_id: Mapped[int | None] = mapped_column(sa.ForeignKey('residents.id'), index=True)
    #: the payer's name as written on the receipt (a company paying for its office, a relative ...)
    payer_name: Mapped[str | None] = mapped_column(sa.String(60))
    #: bank or POS reference, cheque number ...
    reference: Mapped[str | None] = mapped_column(sa.String(100))
    #: an online provider's transaction id: a notification is credited once per id
    provider_txn_id: Mapped[str | None] = mapped_column(sa.String(64))
    #: the payment a refund or reversal undoes
    reverses_id: Mapped[int | None] = mapped_column(sa.ForeignKey('payments.id'), index=True)
    reason: Mapped[str | None] = mapped_column(sa.String(200))
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    allocations: Mapped[list[PaymentAllocation]] = relationship(back_populates='payment',
                                                                order_by='PaymentAllocation.id')


class PaymentAllocation(TenantScoped, db.Model):
    """How much of a payment settled which bill (negative when a reversal takes it back). A bill's balance is its
    total minus the sum of its allocations."""

    __tablename__ = 'payment_allocations'

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(sa.ForeignKey('payments.id'), index=True)
    bill_id: Mapped[int] = mapped_column(sa.ForeignKey('bills.id'), index=True)
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    payment: Mapped[Payment] = relationship(back_populates='allocations')
    bill: Mapped[Bill] = relationship()


class ReminderHold(TenantScoped, db.Model):
    """不催缴: a room that gets no payment reminders while the hold lasts (a dispute, a hardship), with its reason."""

    __tablename__ = 'reminder_holds'

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(sa.ForeignKey('rooms.id'), index=True)
    reason: Mapped[str] = mapped_column(sa.String(200))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lifted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))


class ProjectDay(TenantScoped, db.Model):
    """A date the project adds to the public-holiday calendar: a day off (no reminders) or an extra working day."""

    __tablename__ = 'project_days'
    __table_args__ = (sa.UniqueConstraint('tenant_id', 'day'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date]
    #: False: no reminders that day; True: a working day although the calendar says otherwise
    working: Mapped[bool] = mapped_column(default=False)
    name: Mapped[str] = mapped_column(sa.String(60))


class Reminder(TenantScoped, db.Model):
    """催缴记录: one step of the reminder schedule for one bill — when it was due, when it went out (postponed past
    holidays), to whom, and the outcome. Unique per (bill, step): a step is never sent twice."""

    __tablename__ = 'reminders'
    __table_args__ = (
        sa.UniqueConstraint('tenant_id', 'bill_id', 'step'),
        sa.CheckConstraint("status in ('sent', 'skipped', 'failed')", name='status'),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bill_id: Mapped[int] = mapped_column(sa.ForeignKey('bills.id'), index=True)
    #: days relative to the due date: -3, 0, 7, 30
    step: Mapped[int]
    #: the day the schedule put it on, and the day it went out (the next working day when that was a holiday)
    due_on: Mapped[date]
    sent_on: Mapped[date | None]
    resident_id: Mapped[int | None] = mapped_column(sa.ForeignKey('residents.id'))
    status: Mapped[str] = mapped_column(sa.String(10))
    #: why it was skipped or failed ('不催缴：物业费争议', '没有联系人')
    note: Mapped[str | None] = mapped_column(sa.String(200))
    #: the notification's source key (its deliveries say which channels reached the resident)
    source_key: Mapped[str | None] = mapped_column(sa.String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


PROVIDERS = ('sandbox', 'wechat', 'alipay')
PROVIDER_NAMES = {'sandbox': _l('模拟支付'), 'wechat': _l('微信支付'), 'alipay': _l('支付宝')}
ORDER_STATUSES = ('pending', 'paid', 'failed', 'closed')
ORDER_STATUS_NAMES = {'pending': _l('待支付'), 'paid': _l('已支付'), 'failed': _l('支付失败'), 'closed': _l('已关闭')}
MANDATE_STATUSES = ('pending', 'active', 'cancelled')
MANDATE_STATUS_NAMES = {'pending': _l('待签约'), 'active': _l('已签约'), 'cancelled': _l('已解约')}


class PaymentProviderSetting(TenantScoped, db.Model):
    """A project's merchant account with an online payment provider (its own 商户号 and keys). Secrets are
    write-only in the UI."""

    __tablename__ = 'payment_provider_settings'
    __table_args__ = (
        sa.UniqueConstraint('tenant_id', 'provider'),
        sa.CheckConstraint("provider in ('sandbox', 'wechat', 'alipay')", name='provider'),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(sa.String(10))
    enabled: Mapped[bool] = mapped_column(default=False)
    #: merchant id, app id, keys ... as the provider's adapter names them
    config: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PaymentOrder(TenantScoped, db.Model):
    """支付订单: one attempt to pay bills online. The provider's notification (signed) turns a pending order into a
    ``Payment``, once: ``payment_id`` is set in the same transaction, and the provider's transaction id is unique
    per project on payments."""

    __tablename__ = 'payment_orders'
    __table_args__ = (
        sa.UniqueConstraint('tenant_id', 'number'),
        sa.UniqueConstraint('tenant_id', 'autopay_key'),
        sa.CheckConstraint("status in ('pending', 'paid', 'failed', 'closed')", name='status'),
        sa.CheckConstraint('amount_fen > 0', name='amount_positive'),
        sa.Index('ix_payment_orders_room', 'tenant_id', 'room_id', 'created_at'),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: our order number, the provider's out_trade_no: 'PO20261203081530' + 6 random digits
    number: Mapped[str] = mapped_column(sa.String(32))
    provider: Mapped[str] = mapped_column(sa.String(10))
    room_id: Mapped[int] = mapped_column(sa.ForeignKey('rooms.id'))
    #: the bills chosen (settled oldest first); empty: the room's open bills when the money arrives
    bill_ids: Mapped[list] = mapped_column(sa.JSON, default=list)
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3), default='CNY')
    status: Mapped[str] = mapped_column(sa.String(10), default='pending')
    resident_id: Mapped[int | None] = mapped_column(sa.ForeignKey('residents.id'), index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    provider_txn_id: Mapped[str | None] = mapped_column(sa.String(64))
    payment_id: Mapped[int | None] = mapped_column(sa.ForeignKey('payments.id'))
    #: 代扣: the authorisation it was charged under, and its key (mandate + bill) so a bill is charged once
    mandate_id: Mapped[int | None] = mapped_column(sa.ForeignKey('autopay_mandates.id'), index=True)
    autopay_key: Mapped[str | None] = mapped_column(sa.String(60))
    failure_reason: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    payment: Mapped[Payment | None] = relationship()


class AutopayMandate(TenantScoped, db.Model):
    """线上代扣授权: a resident lets the provider charge a room's bills on their due dates, until cancelled."""

    __tablename__ = 'autopay_mandates'
    __table_args__ = (
        sa.UniqueConstraint('tenant_id', 'number'),
        sa.CheckConstraint("status in ('pending', 'active', 'cancelled')", name='status'),
        sa.Index('ix_autopay_mandates_room', 'tenant_id', 'room_id', 'status'),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: our contract code (external_agreement_no / contract_code)
    number: Mapped[str] = mapped_column(sa.String(32))
    provider: Mapped[str] = mapped_column(sa.String(10))
    room_id: Mapped[int] = mapped_column(sa.ForeignKey('rooms.id'))
    resident_id: Mapped[int | None] = mapped_column(sa.ForeignKey('residents.id'))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    status: Mapped[str] = mapped_column(sa.String(10), default='pending')
    #: the provider's agreement id, known once signed
    agreement_no: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(200))
