"""Arrears (欠费): what is overdue, per room, per building and for the project, by age.

A bill is in arrears when it is open (unpaid or partial), its due date is before today in the project's timezone,
and its balance — total minus the sum of its payment allocations — is above zero. Its age is the number of days
since the due date, bucketed 0-30, 31-90, 91-180 and over 180 days (账龄).

Every function here runs a fixed number of statements whatever the number of rooms: the sums are grouped in SQL,
and a page of rooms then needs one statement for the rooms, one for their payers' bills and one for the residents.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from ..auth.models import mask_mobile
from ..core.prepared import prepared
from ..documents.spreadsheets import safe_cell
from ..extensions import db
from ..models_base import Page
from ..property.models import Building, Room
from ..residents.models import Resident
from .models import Bill, PaymentAllocation

OPEN_STATUSES = ('unpaid', 'partial')
#: (code, label, lowest days overdue, highest days overdue or None)
BUCKETS = (
    ('d30', _l('0-30天'), 0, 30),
    ('d90', _l('31-90天'), 31, 90),
    ('d180', _l('91-180天'), 91, 180),
    ('over180', _l('180天以上'), 181, None),
)
BUCKET_CODES = tuple(code for code, *_rest in BUCKETS)


def paid_fen():
    """The sum of a bill's allocations (0 with none), correlated to Bill."""
    return (sa.select(sa.func.coalesce(sa.func.sum(PaymentAllocation.amount_fen), 0))
            .where(PaymentAllocation.bill_id == Bill.id).correlate(Bill).scalar_subquery())


def balance_fen():
    """What is still owed on a bill: total minus allocations."""
    return Bill.total_fen - paid_fen()


def overdue_conditions(today: date) -> list:
    """Open bills past their due date with something left to pay."""
    return [Bill.status.in_(OPEN_STATUSES), Bill.due_on < today, balance_fen() > 0]


def bucket_of(days_overdue: int) -> str:
    for code, _label, low, high in BUCKETS:
        if days_overdue >= low and (high is None or days_overdue <= high):
            return code
    return BUCKET_CODES[0]


@dataclass
class Totals:
    buckets: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BUCKET_CODES, 0))
    total_fen: int = 0
    rooms: int = 0
    bills: int = 0


@dataclass
class BuildingTotals(Totals):
    building_id: int | None = None
    name: str = ''


def _balance_rows(today: date, building_id: int | None = None):
    """A subquery of overdue bills: id, room_id, building_id, due_on, balance."""
    balance = balance_fen().label('balance')
    query = (sa.select(Bill.id, Bill.room_id, Room.building_id, Bill.due_on, balance)
             .select_from(Bill).outerjoin(Room, Room.id == Bill.room_id).where(*overdue_conditions(today)))
    if building_id is not None:
        query = query.where(Room.building_id == building_id)
    return query.subquery('overdue')


def _edges(today: date) -> dict:
    """Each bucket's latest due date and its earliest (none for the last), as of ``today``."""
    return {code: (today - timedelta(days=low), None if high is None else today - timedelta(days=high))
            for code, _label, low, high in BUCKETS}


def _edge_binds() -> dict:
    """_edges as bind parameters (given by _edge_params)."""
    return {code: (sa.bindparam(f'{code}_latest'), None if high is None else sa.bindparam(f'{code}_earliest'))
            for code, _label, _low, high in BUCKETS}


def _edge_params(today: date) -> dict:
    params = {}
    for code, (latest, earliest) in _edges(today).items():
        params[f'{code}_latest'], params[f'{code}_earliest'] = latest, earliest
    return params


def _aggregate(edges: dict, sub, *group_by):
    """Balances summed per bucket, ``edges`` as _edges or _edge_binds gives them."""
    balance = sub.c.balance
    columns = []
    for code, *_rest in BUCKETS:
        latest, earliest = edges[code]
        condition = sub.c.due_on <= latest
        if earliest is not None:
            condition = sa.and_(condition, sub.c.due_on >= earliest)
        columns.append(sa.func.coalesce(sa.func.sum(sa.case((condition, balance), else_=0)), 0).label(code))
    return sa.select(*group_by, *columns, sa.func.coalesce(sa.func.sum(balance), 0).label('total'),
                     sa.func.count(sub.c.id).label('bills'), sa.func.count(sa.distinct(sub.c.room_id)).label('rooms'),
                     sa.func.min(sub.c.due_on).label('oldest')).select_from(sub)


def _totals(row, cls=Totals, **extra):
    return cls(buckets={code: int(getattr(row, code) or 0) for code in BUCKET_CODES}, total_fen=int(row.total or 0),
               rooms=int(row.rooms or 0), bills=int(row.bills or 0), **extra)


@prepared
def _project_totals(one_building: bool):
    return _aggregate(_edge_binds(), _balance_rows(sa.bindparam('today'),
                                                   sa.bindparam('building_id') if one_building else None))


def project_totals(today: date, building_id: int | None = None) -> Totals:
    """The project's (or one building's) arrears by bucket: one statement."""
    params = {'today': today, 'building_id': building_id, **_edge_params(today)}
    return _totals(db.session.execute(_project_totals(building_id is not None), params).one())


def building_totals(today: date) -> list[BuildingTotals]:
    """Arrears per building (largest first), bills of no room under building None: two statements."""
    sub = _balance_rows(today)
    rows = db.session.execute(_aggregate(_edges(today), sub, sub.c.building_id).group_by(sub.c.building_id)).all()
    ids = [row.building_id for row in rows if row.building_id is not None]
    names = dict(db.session.execute(sa.select(Building.id, Building.name).where(Building.id.in_(ids))).all()) \
        if ids else {}
    result = [_totals(row, BuildingTotals, building_id=row.building_id,
                      name=names.get(row.building_id, _('未关联房屋'))) for row in rows]
    return sorted(result, key=lambda t: (-t.total_fen, t.name))


@dataclass
class ArrearsRow:
    """One room in the list staff collect from."""

    room_id: int | None
    place: str
    building_id: int | None
    payer_resident_id: int | None
    payer_name: str
    mobile: str  # raw: mask it on the way out (mask_mobile) for all but admins
    oldest_due_on: date
    days_overdue: int
    bills: int
    buckets: dict[str, int]
    total_fen: int

    @property
    def masked_mobile(self) -> str:
        return mask_mobile(self.mobile)


class ArrearsPage(Page):
    """A page of ArrearsRow; no pages at all when nobody is in arrears."""

    @property
    def pages(self) -> int:
        return super().pages if self.total else 0


def _room_query(today: date, building_id: int | None):
    sub = _balance_rows(today, building_id)
    return (_aggregate(_edges(today), sub, sub.c.room_id).group_by(sub.c.room_id)
            .order_by(sa.desc('total'), sa.func.min(sub.c.due_on), sub.c.room_id))


def _rows(today: date, aggregated) -> list[ArrearsRow]:
    """Rooms, payers and residents of a page of aggregated rows: three statements at most."""
    room_ids = [row.room_id for row in aggregated if row.room_id is not None]
    rooms = {}
    payer_of: dict = {}
    if room_ids:
        rooms = {room.id: room for room in db.session.execute(
            sa.select(Room).where(Room.id.in_(room_ids)).options(joinedload(Room.building), joinedload(Room.unit)))
            .scalars()}
    wanted = [row.room_id for row in aggregated]
    if wanted:
        # the payer of each room's latest overdue bill
        room_filter = Bill.room_id.in_(room_ids) if room_ids else sa.false()
        if None in wanted:
            room_filter = sa.or_(room_filter, Bill.room_id.is_(None))
        for room_id, payer_id in db.session.execute(
                sa.select(Bill.room_id, Bill.payer_resident_id)
                .where(room_filter, *overdue_conditions(today), Bill.payer_resident_id.is_not(None))
                .order_by(Bill.due_on, Bill.id)).all():
            payer_of[room_id] = payer_id
    payer_ids = set(payer_of.values())
    residents = {}
    if payer_ids:
        residents = {r.id: r for r in db.session.execute(sa.select(Resident).where(Resident.id.in_(payer_ids)))
                     .scalars()}
    result = []
    for row in aggregated:
        room = rooms.get(row.room_id)
        payer = residents.get(payer_of.get(row.room_id))
        result.append(ArrearsRow(
            room_id=row.room_id, place=room.label if room else _('未关联房屋'),
            building_id=room.building_id if room else None,
            payer_resident_id=payer.id if payer else None, payer_name=payer.name if payer else '',
            mobile=(payer.mobile or '') if payer else '', oldest_due_on=row.oldest,
            days_overdue=(today - row.oldest).days, bills=int(row.bills),
            buckets={code: int(getattr(row, code) or 0) for code in BUCKET_CODES}, total_fen=int(row.total)))
    return result


def room_page(today: date, *, building_id: int | None = None, page: int = 1, per_page: int = 30) -> ArrearsPage:
    """One page of rooms in arrears, largest total first (then the oldest due date). Four statements at most."""
    page = max(int(page or 1), 1)
    query = _room_query(today, building_id)
    total = db.session.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    aggregated = db.session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    return ArrearsPage(items=_rows(today, aggregated), page=page, per_page=per_page, total=total)


def all_rooms(today: date, *, building_id: int | None = None) -> list[ArrearsRow]:
    """Every room in arrears, as room_page orders them (for the export)."""
    return _rows(today, db.session.execute(_room_query(today, building_id)).all())


def export_xlsx(today: date, *, building_id: int | None = None, project_name: str = '') -> bytes:
    """The collection list as .xlsx (write-only): amounts in yuan as numbers with two decimals, mobiles masked,
    every text cell through safe_cell (a payer named '=cmd' stays text)."""
    from decimal import Decimal

    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_('欠费清单'))

    def money(ws, fen: int):
        cell = WriteOnlyCell(ws, value=Decimal(fen) / 100)
        cell.number_format = '0.00'
        return cell

    title = _('%(project)s 欠费清单（截至 %(day)s）', project=project_name, day=today.isoformat()).strip()
    sheet.append([safe_cell(title)])
    header = [_('房屋'), _('缴费人'), _('手机'), _('最早欠费截止日'), _('逾期天数'), _('账单数'),
              *[str(label) for _code, label, *_rest in BUCKETS], _('欠费合计（元）')]
    sheet.append([safe_cell(h) for h in header])
    totals = dict.fromkeys(BUCKET_CODES, 0)
    grand = 0
    for row in all_rooms(today, building_id=building_id):
        for code in BUCKET_CODES:
            totals[code] += row.buckets[code]
        grand += row.total_fen
        sheet.append([safe_cell(row.place), safe_cell(row.payer_name), safe_cell(row.masked_mobile),
                      row.oldest_due_on.isoformat(), row.days_overdue, row.bills,
                      *[money(sheet, row.buckets[code]) for code in BUCKET_CODES], money(sheet, row.total_fen)])
    sheet.append([safe_cell(_('合计')), '', '', '', '', '', *[money(sheet, totals[code]) for code in BUCKET_CODES],
                  money(sheet, grand)])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
