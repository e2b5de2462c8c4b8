"""收款日记账 (the payment journal): the cash of the range, day by day, for the cashier's daily reconciliation
(日结对账) by method (现金, 银行转账, POS, 微信支付, 支付宝 …) and cashier.

- Every payment, refund (退款) and reversal (冲正) whose time falls in the range's local days counts on its own day:
  a reversal on the 5th of a payment of the 2nd leaves the 2nd as it was and takes the money back on the 5th.
- Per day, method and cashier (who recorded it; online payments have none and show as 线上支付): 收款 received,
  退款 refunded, 冲正 reversed and 净额 net = received − refunded − reversed; then each day's totals and the range's.
- The list shows each record with its sign; a payment that was reversed later is marked 已冲正 with the reversal's
  number, and a refund or reversal names the payment it undoes.
- The building is the paying room's.

A page runs three statements: the summary (days are bucketed in SQL by their local midnights, so the project's
timezone holds whatever the database's), then the count and one page of the list.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import aliased

from ..auth.models import User
from ..billing.models import PAYMENT_METHOD_NAMES, PAYMENT_METHODS, Payment
from ..extensions import db
from ..models_base import Page, page_of
from ..property.models import Room
from ..tenancy.clock import tenant_zone
from .common import ReportFilter, Sheet, Yuan, as_utc, book_bytes, new_book

PER_PAGE = 50
ONLINE_METHODS = ('wechat', 'alipay', 'sandbox')
KIND_NAMES = {'payment': _l('收款'), 'refund': _l('退款'), 'reversal': _l('冲正')}


@dataclass
class Amounts:
    received_fen: int = 0
    refunded_fen: int = 0
    reversed_fen: int = 0
    count: int = 0

    @property
    def net_fen(self) -> int:
        return self.received_fen - self.refunded_fen - self.reversed_fen

    def add(self, other: Amounts) -> None:
        self.received_fen += other.received_fen
        self.refunded_fen += other.refunded_fen
        self.reversed_fen += other.reversed_fen
        self.count += other.count


@dataclass
class SummaryRow(Amounts):
    method: str = ''
    cashier_id: int | None = None
    cashier: str = ''

    @property
    def method_name(self) -> str:
        return str(PAYMENT_METHOD_NAMES.get(self.method, self.method))


@dataclass
class Day:
    day: date
    rows: list[SummaryRow] = field(default_factory=list)
    total: Amounts = field(default_factory=Amounts)


@dataclass
class Entry:
    """One record of the list."""

    id: int
    number: str
    kind: str
    method: str
    amount_fen: int
    paid_at: datetime
    room: str
    payer: str
    cashier: str
    reason: str
    #: a refund's or reversal's original payment number
    undoes: str
    #: a payment's reversal number, when it was reversed
    reversed_by: str

    @property
    def signed_fen(self) -> int:
        return self.amount_fen if self.kind == 'payment' else -self.amount_fen

    @property
    def kind_name(self) -> str:
        return str(KIND_NAMES[self.kind])

    @property
    def method_name(self) -> str:
        return str(PAYMENT_METHOD_NAMES.get(self.method, self.method))


@dataclass
class Journal:
    filter: ReportFilter
    #: days with records only, in order
    days: list[Day]
    #: per method over the range (the methods with records, in the usual order)
    methods: list[SummaryRow]
    total: Amounts
    entries: Page


def _where(tenant, f: ReportFilter) -> list:
    low, high = f.bounds(tenant)
    where = [Payment.paid_at >= low, Payment.paid_at < high]
    if f.building_id is not None:
        where.append(Payment.room_id.in_(sa.select(Room.id).where(Room.building_id == f.building_id)))
    return where


def _day_bucket(tenant, f: ReportFilter):
    """The index of the record's local day in the range, in SQL: one CASE branch per local midnight."""
    days = f.days()
    if len(days) == 1:
        return sa.literal(0)
    midnights = [ReportFilter(day, day).bounds(tenant)[0] for day in days[1:]]
    return sa.case(*[(Payment.paid_at < midnight, index) for index, midnight in enumerate(midnights)],
                   else_=len(days) - 1)


def _cashier_name(method: str, cashier_id, name) -> str:
    if cashier_id is not None:
        return name or _('（已删除的用户）')
    return _('线上支付') if method in ONLINE_METHODS else _('（未记录）')


def summary(tenant, f: ReportFilter) -> tuple[list[Day], list[SummaryRow], Amounts]:
    """Per day, method and cashier, with day totals, per-method totals and the range's: one statement."""
    bucket = _day_bucket(tenant, f).label('bucket')

    def total(kind):
        return sa.func.coalesce(sa.func.sum(sa.case((Payment.kind == kind, Payment.amount_fen), else_=0)), 0)

    rows = db.session.execute(
        sa.select(bucket, Payment.method, Payment.recorded_by_id, User.name, total('payment'), total('refund'),
                  total('reversal'), sa.func.count())
        .outerjoin(User, User.id == Payment.recorded_by_id)
        .where(*_where(tenant, f))
        .group_by(bucket, Payment.method, Payment.recorded_by_id, User.name)).all()
    days_of_range = f.days()
    order = {method: n for n, method in enumerate(PAYMENT_METHODS)}
    by_day: dict[int, Day] = {}
    by_method: dict[str, SummaryRow] = {}
    grand = Amounts()
    for index, method, cashier_id, name, received, refunded, reversed_, count in rows:
        row = SummaryRow(int(received), int(refunded), int(reversed_), int(count), method=method,
                         cashier_id=cashier_id, cashier=_cashier_name(method, cashier_id, name))
        day = by_day.setdefault(int(index), Day(days_of_range[int(index)]))
        day.rows.append(row)
        day.total.add(row)
        by_method.setdefault(method, SummaryRow(method=method)).add(row)
        grand.add(row)
    for day in by_day.values():
        day.rows.sort(key=lambda r: (order.get(r.method, 99), r.cashier, r.cashier_id or 0))
    return ([by_day[i] for i in sorted(by_day)], sorted(by_method.values(), key=lambda r: order.get(r.method, 99)),
            grand)


def entries_query(tenant, f: ReportFilter):
    """The range's records in time order with room, cashier and the payment undone / the reversal undoing it."""
    original, reversal = aliased(Payment), aliased(Payment)
    return (sa.select(Payment.id, Payment.number, Payment.kind, Payment.method, Payment.amount_fen, Payment.paid_at,
                      Room.code, Payment.payer_name, Payment.recorded_by_id, User.name, Payment.reason,
                      original.number, reversal.number)
            .outerjoin(Room, Room.id == Payment.room_id)
            .outerjoin(User, User.id == Payment.recorded_by_id)
            .outerjoin(original, original.id == Payment.reverses_id)
            .outerjoin(reversal, sa.and_(reversal.reverses_id == Payment.id, reversal.kind == 'reversal'))
            .where(*_where(tenant, f))
            .order_by(Payment.paid_at, Payment.id))


def _entry(values) -> Entry:
    (payment_id, number, kind, method, amount, paid_at, room, payer, cashier_id, cashier, reason, undoes,
     reversed_by) = values
    return Entry(id=payment_id, number=number, kind=kind, method=method, amount_fen=int(amount),
                 paid_at=as_utc(paid_at), room=room or '', payer=payer or '',
                 cashier=_cashier_name(method, cashier_id, cashier), reason=reason or '', undoes=undoes or '',
                 reversed_by=reversed_by or '')


def compute(tenant, f: ReportFilter, *, page: int = 1, per_page: int = PER_PAGE) -> Journal:
    """The journal's page: three statements."""
    days, methods, total = summary(tenant, f)
    raw = page_of(entries_query(tenant, f), page, per_page)
    entries = Page(items=[_entry(values) for values in raw.items], page=raw.page, per_page=per_page,
                   total=raw.total)
    return Journal(filter=f, days=days, methods=methods, total=total, entries=entries)


def export_xlsx(tenant, f: ReportFilter, *, project_name: str = '', building_name: str = '') -> bytes:
    """Sheets 日结汇总 (per day, method and cashier with day totals) and 收款明细 (every record, signed), amounts
    in yuan, times in the project's timezone."""
    days, methods, total = summary(tenant, f)
    zone = tenant_zone(tenant)
    book = new_book()
    head = (_('笔数'), _('收款（元）'), _('退款（元）'), _('冲正（元）'), _('净额（元）'))

    def money(a: Amounts):
        return a.count, Yuan(a.received_fen), Yuan(a.refunded_fen), Yuan(a.reversed_fen), Yuan(a.net_fen)

    sheet = Sheet(book, _('日结汇总'))
    sheet.row(_('%(project)s 收款日记账 %(start)s 至 %(end)s（%(scope)s）', project=project_name,
                start=f.start.isoformat(), end=f.end.isoformat(), scope=building_name or _('全部楼栋')).strip())
    sheet.row(_('日期'), _('收款方式'), _('收款人'), *head)
    for day in days:
        for row in day.rows:
            sheet.row(day.day.isoformat(), row.method_name, row.cashier, *money(row))
        sheet.row(day.day.isoformat(), _('当日合计'), '', *money(day.total))
    for row in methods:
        sheet.row(_('合计'), row.method_name, '', *money(row))
    sheet.row(_('合计'), '', '', *money(total))

    sheet = Sheet(book, _('收款明细'))
    sheet.row(_('时间'), _('收据号'), _('类型'), _('收款方式'), _('金额（元）'), _('房屋'), _('缴款人'), _('收款人'),
              _('说明'))
    for values in db.session.execute(entries_query(tenant, f)):
        entry = _entry(values)
        note = []
        if entry.undoes:
            note.append(_('原收据 %(number)s', number=entry.undoes))
        if entry.reversed_by:
            note.append(_('已冲正（%(number)s）', number=entry.reversed_by))
        if entry.reason:
            note.append(entry.reason)
        sheet.row(entry.paid_at.astimezone(zone).strftime('%Y-%m-%d %H:%M'), entry.number, entry.kind_name,
                  entry.method_name, Yuan(entry.signed_fen), entry.room, entry.payer, entry.cashier, '；'.join(note))
    return book_bytes(book)
