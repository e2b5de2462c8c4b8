"""Bill runs (出账): a period's charges for the project or one building, previewed, then turned into bills by a job.

    summary = preview(tenant, '2026-12', building_id=None, fee_item_ids=[])     # writes nothing
    run = start_run(tenant, '2026-12', due_on=date(2027, 1, 15), by_user_id=...) # BillRun + job generate_bills
    void_run(run, '单价录入错误')                                                 # its unpaid bills voided

What is billed: every active recurring fee item (or the ones chosen) for each subject — a room (active, not merged,
handed over: ``billing_starts_on`` on or before the month's first day, so a room handed over mid-month pays from the
next month) or a parking space with a room (``applies_to='parking_space'``). Quarterly items are billed in January,
April, July and October for three months, yearly ones in January for twelve. The price comes from the RuleBook (the
narrowest rule wins; ``exempt`` bills nothing). Area items: round_fen(area × rate × months), once per line, half up;
fixed items: the amount per cycle. The payer is the room's current owner, else any current resident; a subject
with no payer, a room not handed over and a room with no area (for area items) are skipped and listed.

Idempotent per (subject, fee item, period): lines already billed (and not voided) are left out, so running a period
again adds only what is missing; the partial unique index ``uq_bill_lines_live`` guarantees it. Services never
commit, except the job, which is its own transaction. Every phase issues a constant number of statements, whatever
the number of rooms.
"""
from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from ..errors import DomainError
from ..extensions import db
from ..jobs.queue import enqueue, job, report_progress
from ..models_base import utcnow
from ..money import format_yuan, round_fen
from ..property.models import Building, ParkingSpace, Room
from ..residents.models import Occupancy
from ..tenancy.clock import tenant_today
from ..tenancy.context import current_tenant_id
from ..tenancy.models import Tenant
from . import numbering
from .charges import Charge
from .models import CYCLE_MONTHS, LATE_FEE, Bill, BillLine, BillRun, FeeItem
from .rules import RuleBook

log = logging.getLogger(__name__)

_PERIOD_RE = re.compile(r'^(20\d{2})-(0[1-9]|1[0-2])$')
#: cycle -> the months (1-12) it is billed in
CYCLE_BILLING_MONTHS = {'month': set(range(1, 13)), 'quarter': {1, 4, 7, 10}, 'year': {1}}
CYCLE_UNIT = {'month': _l('月'), 'quarter': _l('季'), 'year': _l('年')}
SKIP_REASONS = {
    'not_handed_over': _l('未交付（未设置计费起始日）'),
    'not_started': _l('计费起始日在本月1日之后，下月起计费'),
    'no_payer': _l('无缴费人（没有在住业主或住户）'),
    'no_area': _l('未登记建筑面积'),
}
#: at most this many skipped subjects are kept, by name, in a run's summary (the counts are always complete)
SKIPPED_KEPT = 200
MAX_DUE_DAYS = 366


# --- small pure helpers ----------------------------------------------------------------------------------------

def parse_period(text) -> tuple[int, int]:
    """'2026-12' -> (2026, 12); DomainError(field='period') for anything else."""
    match = _PERIOD_RE.match(str(text or '').strip())
    if not match:
        raise DomainError(_l('请按“年-月”填写账期，例如 2026-12'), field='period')
    return int(match.group(1)), int(match.group(2))


def month_start(period: str) -> date:
    year, month = parse_period(period)
    return date(year, month, 1)


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (clamped to the month's last day)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    for candidate in (day.day, 31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover


def billed_months(item: FeeItem, period: str) -> int:
    """How many months ``item`` bills in ``period``: 0 when its cycle doesn't bill that month."""
    _, month = parse_period(period)
    cycle = item.cycle or 'month'
    return CYCLE_MONTHS[cycle] if month in CYCLE_BILLING_MONTHS[cycle] else 0


def decimal_text(value: Decimal, places: int = 2) -> str:
    """Decimal('1.8') -> '1.80', Decimal('0.6125') -> '0.6125': at least ``places`` decimals, never fewer digits."""
    exponent = value.normalize().as_tuple().exponent
    shown = max(places, -exponent if isinstance(exponent, int) else places)
    return f'{value:.{shown}f}'


def vacancy_settings(tenant) -> tuple[bool, int, Decimal]:
    """(enabled, months, rate) of the project's vacancy discount (空置房), from tenant.settings['rules']."""
    rules = ((getattr(tenant, 'settings', None) or {}).get('rules') or {})
    enabled = bool(rules.get('vacancy_discount_enabled', False))
    try:
        months = int(rules.get('vacancy_months', 6))
        rate = Decimal(str(rules.get('vacancy_rate', '0.60')))
    except (ValueError, ArithmeticError):
        return False, 6, Decimal(1)
    if not Decimal(0) <= rate <= Decimal(1) or months < 0:
        return False, months, Decimal(1)
    return enabled, months, rate


def area_charge(item: FeeItem, price, area: Decimal, months: int, period: str,
                vacancy_rate: Decimal | None = None) -> Charge:
    """area × rate × months (× the vacancy rate), rounded once to fen, half up, with its formula."""
    exact = area * price.rate * months
    formula = f'{decimal_text(area)} ㎡ × {decimal_text(price.rate)} 元/㎡·月 × {months} 月'
    if vacancy_rate is not None:
        exact *= vacancy_rate
        formula += f' × {decimal_text(vacancy_rate * 100, 0)}%（{_l("空置")}）'
    amount = round_fen(exact)
    basis = {'rule_id': price.rule_id, 'scope': price.scope, 'rate': decimal_text(price.rate),
             'area_m2': decimal_text(area), 'months': months, 'formula': f'{formula} = {format_yuan(amount)} 元'}
    if vacancy_rate is not None:
        basis['vacancy_rate'] = decimal_text(vacancy_rate)
    return Charge(amount, f'{item.name} {period}', basis)


def fixed_charge(item: FeeItem, price, months: int, period: str) -> Charge:
    """The amount per cycle (a quarterly 180.00 bills 180.00 each quarter)."""
    amount = int(price.amount_fen)
    unit = CYCLE_UNIT[item.cycle or 'month']
    formula = f'{format_yuan(amount)} 元/{unit} × 1 = {format_yuan(amount)} 元'
    return Charge(amount, f'{item.name} {period}', {'rule_id': price.rule_id, 'scope': price.scope,
                                                   'amount_fen': amount, 'months': months, 'formula': formula})


# --- computing a period's charges -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Line:
    """A charge for one subject ('room:12', 'space:5') and fee item, with who is asked to pay."""

    subject: str
    room_id: int | None
    space_id: int | None
    payer_id: int | None
    item: FeeItem
    charge: Charge
    #: the subject whose bill carries the line, when not ``subject`` itself: a late fee ('latefee:7') goes on the
    #: room's bill ('room:12')
    bill_subject: str | None = None

    @property
    def bill_key(self) -> str:
        return self.bill_subject or self.subject


@dataclass
class Computation:
    period: str
    items: list[FeeItem]
    lines: list[Line] = field(default_factory=list)
    #: [{"subject", "label", "reason"}], one per subject and reason
    skipped: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: lines left out because (subject, fee item, period) is billed already
    existing: int = 0

    def skip(self, subject: str, label: str, reason: str) -> None:
        self.skipped.append({'subject': subject, 'label': label, 'reason': reason})


def selected_items(fee_item_ids=None) -> list[FeeItem]:
    """The fee items a run bills: the given ids (each must be an active recurring item), else every one. The
    late-fee item (滞纳金) is never among them: late fees are assessed, not chosen (``late_fees.assessments``)."""
    query = sa.select(FeeItem).where(FeeItem.active.is_(True), FeeItem.recurring.is_(True),
                                     FeeItem.charging != LATE_FEE)
    ids = sorted({int(i) for i in (fee_item_ids or [])})
    if ids:
        query = query.where(FeeItem.id.in_(ids))
    items = db.session.execute(query.order_by(FeeItem.sort_order, FeeItem.id)).scalars().all()
    if ids and len(items) != len(ids):
        raise DomainError(_l('所选收费项目不存在、已停用或不是周期性收费'), field='fee_item_ids')
    return list(items)


def _room_filters(building_id: int | None) -> list:
    filters = [Room.active.is_(True), Room.merged_into_id.is_(None)]
    if building_id is not None:
        filters.append(Room.building_id == building_id)
    return filters


def _payers_and_vacancy(building_id: int | None):
    """(payer by room id, occupants-other-than-owners by room id, last move-out by room id) in one statement."""
    rows = db.session.execute(
        sa.select(Occupancy.id, Occupancy.room_id, Occupancy.resident_id, Occupancy.role, Occupancy.moved_out_on)
        .join(Room, Room.id == Occupancy.room_id).where(*_room_filters(building_id))
        .order_by(Occupancy.id)).all()
    owner, anyone, lived_in, moved_out = {}, {}, set(), {}
    for _id, room_id, resident_id, role, out in rows:
        if out is None:
            if role == 'owner':
                owner.setdefault(room_id, resident_id)
            else:
                lived_in.add(room_id)
            anyone.setdefault(room_id, resident_id)
        elif moved_out.get(room_id) is None or out > moved_out[room_id]:
            moved_out[room_id] = out
    payers = {**anyone, **owner}
    return payers, lived_in, moved_out


def compute(tenant, period: str, *, building_id: int | None = None, fee_item_ids=None) -> Computation:
    """Every charge of ``period`` for the project (or one building), without writing anything.

    Statements: the items, the rooms, the occupancies, the rules, the parking spaces (when a parking item is
    billed), whatever ``metering.meter_charges`` needs per metered item, and when late fees are enabled the few of
    ``late_fees.assessments`` (accrued through the day before today, the run's issue date) — none per room.
    """
    start = month_start(period)
    items = selected_items(fee_item_ids)
    result = Computation(period, items)
    due = [(item, billed_months(item, period)) for item in items]
    due = [(item, months) for item, months in due if months]
    if not due:
        _late_fee_lines(result, tenant, building_id, None)
        return result
    book = RuleBook.load([item for item, _ in due])
    # Plain rows, not ORM objects: a run reads thousands of rooms and needs only these columns.
    rooms = db.session.execute(
        sa.select(Room.id, Room.code, Room.unit_id, Room.building_id, Room.type, Room.status, Room.area_m2,
                  Room.billing_starts_on, Building.has_lift)
        .join(Building, Building.id == Room.building_id).where(*_room_filters(building_id))
        .order_by(Room.code)).all()
    payers, lived_in, moved_out = _payers_and_vacancy(building_id)
    vacancy_on, vacancy_months, vacancy_rate = vacancy_settings(tenant)

    room_items = [(item, months) for item, months in due if item.applies_to != 'parking_space']
    space_items = [(item, months) for item, months in due if item.applies_to == 'parking_space']
    billable: list = []
    for room in rooms:
        subject = f'room:{room.id}'
        if room_items and room.billing_starts_on is None:
            result.skip(subject, room.code, 'not_handed_over')
        elif room_items and room.billing_starts_on > start:
            result.skip(subject, room.code, 'not_started')
        elif room_items and room.id not in payers:
            result.skip(subject, room.code, 'no_payer')
        else:
            billable.append(room)

    metered: dict[int, list] = defaultdict(list)  # item id -> rooms it applies to
    for room in billable:
        subject, payer = f'room:{room.id}', payers.get(room.id)
        vacant = False
        if vacancy_on and room.status == 'vacant' and room.id not in lived_in:
            since = [day for day in (moved_out.get(room.id), room.billing_starts_on) if day is not None]
            vacant = bool(since) and add_months(max(since), vacancy_months) <= start
        no_area_listed = False
        for item, months in room_items:
            if item.applies_to == 'room_with_lift' and not room.has_lift:
                continue
            if item.applies_to == 'room_without_lift' and room.has_lift:
                continue
            if item.charging == 'meter':
                metered[item.id].append(room)
                continue
            price = book.price(item, room, start)
            if price.exempt:
                continue
            if item.charging == 'area':
                if room.area_m2 is None or room.area_m2 <= 0:
                    if not no_area_listed:
                        result.skip(subject, room.code, 'no_area')
                        no_area_listed = True
                    continue
                if price.rate is None:
                    _note_once(result, _l('收费项目“%(name)s”没有单价，未计费', name=item.name))
                    continue
                charge = area_charge(item, price, Decimal(room.area_m2), months, period,
                                     vacancy_rate if vacant else None)
            else:
                if price.amount_fen is None:
                    _note_once(result, _l('收费项目“%(name)s”没有金额，未计费', name=item.name))
                    continue
                charge = fixed_charge(item, price, months, period)
            result.lines.append(Line(subject, room.id, None, payer, item, charge))

    if metered:
        _meter_lines(result, room_items, metered, payers, period)
    if space_items:
        _space_lines(result, space_items, book, payers, building_id, start, period)
    _late_fee_lines(result, tenant, building_id, payers)
    return result


def _late_fee_lines(result: Computation, tenant, building_id: int | None, payers: dict | None) -> None:
    """滞纳金: one line per overdue bill of each room in scope, onto the room's bill of this run."""
    from . import late_fees

    through = tenant_today(tenant) - timedelta(days=1)
    found = late_fees.assessments(tenant, result.period, through=through, building_id=building_id, payers=payers)
    if found.item is None:
        return
    result.items = [*result.items, found.item]
    for line in found.lines:
        result.lines.append(Line(line.subject, line.room_id, None, line.payer_id, found.item, line.charge,
                                 bill_subject=f'room:{line.room_id}'))


def _note_once(result: Computation, note) -> None:
    text = str(note)
    if text not in result.notes:
        result.notes.append(text)


def _meter_lines(result: Computation, room_items, metered, payers, period: str) -> None:
    try:
        from .metering import meter_charges
    except ImportError:
        for item, _ in room_items:
            if item.id in metered:
                _note_once(result, _l('抄表收费“%(name)s”暂不能出账（抄表功能未启用）', name=item.name))
        return
    for item, _ in room_items:
        rooms = metered.get(item.id)
        if not rooms:
            continue
        try:
            charges = meter_charges(item, rooms, period)
        except DomainError as error:  # e.g. a shared item without its master reading: the others still bill
            _note_once(result, _l('抄表收费“%(name)s”未出账：%(reason)s', name=item.name, reason=error.message))
            continue
        for room_id, charge in sorted(charges.items()):
            result.lines.append(Line(f'room:{room_id}', room_id, None, payers.get(room_id), item, charge))


def _space_lines(result: Computation, space_items, book: RuleBook, payers, building_id, start: date,
                 period: str) -> None:
    spaces = db.session.execute(
        sa.select(ParkingSpace).join(Room, Room.id == ParkingSpace.room_id)
        .where(ParkingSpace.active.is_(True), *_room_filters(building_id)).order_by(ParkingSpace.code)).scalars().all()
    for space in spaces:
        subject = f'space:{space.id}'
        payer = payers.get(space.room_id)
        if payer is None:
            result.skip(subject, space.code, 'no_payer')
            continue
        for item, months in space_items:
            price = book.price(item, None, start)
            if price.exempt:
                continue
            if item.charging != 'fixed' or price.amount_fen is None:
                _note_once(result, _l('车位收费“%(name)s”须为固定金额，未计费', name=item.name))
                continue
            charge = fixed_charge(item, price, months, period)
            result.lines.append(Line(subject, space.room_id, space.id, payer, item, charge))


def _existing_keys(period: str, items: list[FeeItem]) -> set[tuple[str, int]]:
    """(subject, fee item id) already billed in ``period`` by a live line: one statement."""
    if not items:
        return set()
    rows = db.session.execute(sa.select(BillLine.subject, BillLine.fee_item_id).where(
        BillLine.period == period, BillLine.voided.is_(False),
        BillLine.fee_item_id.in_([item.id for item in items]))).all()
    return {(subject, item_id) for subject, item_id in rows}


def missing(tenant, period: str, *, building_id: int | None = None, fee_item_ids=None) -> Computation:
    """``compute``, less the lines already billed."""
    result = compute(tenant, period, building_id=building_id, fee_item_ids=fee_item_ids)
    existing = _existing_keys(period, result.items)
    if existing:
        kept = [line for line in result.lines if (line.subject, line.item.id) not in existing]
        result.existing = len(result.lines) - len(kept)
        result.lines = kept
    return result


def _summary(result: Computation) -> dict:
    items: dict[str, dict] = {}
    for item in result.items:
        items[item.code] = {'fee_item_id': item.id, 'name': item.name, 'lines': 0, 'fen': 0}
    for line in result.lines:
        entry = items[line.item.code]
        entry['lines'] += 1
        entry['fen'] += line.charge.amount_fen
    counts: dict[str, int] = defaultdict(int)
    for skipped in result.skipped:
        counts[skipped['reason']] += 1
    return {'items': items, 'bills': len({line.bill_key for line in result.lines}),
            'lines': len(result.lines), 'total_fen': sum(line.charge.amount_fen for line in result.lines),
            'existing': result.existing, 'skipped_counts': dict(counts),
            'skipped': result.skipped[:SKIPPED_KEPT], 'notes': list(result.notes)}


def _check_building(building_id: int | None) -> None:
    if building_id is None:
        return
    found = db.session.execute(sa.select(Building.id).where(Building.id == building_id)).scalar_one_or_none()
    if found is None:
        raise DomainError(_l('楼栋不存在'), field='building_id')


def preview(tenant, period: str, *, building_id: int | None = None, fee_item_ids=None) -> dict:
    """What a run would bill now, per fee item ({code: {name, lines, fen}}), the number of bills, what is already
    billed and the subjects skipped with reasons. Writes nothing; a constant number of statements."""
    parse_period(period)
    _check_building(building_id)
    return _summary(missing(tenant, period, building_id=building_id, fee_item_ids=fee_item_ids))


# --- the run and its job ---------------------------------------------------------------------------------------

def start_run(tenant, period: str, *, due_on: date, building_id: int | None = None, fee_item_ids=None,
              notify: bool = False, by_user_id: int | None = None) -> BillRun:
    """Record a bill run (pending) and start the job ``generate_bills`` for it. Commits (the job must see it).

    Raises DomainError for a bad period, due date, building or fee item, or while another run of the same
    period is still working; QueueUnavailable (503) when the queue is down (the run stays pending, its job queued).
    """
    year, month = parse_period(period)
    _check_building(building_id)
    items = selected_items(fee_item_ids)
    if not items:
        raise DomainError(_l('没有可出账的收费项目，请先在“收费项目”中启用'), field='fee_item_ids')
    if not isinstance(due_on, date):
        raise DomainError(_l('请填写缴费截止日期'), field='due_on')
    if not date(year, month, 1) <= due_on <= add_months(date(year, month, 1), 12):
        raise DomainError(_l('缴费截止日期须在账期当月1日至一年之内'), field='due_on')
    busy = db.session.execute(sa.select(BillRun.id).where(
        BillRun.period == period, BillRun.status.in_(('pending', 'running'))).limit(1)).scalar_one_or_none()
    if busy is not None:
        raise DomainError(_l('%(period)s 正在出账，请等它完成后再试', period=period))
    run = BillRun(period=period, building_id=building_id, fee_item_ids=sorted(item.id for item in items)
                  if fee_item_ids else [], due_on=due_on, status='pending', summary={'notify': bool(notify)},
                  created_by_id=by_user_id)
    db.session.add(run)
    db.session.flush()
    record = enqueue(generate_bills, run.id, key=f'bill_run:{run.id}', requested_by_id=by_user_id)
    if record is not None:
        # enqueue committed; an inline run has finished by now in its own session
        db.session.execute(sa.update(BillRun).where(BillRun.id == run.id).values(job_id=record.id)
                           .execution_options(synchronize_session=False))
        db.session.expire(run)
    return run


@dataclass
class Outcome:
    bills: list[int] = field(default_factory=list)
    total_fen: int = 0


def issue_bills(run: BillRun, tenant, result: Computation) -> Outcome:
    """Turn ``result``'s lines into one bill per subject of ``run``: numbered, inserted in bulk (a constant number
    of statements). Does not commit."""
    by_subject: dict[str, list[Line]] = {}
    for line in result.lines:
        by_subject.setdefault(line.bill_key, []).append(line)
    outcome = Outcome()
    if not by_subject:
        return outcome
    tenant_id = current_tenant_id()
    numbers = numbering.next_bill_numbers(run.period, len(by_subject))
    today, now = tenant_today(tenant), utcnow()
    bill_rows, totals = [], {}
    for number, (subject, lines) in zip(numbers, by_subject.items(), strict=True):
        first = lines[0]
        total = sum(line.charge.amount_fen for line in lines)
        totals[number] = (subject, total)
        bill_rows.append({'tenant_id': tenant_id, 'number': number, 'run_id': run.id, 'room_id': first.room_id,
                          'parking_space_id': first.space_id, 'payer_resident_id': first.payer_id,
                          'period': run.period, 'issued_on': today, 'due_on': run.due_on, 'status': 'unpaid',
                          'total_fen': total, 'void_reason': None, 'voided_at': None, 'created_at': now})
    bills = Bill.__table__
    db.session.execute(sa.insert(bills), bill_rows)
    ids = dict(db.session.execute(sa.select(bills.c.number, bills.c.id).where(
        bills.c.tenant_id == tenant_id, bills.c.run_id == run.id)).all())
    line_rows = []
    for number, (subject, _total) in totals.items():
        for line in by_subject[subject]:
            line_rows.append({'tenant_id': tenant_id, 'bill_id': ids[number], 'fee_item_id': line.item.id,
                              'subject': line.subject, 'period': run.period,
                              'description': line.charge.description[:120],
                              'amount_fen': line.charge.amount_fen, 'basis': line.charge.basis, 'voided': False})
    db.session.execute(sa.insert(BillLine.__table__), line_rows)
    outcome.bills = [ids[number] for number in totals]
    outcome.total_fen = sum(total for _subject, total in totals.values())
    return outcome


@job(_l('出账（生成账单）'))
def generate_bills(run_id: int) -> dict:
    """Make the bills of one run: what is missing for its period and scope, one bill per subject.

    Idempotent: a run that is done (or voided) is left alone, and lines billed already are never billed twice.
    """
    run = db.session.execute(sa.select(BillRun).where(BillRun.id == run_id)).scalar_one_or_none()
    if run is None or run.status not in ('pending', 'running', 'failed'):
        return {'bills': run.bill_count if run else 0}
    tenant = db.session.get(Tenant, current_tenant_id())
    notify = bool((run.summary or {}).get('notify'))
    run.status = 'running'
    db.session.commit()
    try:
        report_progress(5)
        result = missing(tenant, run.period, building_id=run.building_id, fee_item_ids=run.fee_item_ids)
        report_progress(60)  # before writing: progress has its own transaction (SQLite allows one writer)
        outcome = issue_bills(run, tenant, result)
        # Prepaid money (预存款) settles the new bills at once, oldest first.
        from .payments import settle_rooms  # payments build on runs: imported here

        settle_rooms(db.session.execute(sa.select(Bill.room_id).where(
            Bill.id.in_(outcome.bills), Bill.room_id.is_not(None))).scalars().all())
        summary = _summary(result)
        summary['notify'] = notify
        run.status, run.finished_at = 'done', utcnow()
        run.bill_count, run.total_fen, run.summary = len(outcome.bills), outcome.total_fen, summary
        db.session.commit()
    except Exception:
        db.session.rollback()
        db.session.execute(sa.update(BillRun).where(BillRun.id == run_id).values(status='failed')
                           .execution_options(synchronize_session=False))
        db.session.commit()
        raise
    if notify and outcome.bills:
        _notify_payers(run, outcome.bills)
    return {'bills': len(outcome.bills), 'total_fen': outcome.total_fen}


def _notify_payers(run: BillRun, bill_ids: list[int]) -> None:
    """'账单已出' to each bill's payer (one message per bill, at most once: source_key per bill)."""
    from ..notices.templates import notify

    bills = db.session.execute(sa.select(Bill).where(Bill.id.in_(bill_ids), Bill.payer_resident_id.is_not(None))
                               .options(joinedload(Bill.room).joinedload(Room.building),
                                        joinedload(Bill.room).joinedload(Room.unit),
                                        joinedload(Bill.parking_space))).unique().scalars().all()
    failed = 0
    for bill in bills:
        place = bill.room.label if bill.room else ''
        if bill.parking_space is not None:
            place = f'{place} {bill.parking_space.code}'.strip()
        try:
            notify([bill.payer_resident_id], 'bill_issued',
                   {'room': place, 'period': bill.period, 'amount': format_yuan(bill.total_fen),
                    'due_date': bill.due_on.isoformat()},
                   source_key=f'bill:{bill.id}:issued', link=f'/my/bills/{bill.id}')
        except Exception:  # a message that can't go out never undoes the bills
            db.session.rollback()
            log.exception('bill %s: notice not sent', bill.id)
            failed += 1
    if failed:
        run = db.session.execute(sa.select(BillRun).where(BillRun.id == run.id)).scalar_one()
        run.summary = {**(run.summary or {}), 'notify_failed': failed}
        db.session.commit()


def void_run(run: BillRun, reason: str, *, by_user_id: int | None = None) -> int:
    """Void a finished run: its bills still 'unpaid' become 'void' with the reason (their lines voided, so a re-run
    can bill them again); bills with payments stay. Nothing is deleted. Returns the number of bills voided.

    Raises DomainError without a reason, while the run is still working, or when it is voided already.
    """
    reason = (reason or '').strip()
    if not reason or len(reason) > 200:
        raise DomainError(_l('请填写作废原因（最多 200 字）'), field='reason')
    if run.status == 'voided':
        raise DomainError(_l('这次出账已经作废'))
    if run.status in ('pending', 'running'):
        raise DomainError(_l('出账还在进行中，完成后才能作废'))
    now = utcnow()
    unpaid = sa.select(Bill.id).where(Bill.run_id == run.id, Bill.status == 'unpaid')
    ids = db.session.execute(unpaid).scalars().all()
    if ids:
        db.session.execute(sa.update(BillLine).where(BillLine.bill_id.in_(unpaid)).values(voided=True)
                           .execution_options(synchronize_session=False))
        db.session.execute(sa.update(Bill).where(Bill.id.in_(ids)).values(
            status='void', void_reason=reason, voided_at=now).execution_options(synchronize_session=False))
    kept = db.session.execute(sa.select(sa.func.count(Bill.id)).where(
        Bill.run_id == run.id, Bill.status != 'void')).scalar_one()
    run.status, run.void_reason, run.voided_at = 'voided', reason, now
    run.summary = {**(run.summary or {}), 'voided_bills': len(ids), 'kept_bills': kept,
                   'voided_by_id': by_user_id}
    db.session.flush()
    db.session.expire_all()
    return len(ids)
