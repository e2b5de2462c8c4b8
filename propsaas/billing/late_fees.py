"""Late fees (滞纳金): a contractual penalty on overdue bills, off by default (DOMAIN.md "Late fees and collection").

Settings live in ``tenant.settings['late_fee']`` (seeded from the delivery template's [late_fee]): ``enabled``,
``daily_rate`` (a fraction per day as a decimal string: "0.0005" is 0.05 % a day, 万分之五), ``grace_days`` and
``cap_percent`` (the accrual never exceeds this percentage of the bill's principal), and ``since``: the day late
fees were last switched on. No day before it is ever charged: switching late fees on does not charge bills for the
months they were overdue while the project had none (a penalty applies from when it was announced, not before).

The rules:

- principal(bill) = Σ of its live lines that are not late fees; a void bill, or one made only of late fees, has none.
- Payments settle principal first, so a late fee is never charged on a late fee. The principal balance on day d is
  max(0, principal − Σ allocations made before d), an allocation's day being its ``created_at`` in the project's
  timezone.
- accrual(bill, D) = Σ over d in [due_on + grace_days + 1, D] of balance(d) × daily_rate, capped at cap_percent % of
  the principal, rounded once (ROUND_HALF_UP) to fen.

  Example: principal 100.00 元 (10000 fen), due 2026-01-31, grace 15 days, rate 0.0005. Charged from 2026-02-16;
  through 2026-03-17 that is 30 days: 10000 × 0.0005 × 30 = 150 fen = 1.50 元. Had 60.00 元 been paid on
  2026-02-25, days 16-25 Feb (10 days) count 100.00 元 and the 20 days from 26 Feb count 40.00 元:
  10000 × 0.0005 × 10 + 4000 × 0.0005 × 20 = 50 + 40 = 90 fen.

- Assessment: a bill run for period P adds, to each room's bill of that run, one line per bill of the room with late
  fees accrued and not yet assessed (``assessments``): accrual through the day before the run's issue date minus the
  live late-fee lines of that bill so far (waived ones included: a waiver forgives, it does not reopen). Its subject
  is ``latefee:<bill id>``, so the unique index ``uq_bill_lines_live`` (subject, fee item, period) keeps a re-run of
  P from adding another. Bills considered: the room's open bills, and bills paid in full since the project's previous
  bill run began (their last days are assessed once); nothing when late fees are disabled.
- Waiver (减免, ``waive_line``): a late-fee line stays on its bill with who waived it, when and why, and the bill's
  total drops by its amount.

Services never commit.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..errors import DomainError
from ..extensions import db
from ..models_base import utcnow
from ..money import format_yuan, round_fen
from ..property.models import Room
from ..tenancy.clock import tenant_today, tenant_zone
from .charges import Charge
from .models import LATE_FEE, Bill, BillLine, BillRun, FeeItem, PaymentAllocation

ITEM_CODE = 'late_fee'
ITEM_NAME = '滞纳金'
SUBJECT_PREFIX = 'latefee:'
OPEN_STATUSES = ('unpaid', 'partial')
#: the daily rate's bounds (fractions): 0.001 % to 0.1 % a day. Above 0.1 % (about 36.5 % a year) courts are likely
#: to reduce the penalty (民法典 Art. 585); below 0.001 % it is almost surely a percentage typed as a fraction.
MIN_RATE, MAX_RATE = Decimal('0.00001'), Decimal('0.001')
MAX_GRACE_DAYS = 365
DEFAULTS = {'enabled': False, 'daily_rate': '0.0005', 'grace_days': 15, 'cap_percent': '100'}


# --- settings -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LateFeeSettings:
    enabled: bool
    #: a fraction per day: Decimal('0.0005') is 0.05 % (万分之五)
    daily_rate: Decimal
    grace_days: int
    #: the accrual is at most this percentage of the principal
    cap_percent: Decimal
    #: the day late fees were switched on (None: on from the project's start, e.g. by its delivery template)
    since: date | None = None

    @property
    def percent_per_day(self) -> str:
        """'0.05' for a daily rate of 0.0005."""
        return _plain(self.daily_rate * 100)

    def as_dict(self) -> dict:
        out = {'enabled': self.enabled, 'daily_rate': _plain(self.daily_rate), 'grace_days': self.grace_days,
               'cap_percent': _plain(self.cap_percent)}
        if self.since is not None:
            out['since'] = self.since.isoformat()
        return out


def _plain(value: Decimal) -> str:
    """Decimal('0.0500') -> '0.05', Decimal('100') -> '100': no exponent, no trailing zeros."""
    text = f'{value.normalize():f}'
    return text


def _decimal(value, *, field: str, message) -> Decimal:
    if isinstance(value, bool) or value is None or isinstance(value, float):
        raise DomainError(message, field=field)
    text = str(value).strip().removesuffix('%').strip()
    if not text or len(text) > 20 or not all(ch.isdigit() or ch == '.' for ch in text) or text.count('.') > 1:
        raise DomainError(message, field=field)
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise DomainError(message, field=field) from None
    if not number.is_finite():
        raise DomainError(message, field=field)
    return number


def validate_settings(*, enabled, daily_rate, grace_days, cap_percent) -> LateFeeSettings:
    """Check the four settings together. ``daily_rate`` is a fraction per day ('0.0005' = 0.05 %), as stored and as
    the API takes it; the settings page converts its percentage first. Raises DomainError naming the field."""
    if not isinstance(enabled, bool):
        raise DomainError(_l('请选择是否启用滞纳金'), field='enabled')
    rate_message = _l('每日比例须在 0.001% 到 0.1% 之间（0.05% 即万分之五）。超过每日 0.1%（约合每年 36.5%）的'
                      '违约金可能被法院调减，低于 0.001% 多半是把百分数误填成了小数')
    rate = _decimal(daily_rate, field='daily_rate', message=rate_message)
    if not MIN_RATE <= rate <= MAX_RATE or -rate.normalize().as_tuple().exponent > 8:
        raise DomainError(rate_message, field='daily_rate')
    if isinstance(grace_days, bool) or not isinstance(grace_days, int) or not 0 <= grace_days <= MAX_GRACE_DAYS:
        raise DomainError(_l('宽限天数须为 0 到 365 之间的整数'), field='grace_days')
    cap_message = _l('封顶比例须大于 0、不超过 100（%），最多两位小数：滞纳金累计不超过欠费本金的这个百分比')
    cap = _decimal(cap_percent, field='cap_percent', message=cap_message)
    if not Decimal(0) < cap <= Decimal(100) or -cap.normalize().as_tuple().exponent > 2:
        raise DomainError(cap_message, field='cap_percent')
    return LateFeeSettings(enabled, rate.normalize(), grace_days, cap.normalize())


def rate_from_percent(text) -> Decimal:
    """The settings page's daily percentage ('0.05', '0.05%') as the stored fraction (Decimal('0.0005'))."""
    percent = _decimal(text, field='daily_rate', message=_l('请按百分数填写每日比例，例如 0.05（即每日万分之五）'))
    return (percent / 100).normalize()


def settings_of(tenant) -> LateFeeSettings:
    """The project's late-fee settings; missing keys take the defaults, and unreadable ones switch late fees off
    (a penalty is never charged on a setting nobody can read)."""
    stored = ((getattr(tenant, 'settings', None) or {}).get('late_fee') or {})
    values = {**DEFAULTS, **{key: stored[key] for key in DEFAULTS if key in stored}}
    try:
        since = date.fromisoformat(stored['since']) if stored.get('since') else None
    except (TypeError, ValueError):
        since = None
        values['enabled'] = False
    try:
        return replace(validate_settings(**values), since=since)
    except DomainError:
        merged = {**values, 'enabled': False}
        try:
            return validate_settings(**merged)
        except DomainError:
            return validate_settings(**{**DEFAULTS, 'enabled': False})


def save_settings(tenant, *, enabled, daily_rate, grace_days, cap_percent) -> LateFeeSettings:
    """Validate and store the settings in ``tenant.settings['late_fee']``; enabling creates the late-fee item if it
    is missing. Raises DomainError. Does not commit."""
    checked = validate_settings(enabled=enabled, daily_rate=daily_rate, grace_days=grace_days,
                                cap_percent=cap_percent)
    was = settings_of(tenant)
    if checked.enabled:
        checked = replace(checked, since=was.since if was.enabled else tenant_today(tenant))
    settings = dict(tenant.settings or {})
    settings['late_fee'] = checked.as_dict()
    tenant.settings = settings  # a new dict: the JSON column sees the change
    if checked.enabled:
        late_fee_item()
    return checked


# --- the late-fee item --------------------------------------------------------------------------------------------

def find_late_fee_item() -> FeeItem | None:
    return db.session.execute(sa.select(FeeItem).where(FeeItem.charging == LATE_FEE)
                              .order_by(FeeItem.id).limit(1)).scalar_one_or_none()


def late_fee_item() -> FeeItem:
    """The project's single late-fee item (code 'late_fee', 滞纳金), created (and flushed) when missing. It is not
    recurring, so no bill run chooses it, and its charging 'late_fee' is never priced by a rule."""
    item = find_late_fee_item()
    if item is not None:
        return item
    code, n = ITEM_CODE, 1
    while db.session.execute(sa.select(FeeItem.id).where(FeeItem.code == code)).first() is not None:
        n += 1
        code = f'{ITEM_CODE}_{n}'
    last = db.session.execute(sa.select(sa.func.max(FeeItem.sort_order))).scalar() or 0
    item = FeeItem(code=code, name=ITEM_NAME, charging=LATE_FEE, recurring=False, cycle='month', active=True,
                   sort_order=last + 1, note='按滞纳金设置对逾期账单自动计算，不能手工出账')
    db.session.add(item)
    db.session.flush()
    return item


def is_late_fee_item(item: FeeItem) -> bool:
    return item.charging == LATE_FEE


def refuse_late_fee_item(item: FeeItem) -> None:
    """Fee item admin guard: the late-fee item is computed from the settings, never edited, priced or deleted."""
    if is_late_fee_item(item):
        raise DomainError(_l('滞纳金由系统按“滞纳金设置”自动计算，这个收费项目不能修改、删除或添加计费规则'))


# --- accrual (pure) -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Segment:
    """Days ``start``..``end`` (inclusive) charged on the same principal balance."""

    start: date
    end: date
    balance_fen: int

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class Accrual:
    principal_fen: int
    #: the first and last day charged (None when nothing is charged)
    start: date | None = None
    end: date | None = None
    segments: tuple[Segment, ...] = ()
    #: Σ balance × rate × days, in fen, exact (before the cap and the rounding)
    exact_fen: Decimal = Decimal(0)
    cap_fen: int = 0
    accrued_fen: int = 0
    capped: bool = False

    @property
    def days(self) -> int:
        return sum(segment.days for segment in self.segments)


def first_day(due_on: date, grace_days: int) -> date:
    """The first day a late fee accrues: the day after the grace period that follows the due date."""
    return due_on + timedelta(days=grace_days + 1)


def accrue(principal_fen: int, due_on: date, through: date, allocations, rate: Decimal, grace_days: int,
           cap_percent: Decimal, since: date | None = None) -> Accrual:
    """The late fee accrued by a bill from the end of its grace period through ``through`` (inclusive).

    ``allocations`` are (day, fen) pairs, the day in the project's timezone (reversals negative); an allocation
    lowers the balance from the next day on. No day before ``since`` (late fees switched on) is charged. See the
    module docstring for a worked example.
    """
    principal_fen = int(principal_fen)
    cap_exact = Decimal(principal_fen) * cap_percent / 100 if principal_fen > 0 else Decimal(0)
    cap_fen = round_fen(cap_exact / 100)
    start = first_day(due_on, grace_days)
    if since is not None and since > start:
        start = since
    if principal_fen <= 0 or through < start:
        return Accrual(principal_fen, cap_fen=cap_fen)
    one = timedelta(days=1)
    changes = sorted({day + one for day, _fen in allocations if start < day + one <= through})
    bounds = [start, *changes, through + timedelta(days=1)]
    segments: list[Segment] = []
    for begin, stop in zip(bounds, bounds[1:], strict=False):
        paid = sum(int(fen) for day, fen in allocations if day < begin)
        balance = max(0, principal_fen - paid)
        if balance <= 0 or stop <= begin:
            continue
        end = stop - timedelta(days=1)
        if segments and segments[-1].balance_fen == balance and segments[-1].end + timedelta(days=1) == begin:
            segments[-1] = Segment(segments[-1].start, end, balance)
        else:
            segments.append(Segment(begin, end, balance))
    exact = sum((Decimal(s.balance_fen) * rate * s.days for s in segments), Decimal(0))
    capped = exact > cap_exact
    accrued = round_fen(min(exact, cap_exact) / 100)
    if not segments:
        return Accrual(principal_fen, cap_fen=cap_fen)
    return Accrual(principal_fen, segments[0].start, segments[-1].end, tuple(segments), exact, cap_fen, accrued,
                   capped)


def formula(accrual: Accrual, rate: Decimal, cap_percent: Decimal, assessed_before_fen: int = 0) -> str:
    """'100.00 元 × 0.05% × 30 天 = 1.50 元', segment by segment, with the cap and what was assessed before."""
    percent = _plain(rate * 100)
    parts = [f'{format_yuan(s.balance_fen)} 元 × {percent}% × {s.days} 天' for s in accrual.segments]
    text = ' + '.join(parts) or '0'
    if accrual.capped:
        text += f'，{_l("封顶")} {_plain(cap_percent)}% = {format_yuan(accrual.accrued_fen)} 元'
    else:
        text += f' = {format_yuan(accrual.accrued_fen)} 元'
    if assessed_before_fen:
        text += (f'，{_l("已计")} {format_yuan(assessed_before_fen)} 元，'
                 f'{_l("本次")} {format_yuan(accrual.accrued_fen - assessed_before_fen)} 元')
    return text


# --- what the database says about bills ---------------------------------------------------------------------------

def _local_day(value: datetime, zone) -> date:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(zone).date()


def principals(bill_ids) -> dict[int, int]:
    """Principal per bill: the sum of its live lines that are not late fees (one statement)."""
    ids = list(bill_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(BillLine.bill_id, sa.func.sum(BillLine.amount_fen))
        .join(FeeItem, FeeItem.id == BillLine.fee_item_id)
        .where(BillLine.bill_id.in_(ids), BillLine.voided.is_(False), BillLine.waived_at.is_(None),
               FeeItem.charging != LATE_FEE)
        .group_by(BillLine.bill_id)).all()
    return {bill_id: int(total or 0) for bill_id, total in rows}


def allocation_days(bill_ids, tenant) -> dict[int, list[tuple[date, int]]]:
    """Each bill's allocations as (local day, fen) pairs (one statement)."""
    ids = list(bill_ids)
    out: dict[int, list] = defaultdict(list)
    if not ids:
        return out
    zone = tenant_zone(tenant)
    rows = db.session.execute(sa.select(PaymentAllocation.bill_id, PaymentAllocation.created_at,
                                        PaymentAllocation.amount_fen)
                              .where(PaymentAllocation.bill_id.in_(ids))).all()
    for bill_id, created_at, fen in rows:
        out[bill_id].append((_local_day(created_at, zone), int(fen)))
    return out


def assessed(bill_ids) -> dict[int, int]:
    """Late fees assessed so far per bill (live lines, waived ones included), in one statement."""
    subjects = {f'{SUBJECT_PREFIX}{bill_id}': bill_id for bill_id in bill_ids}
    if not subjects:
        return {}
    rows = db.session.execute(
        sa.select(BillLine.subject, sa.func.sum(BillLine.amount_fen))
        .join(FeeItem, FeeItem.id == BillLine.fee_item_id)
        .where(BillLine.subject.in_(list(subjects)), BillLine.voided.is_(False), FeeItem.charging == LATE_FEE)
        .group_by(BillLine.subject)).all()
    return {subjects[subject]: int(total or 0) for subject, total in rows}


# --- assessment in a bill run -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Assessment:
    """One late-fee line to add: for bill ``bill_id`` onto the room's bill of the run."""

    subject: str
    room_id: int
    payer_id: int | None
    charge: Charge


@dataclass
class AssessmentResult:
    item: FeeItem | None = None
    lines: list[Assessment] = field(default_factory=list)


def _previous_run_start(building_id: int | None, zone) -> datetime | None:
    """The UTC start of the local day the project's previous finished run (of this scope or the whole project)
    was made: bills paid in full since then still get their last days assessed."""
    query = sa.select(BillRun.created_at).where(BillRun.status == 'done')
    if building_id is not None:
        query = query.where(sa.or_(BillRun.building_id.is_(None), BillRun.building_id == building_id))
    else:
        query = query.where(BillRun.building_id.is_(None))
    created = db.session.execute(query.order_by(BillRun.created_at.desc()).limit(1)).scalar_one_or_none()
    if created is None:
        return None
    day = _local_day(created, zone)
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def assessments(tenant, period: str, *, through: date, building_id: int | None = None,
                payers: dict | None = None) -> AssessmentResult:
    """The late-fee lines a run of ``period`` adds, accrued through ``through`` (the day before the run's issue
    date). Nothing when late fees are disabled. A constant number of statements whatever the number of rooms.

    Creates the late-fee item when there is something to assess and it is missing (flushed, not committed).
    """
    result = AssessmentResult()
    rule = settings_of(tenant)
    if not rule.enabled:
        return result
    zone = tenant_zone(tenant)
    last_due = through - timedelta(days=rule.grace_days)  # due_on < last_due: at least one day charged
    rooms = [Room.active.is_(True), Room.merged_into_id.is_(None)]
    if building_id is not None:
        rooms.append(Room.building_id == building_id)
    scope = sa.select(Room.id).where(*rooms)
    condition = Bill.status.in_(OPEN_STATUSES)
    since = _previous_run_start(building_id, zone)
    if since is not None:
        paid_lately = sa.select(PaymentAllocation.bill_id).where(PaymentAllocation.created_at >= since)
        condition = sa.or_(condition, sa.and_(Bill.status == 'paid', Bill.id.in_(paid_lately)))
    bills = db.session.execute(
        sa.select(Bill.id, Bill.number, Bill.room_id, Bill.due_on, Bill.payer_resident_id)
        .where(Bill.room_id.in_(scope), Bill.due_on < last_due, condition)
        .order_by(Bill.room_id, Bill.due_on, Bill.id)).all()
    if not bills:
        return result
    ids = [row.id for row in bills]
    principal = principals(ids)
    ids = [bill_id for bill_id in ids if principal.get(bill_id, 0) > 0]
    paid = allocation_days(ids, tenant)
    before = assessed(ids)
    for row in bills:
        if principal.get(row.id, 0) <= 0:
            continue
        accrual = accrue(principal[row.id], row.due_on, through, paid.get(row.id, []), rule.daily_rate,
                         rule.grace_days, rule.cap_percent, rule.since)
        earlier = before.get(row.id, 0)
        amount = accrual.accrued_fen - earlier
        if amount <= 0:
            continue
        if result.item is None:
            result.item = late_fee_item()
        basis = {'bill_id': row.id, 'bill_number': row.number, 'from': accrual.start.isoformat(),
                 'to': accrual.end.isoformat(), 'days': accrual.days, 'daily_rate': _plain(rule.daily_rate),
                 'grace_days': rule.grace_days, 'principal_fen': accrual.principal_fen, 'cap_fen': accrual.cap_fen,
                 'accrued_fen': accrual.accrued_fen, 'assessed_before_fen': earlier,
                 'formula': formula(accrual, rule.daily_rate, rule.cap_percent, earlier)}
        description = str(_l('%(name)s（%(number)s，逾期 %(days)s 天）', name=result.item.name, number=row.number,
                             days=accrual.days))
        payer = (payers or {}).get(row.room_id) or row.payer_resident_id
        result.lines.append(Assessment(f'{SUBJECT_PREFIX}{row.id}', row.room_id, payer,
                                       Charge(amount, description, basis)))
    return result


# --- what a bill page shows ---------------------------------------------------------------------------------------

def pending_fen(bill: Bill, tenant, today: date) -> int:
    """The late fee a bill has accrued through ``today`` and that no run has assessed yet (0 when late fees are off,
    the bill is void or settled, or it is still within its grace period). ``bill.lines`` with their fee items
    should be loaded; two more statements."""
    rule = settings_of(tenant)
    if not rule.enabled or bill.status not in OPEN_STATUSES or bill.due_on >= today:
        return 0
    principal = sum(line.amount_fen for line in bill.lines
                    if not line.voided and line.waived_at is None and line.fee_item.charging != LATE_FEE)
    if principal <= 0 or today < first_day(bill.due_on, rule.grace_days):
        return 0
    accrual = accrue(principal, bill.due_on, today, allocation_days([bill.id], tenant).get(bill.id, []),
                     rule.daily_rate, rule.grace_days, rule.cap_percent, rule.since)
    return max(0, accrual.accrued_fen - assessed([bill.id]).get(bill.id, 0))


# --- waiver (减免) ------------------------------------------------------------------------------------------------

def line_of(bill: Bill, line_id) -> BillLine:
    """One line of ``bill``; any other id (another bill's, another project's) is 404."""
    from flask import abort

    from ..models_base import get_or_404

    line = get_or_404(BillLine, line_id)
    if line.bill_id != bill.id:
        abort(404)
    return line


def waive_line(line: BillLine, reason: str, *, by_user_id: int | None = None) -> BillLine:
    """减免: waive a late-fee line with a reason (required, at most 200 characters). The line stays on its bill
    (waived_at, waived_by, reason) and keeps its idempotency key, so it is never assessed again; the bill's total
    drops by its amount and its status is recomputed. Does not commit.

    Raises DomainError for a line that is not a late fee, is waived already or voided, a void bill, or a bill whose
    balance is below the line's amount (that money was paid: refund it instead)."""
    from .payments import _lock_room, _set_statuses, paid_by_bill

    reason = (reason or '').strip()
    if not reason or len(reason) > 200:
        raise DomainError(_l('请填写减免原因（最多 200 字）'), field='reason')
    bill = db.session.execute(sa.select(Bill).where(Bill.id == line.bill_id)).scalar_one()
    if bill.room_id is not None:
        _lock_room(db.session.get(Room, bill.room_id))
    bill = db.session.execute(sa.select(Bill).where(Bill.id == line.bill_id).with_for_update()
                              .execution_options(populate_existing=True)).scalar_one()
    item = db.session.execute(sa.select(FeeItem).where(FeeItem.id == line.fee_item_id)).scalar_one()
    if item.charging != LATE_FEE:
        raise DomainError(_l('只能减免滞纳金，其他费用如有错误请作废账单后重新出账'))
    if line.waived_at is not None:
        raise DomainError(_l('这笔滞纳金已经减免过了'))
    if bill.status == 'void' or line.voided:
        raise DomainError(_l('账单已作废，无需减免'))
    owed = int(bill.total_fen) - paid_by_bill([bill.id]).get(bill.id, 0)
    if owed < line.amount_fen:
        raise DomainError(_l('这张账单尚欠 %(owed)s 元，少于这笔滞纳金 %(amount)s 元：已缴的部分不能减免，'
                             '如需退还请办理退款', owed=format_yuan(owed), amount=format_yuan(line.amount_fen)))
    line.waived_at, line.waived_by_id, line.waive_reason = utcnow(), by_user_id, reason
    bill.total_fen = int(bill.total_fen) - int(line.amount_fen)
    db.session.flush()
    _set_statuses([bill])
    db.session.flush()
    return line
