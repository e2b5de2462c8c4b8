"""Meter readings (抄表) and what they are billed as: metered charges and shared utilities (水电公摊).

- ``record_reading``: one reading per (meter, room, period); the master meter of a kind has room None. A reading
  lower than the latest earlier one is refused unless the meter was replaced (换表: usage = the new reading).
- ``usage``: each room's usage in a period, from its reading and the one before it, in one statement.
- ``meter_charges``: the bill run's entry point for fee items charged by meter. Not shared: usage × rate per room.
  Shared (公摊): (master usage − all sub-meters' usage) × rate, rounded once, split over the rooms by area or
  equally with the largest-remainder method (``money.split``), so the parts sum exactly to the total.

Readings are exact decimals (at most three places) kept as strings; never float. Amounts are integer fen.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..errors import DomainError
from ..extensions import db
from ..money import format_yuan, round_fen, split
from ..property.models import Room
from .charges import Charge
from .models import METER_NAMES, METERS, BillLine, FeeItem, MeterReading
from .rules import RuleBook

#: the unit a meter counts in, as the bill prints it
METER_UNITS = {'water': _l('吨'), 'electricity': _l('度'), 'gas': _l('立方米'), 'heat': _l('吉焦')}
#: the words people use in spreadsheets for each meter
METER_WORDS = {'水表': 'water', '水': 'water', '电表': 'electricity', '电': 'electricity', '燃气表': 'gas',
               '燃气': 'gas', '气表': 'gas', '热表': 'heat', '热量表': 'heat', '热': 'heat'}
SPLIT_NAMES = {'area': _l('按面积'), 'household': _l('按户')}
#: above this many rooms, usage() reads the meter's readings of every room (still one statement, no huge IN list)
_ALL_ROOMS_ABOVE = 500
_READING_RE = re.compile(r'^\d{1,12}(\.\d{1,3})?$')
_PERIOD_RE = re.compile(r'^(\d{4})-(0[1-9]|1[0-2])$')


# --- plain values ------------------------------------------------------------------------------------------------

def parse_period(text, field: str = 'period') -> str:
    """'2026-10' (also '2026-1', '2026年10月') -> '2026-10'; DomainError otherwise."""
    raw = unicodedata.normalize('NFKC', str(text or '')).strip()
    match = re.match(r'^(\d{4})\s*[-/年.]\s*(\d{1,2})\s*月?$', raw)
    if match and 1 <= int(match.group(2)) <= 12:
        return f'{match.group(1)}-{int(match.group(2)):02d}'
    raise DomainError(_l('请按 年-月 填写抄表月份，例如 2026-10'), field=field)


def month_start(period: str) -> date:
    match = _PERIOD_RE.match(period or '')
    if not match:
        raise DomainError(_l('请按 年-月 填写抄表月份，例如 2026-10'), field='period')
    return date(int(match.group(1)), int(match.group(2)), 1)


def parse_reading(text, field: str = 'reading') -> Decimal:
    """A meter's face value: a non-negative exact decimal with at most three places ('1234.5')."""
    if isinstance(text, float):  # never trust a float's digits beyond what str() shows
        text = str(text)
    raw = unicodedata.normalize('NFKC', str(text if text is not None else '')).strip()
    raw = re.sub(r'[\s,，]', '', raw)
    if not _READING_RE.match(raw):
        raise DomainError(_l('请填写读数：不小于 0 的数字，最多三位小数，例如 1234.5'), field=field)
    return Decimal(raw)


def parse_meter(text, field: str = 'meter') -> str:
    raw = unicodedata.normalize('NFKC', str(text or '')).strip()
    meter = raw if raw in METERS else METER_WORDS.get(raw)
    if meter is None:
        raise DomainError(_l('表类型应为 水表、电表、燃气表 或 热表'), field=field)
    return meter


def canonical(value: Decimal) -> str:
    """Decimal('500.0') -> '500', Decimal('24.20') -> '24.2' (never exponent notation)."""
    text = format(value, 'f')
    if '.' in text:
        text = text.rstrip('0').rstrip('.')
    return text or '0'


def format_rate(rate: Decimal) -> str:
    """At least two decimals, as price lists print them: 4 -> '4.00', 0.585 -> '0.585'."""
    return format(rate, 'f') if -rate.as_tuple().exponent > 2 else format(rate.quantize(Decimal('0.01')), 'f')


def meter_name(meter: str) -> str:
    return str(METER_NAMES.get(meter, meter))


def unit_of(meter: str) -> str:
    return str(METER_UNITS.get(meter, ''))


# --- recording ---------------------------------------------------------------------------------------------------

def _room_filter(room_id):
    return MeterReading.room_id.is_(None) if room_id is None else MeterReading.room_id == room_id


def _neighbour(meter: str, room_id, period: str, *, before: bool) -> MeterReading | None:
    query = sa.select(MeterReading).where(MeterReading.meter == meter, _room_filter(room_id))
    if before:
        query = query.where(MeterReading.period < period).order_by(MeterReading.period.desc())
    else:
        query = query.where(MeterReading.period > period).order_by(MeterReading.period)
    return db.session.execute(query.limit(1)).scalar_one_or_none()


def reading_used(reading: MeterReading) -> bool:
    """Has a live bill line been computed from this reading? As the current reading of its period, or as the
    previous one of the next reading's period; a master reading (and every sub-reading) feeds shared items."""
    later = _neighbour(reading.meter, reading.room_id, reading.period, before=False)
    periods = [reading.period] + ([later.period] if later else [])
    uses = sa.or_(FeeItem.shared.is_(True),
                  BillLine.subject == f'room:{reading.room_id}') if reading.room_id else FeeItem.shared.is_(True)
    query = (sa.select(BillLine.id).join(FeeItem, FeeItem.id == BillLine.fee_item_id)
             .where(BillLine.voided.is_(False), FeeItem.charging == 'meter', FeeItem.meter == reading.meter,
                    BillLine.period.in_(periods), uses).limit(1))
    return db.session.execute(query).first() is not None


def record_reading(meter: str, room_id: int | None, period: str, reading, *, replaced: bool = False,
                   read_on: date | None = None, note: str | None = None,
                   by_user_id: int | None = None) -> MeterReading:
    """Record (or correct) the reading of ``meter`` in ``room_id`` (None: the master meter) for ``period``.

    ``reading`` is text or a Decimal (never a float). Refused with a DomainError (nothing written) when: it is not
    a non-negative decimal with at most three places; the room is not this project's; it is lower than the latest
    earlier reading and ``replaced`` is False; a later reading is lower than it; or the period's reading is
    already on a bill (a correction would change a billed amount: void the bill first). Flushes; the caller commits.
    """
    if meter not in METERS:
        raise DomainError(_l('表类型应为 水表、电表、燃气表 或 热表'), field='meter')
    period = parse_period(period)
    value = reading if isinstance(reading, Decimal) else parse_reading(reading)
    if value < 0 or -value.as_tuple().exponent > 3 or not value.is_finite():
        raise DomainError(_l('请填写读数：不小于 0 的数字，最多三位小数，例如 1234.5'), field='reading')
    if room_id is not None and db.session.execute(sa.select(Room.id).where(Room.id == room_id)).first() is None:
        raise DomainError(_l('找不到这个房屋'), field='room')
    note = (note or '').strip()[:200] or None
    existing = db.session.execute(sa.select(MeterReading).where(
        MeterReading.meter == meter, _room_filter(room_id), MeterReading.period == period)).scalar_one_or_none()
    if existing is not None and reading_used(existing):
        raise DomainError(_l('%(period)s 的读数已用于出账，不能再修改；如需更正请先作废相关账单', period=period),
                          field='reading')
    previous = _neighbour(meter, room_id, period, before=True)
    if previous is not None and not replaced and value < Decimal(previous.reading):
        raise DomainError(_l('本期读数 %(value)s 低于上期读数 %(previous)s（%(period)s），请核对；如已换表请勾选“换表”',
                             value=canonical(value), previous=previous.reading, period=previous.period),
                          field='reading')
    later = _neighbour(meter, room_id, period, before=False)
    if later is not None and not later.replaced and Decimal(later.reading) < value:
        raise DomainError(_l('读数 %(value)s 高于之后 %(period)s 的读数 %(later)s，请核对',
                             value=canonical(value), period=later.period, later=later.reading), field='reading')
    row = existing or MeterReading(meter=meter, room_id=room_id, period=period)
    row.reading, row.replaced, row.read_on, row.note = canonical(value), bool(replaced), read_on, note
    row.entered_by_id = by_user_id
    if existing is None:
        db.session.add(row)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except sa.exc.IntegrityError:
        raise DomainError(_l('这块表 %(period)s 的读数刚刚已由他人录入，请刷新后再试', period=period),
                          field='reading') from None
    return row


# --- usage -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Usage:
    room_id: int | None
    current: Decimal
    #: None after a meter replacement (usage = current)
    previous: Decimal | None
    previous_period: str | None
    usage: Decimal
    replaced: bool
    reading_id: int


def readings_around(meter: str, period: str, room_ids: list[int | None] | None) -> dict[int | None, Usage]:
    """Usage of every listed room (None: the master meter; ``room_ids=None``: every room and the master) that has
    a reading in ``period`` and either an earlier one or a replacement. One statement, any number of rooms."""
    rn = sa.func.row_number().over(partition_by=MeterReading.room_id, order_by=MeterReading.period.desc())
    query = sa.select(MeterReading.id, MeterReading.room_id, MeterReading.period, MeterReading.reading,
                      MeterReading.replaced, rn.label('rn')).where(MeterReading.meter == meter,
                                                                   MeterReading.period <= period)
    wanted = None
    if room_ids is not None:
        wanted = set(room_ids)
        real = [r for r in wanted if r is not None]
        if len(real) <= _ALL_ROOMS_ABOVE:
            conditions = [MeterReading.room_id.in_(real)] if real else []
            if None in wanted:
                conditions.append(MeterReading.room_id.is_(None))
            query = query.where(sa.or_(*conditions) if conditions else sa.false())
    ranked = query.subquery()
    rows = db.session.execute(sa.select(ranked).where(ranked.c.rn <= 2)).all()
    latest: dict = {}
    earlier: dict = {}
    for row in rows:
        (latest if row.rn == 1 else earlier)[row.room_id] = row
    result = {}
    for room_id, row in latest.items():
        if row.period != period or (wanted is not None and room_id not in wanted):
            continue
        current = Decimal(row.reading)
        if row.replaced:
            result[room_id] = Usage(room_id, current, None, None, current, True, row.id)
        elif room_id in earlier:
            before = earlier[room_id]
            result[room_id] = Usage(room_id, current, Decimal(before.reading), before.period,
                                    current - Decimal(before.reading), False, row.id)
    return result


def usage(meter: str, room_ids: list[int | None], period: str) -> dict[int | None, Decimal]:
    """{room_id: usage} for the rooms (None: the master meter) with this period's reading and the one before it
    (or a replacement); rooms without both are left out. One statement whatever the number of rooms."""
    return {room_id: u.usage for room_id, u in readings_around(meter, period, list(room_ids)).items()}


# --- charges -----------------------------------------------------------------------------------------------------

def _check_item(item: FeeItem) -> None:
    if item.charging != 'meter' or item.meter not in METERS:
        raise DomainError(_l('收费项目“%(name)s”不是按抄表计费的项目', name=item.name), field='fee_item')


def _rate_or_refuse(item: FeeItem, rate: Decimal | None) -> Decimal:
    if rate is None:
        raise DomainError(_l('收费项目“%(name)s”没有设置单价', name=item.name), field='rate')
    return rate


def meter_charges(item: FeeItem, rooms: list[Room], period: str) -> dict[int, Charge]:
    """Charges of a metered fee item for ``rooms`` in ``period`` (readings of that period), keyed by room id.

    Not shared: usage × the room's rate (rules honoured; exempt rooms get nothing); rooms without this period's
    reading and the one before are left out, for the caller to list. Shared (公摊): see ``shared_split``.
    Statements: a constant number whatever the number of rooms. Raises DomainError for an item that is not
    metered, has no rate, a shared total that is negative or missing the master reading, or rooms without area
    when splitting by area.
    """
    _check_item(item)
    period = parse_period(period)
    if item.shared:
        result = shared_split(item, rooms, period)
        return {share.room_id: share.charge for share in result.shares if share.charge is not None}
    book = RuleBook.load([item])
    start = month_start(period)
    usages = readings_around(item.meter, period, [room.id for room in rooms])
    unit, charges = unit_of(item.meter), {}
    for room in rooms:
        found = usages.get(room.id)
        if found is None:
            continue
        price = book.price(item, room, start)
        if price.exempt:
            continue
        rate = _rate_or_refuse(item, price.rate)
        amount = round_fen(found.usage * rate)
        formula = (f'{canonical(found.usage)} {unit} × {format_rate(rate)} 元/{unit} = {format_yuan(amount)} 元')
        basis = {'meter': item.meter, 'previous': canonical(found.previous) if found.previous is not None else None,
                 'previous_period': found.previous_period, 'current': canonical(found.current),
                 'usage': canonical(found.usage), 'replaced': found.replaced, 'reading_id': found.reading_id,
                 'rate': format_rate(rate), 'rule_id': price.rule_id, 'scope': price.scope, 'formula': formula}
        charges[room.id] = Charge(amount, f'{item.name} {period}', basis)
    return charges


@dataclass(frozen=True)
class Share:
    room_id: int
    code: str
    weight: Decimal
    amount_fen: int
    exempt: bool
    #: None for an exempt room (its share is computed, shown, and not billed)
    charge: Charge | None


@dataclass
class SharedSplit:
    """公摊明细: how one shared item's total for a period was made and shared out (publishable as it is)."""

    item: FeeItem
    period: str
    master: Usage
    sub_total: Decimal
    sub_rooms: int
    shared_usage: Decimal
    rate: Decimal
    rule_id: int | None
    scope: str
    total_fen: int
    split_by: str
    total_weight: Decimal
    shares: list[Share] = field(default_factory=list)

    @property
    def formula(self) -> str:
        unit = unit_of(self.item.meter)
        return (f'({canonical(self.master.usage)} {unit} − {canonical(self.sub_total)} {unit}) × '
                f'{format_rate(self.rate)} 元/{unit} = {format_yuan(self.total_fen)} 元')

    @property
    def billed_fen(self) -> int:
        return sum(share.amount_fen for share in self.shares if share.charge is not None)


def _weight_text(split_by: str, weight: Decimal, total: Decimal) -> str:
    if split_by == 'area':
        return f'{format(weight, "f")} ㎡ / {format(total, "f")} ㎡'
    return f'1 户 / {canonical(total)} 户'


def shared_split(item: FeeItem, rooms: list[Room], period: str) -> SharedSplit:
    """The shared (公摊) item's total for ``period`` and each room's share of it.

    total = (master usage − the sum of the usage of every room's sub-meter read that period) × the project-wide
    rate, rounded once to fen; split over ``rooms`` by area (Room.area_m2) or one part per household with the
    largest-remainder method: the parts sum exactly to the total and don't depend on the order of ``rooms``.
    A room exempt by a rule keeps its share in the published split but is not billed. Raises DomainError when
    the master meter lacks this or an earlier reading, when the sub-meters read more than the master (a negative
    shared usage is never billed), when there are no rooms, or when a room has no area to split by.
    """
    _check_item(item)
    period = parse_period(period)
    start = month_start(period)
    usages = readings_around(item.meter, period, None)
    master = usages.pop(None, None)
    if master is None:
        raise DomainError(_l('%(meter)s总表缺少 %(period)s 的读数或上期读数，无法计算公摊',
                             meter=meter_name(item.meter), period=period), field='master')
    sub_total = sum((u.usage for u in usages.values()), Decimal(0))
    shared_usage = master.usage - sub_total
    if shared_usage < 0:
        raise DomainError(_l('分表用量合计 %(sub)s 超过总表用量 %(master)s，公摊用量为负，请核对 %(period)s 的抄表读数',
                             sub=canonical(sub_total), master=canonical(master.usage), period=period),
                          field='master')
    if not rooms:
        raise DomainError(_l('没有可以分摊的房屋'), field='rooms')
    book = RuleBook.load([item])
    project_price = book.price(item, None, start)
    rate = _rate_or_refuse(item, project_price.rate)
    total_fen = round_fen(shared_usage * rate)
    split_by = item.split_by if item.split_by in SPLIT_NAMES else 'area'
    if split_by == 'area':
        missing = sorted(room.code for room in rooms if not room.area_m2 or room.area_m2 <= 0)
        if missing:
            shown = '、'.join(missing[:10]) + ('…' if len(missing) > 10 else '')
            raise DomainError(_l('以下房屋没有面积，无法按面积分摊：%(rooms)s。请先补充面积', rooms=shown),
                              field='rooms')
        weights = {room.id: Decimal(room.area_m2) for room in rooms}
    else:
        weights = {room.id: Decimal(1) for room in rooms}
    total_weight = sum(weights.values(), Decimal(0))
    parts = split(total_fen, weights)
    result = SharedSplit(item, period, master, sub_total, len(usages), shared_usage, rate, project_price.rule_id,
                         project_price.scope, total_fen, split_by, total_weight)
    unit = unit_of(item.meter)
    for room in sorted(rooms, key=lambda r: r.code):
        exempt = book.price(item, room, start).exempt
        amount = parts[room.id]
        charge = None
        if not exempt:
            formula = (f'{result.formula}；{SPLIT_NAMES[split_by]} '
                       f'{_weight_text(split_by, weights[room.id], total_weight)} 分摊 = {format_yuan(amount)} 元')
            basis = {'meter': item.meter, 'shared': True, 'master_usage': canonical(master.usage),
                     'master_previous': canonical(master.previous) if master.previous is not None else None,
                     'master_current': canonical(master.current), 'sub_total': canonical(sub_total),
                     'sub_rooms': len(usages), 'usage': canonical(shared_usage), 'unit': unit,
                     'rate': format_rate(rate), 'rule_id': project_price.rule_id, 'scope': project_price.scope,
                     'total_fen': total_fen, 'split_by': split_by, 'weight': format(weights[room.id], 'f'),
                     'total_weight': format(total_weight, 'f'), 'rooms': len(rooms), 'formula': formula}
            charge = Charge(amount, f'{item.name} {period}', basis)
        result.shares.append(Share(room.id, room.code, weights[room.id], amount, exempt, charge))
    return result


def rooms_for_item(item: FeeItem) -> list[Room]:
    """The active rooms an item applies to (by lift), for previews; a bill run passes its own rooms."""
    from ..property.models import Building
    query = sa.select(Room).where(Room.active.is_(True), Room.merged_into_id.is_(None))
    if item.applies_to in ('room_with_lift', 'room_without_lift'):
        query = query.join(Building, Building.id == Room.building_id).where(
            Building.has_lift.is_(item.applies_to == 'room_with_lift'))
    return list(db.session.execute(query.order_by(Room.code)).scalars())


# --- lists for pages and the API ---------------------------------------------------------------------------------

def readings_query(*, period: str | None = None, meter: str | None = None) -> sa.Select:
    query = sa.select(MeterReading)
    if period:
        query = query.where(MeterReading.period == period)
    if meter:
        query = query.where(MeterReading.meter == meter)
    return query.order_by(MeterReading.period.desc(), MeterReading.meter,
                          MeterReading.room_id.is_not(None), MeterReading.room_id, MeterReading.id)


@dataclass(frozen=True)
class PeriodRow:
    room_id: int | None
    code: str
    usage: Usage | None
    reading: MeterReading | None


def period_rows(meter: str, period: str, rooms: list[Room]) -> list[PeriodRow]:
    """The period view: the master meter first, then ``rooms`` (a page of them) with previous, current and usage.
    Three statements whatever the number of rooms."""
    ids = [None] + [room.id for room in rooms]
    usages = readings_around(meter, period, ids)
    real = [room.id for room in rooms]
    current = db.session.execute(sa.select(MeterReading).where(
        MeterReading.meter == meter, MeterReading.period == period,
        sa.or_(MeterReading.room_id.is_(None), MeterReading.room_id.in_(real) if real else sa.false()))).scalars()
    by_room = {reading.room_id: reading for reading in current}
    rows = [PeriodRow(None, str(_l('总表')), usages.get(None), by_room.get(None))]
    rows += [PeriodRow(room.id, room.code, usages.get(room.id), by_room.get(room.id)) for room in rooms]
    return rows


def previous_readings(meter: str, period: str, room_ids: list[int]) -> dict[int, MeterReading]:
    """The latest reading before ``period`` of each room, in one statement (the import checks 上期读数)."""
    rn = sa.func.row_number().over(partition_by=MeterReading.room_id, order_by=MeterReading.period.desc())
    query = sa.select(MeterReading.id, MeterReading.room_id, MeterReading.period, MeterReading.reading,
                      rn.label('rn')).where(MeterReading.meter == meter, MeterReading.period < period)
    if len(room_ids) <= _ALL_ROOMS_ABOVE:
        query = query.where(MeterReading.room_id.in_(room_ids) if room_ids else sa.false())
    ranked = query.subquery()
    return {row.room_id: row for row in db.session.execute(sa.select(ranked).where(ranked.c.rn == 1))}
