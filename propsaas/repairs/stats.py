"""Repair statistics (报修统计): orders by category, building and month, response and resolution times (median and
90th percentile), overdue and reopen rates, the average rating, and hot spots (报修热点).

    figures = compute(tenant, date(2026, 1, 1), date(2026, 12, 31), building_id=None)

The range is of local days in the project's timezone, both ends included (an order belongs to it by the local day
of its ``created_at``); the default is the last 12 months: the first day of the month 11 months ago to today.

Definitions (docs/repairs.md '## Statistics' says the same for users):

- **response time** (响应时长): from submission to the *first* 开始维修 (the first 'started' event of the order's
  history: the technician on site). Not ``started_at``, which a reassignment or a reopening clears, and not
  ``assigned_at``, which only says the desk pressed a button. Orders never started have none.
- **resolution time** (解决时长): from submission to ``completed_at`` (the last completion: a reopened order is
  resolved when it is completed again). Orders not completed (or reopened and not yet completed again) have none.
- median and 90th percentile are interpolated as PostgreSQL's ``percentile_cont`` does (position p·(n-1) in the
  sorted durations). They are ranked in SQL with window functions (``row_number``/``count`` over the durations,
  portable to SQLite and PostgreSQL) and only the two or four rows around each position come back: one statement
  per duration, however many orders.
- **overdue rate** (超时率): orders with ``overdue_at`` set / all orders of the range (cancelled ones included).
- **reopen rate** (返修率): orders reopened at least once (``reopen_count > 0``) / orders completed at least once
  (status completed or confirmed, or reopened: a reopened order was completed before).
- **average rating** (平均评分): over rated orders only (auto-confirmed orders carry no rating).
- **hot spot** (热点): the same room — or the same public-area words in the same building — with 3 or more orders of
  one category whose first and third are at most 90 days (90 × 24 hours) apart. The window slides: any three
  consecutive orders of the place and category within the range count, not calendar quarters. A hot spot counts
  all the place's orders of that category in the range, and ``peak``, the most of them within one 90-day window;
  the worst (highest peak, then most orders) come first.

Every figure is aggregated in SQL; ``compute`` runs a fixed number of statements (``STATEMENTS``) whatever the
number of orders. The hot spots' orders are the only rows fetched one per order, and only for the hot spots asked
for (the page lists the worst few; the export and the API all).
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import aliased

from ..core.prepared import prepared
from ..documents.spreadsheets import safe_cell
from ..errors import DomainError
from ..extensions import db
from ..property.models import Building, Room
from ..tenancy.clock import tenant_today, tenant_zone
from .models import CHANNEL_NAMES, STATUS_NAMES, URGENCY_NAMES, RepairCategory, WorkOrder, WorkOrderEvent

HOT_SPOT_ORDERS = 3
HOT_SPOT_DAYS = 90
#: the longest range a page or export may ask for (the month buckets are one CASE branch each)
MAX_MONTHS = 60
PERCENTILES = (50, 90)
#: the statements ``compute`` runs (tests and the benchmark check it stays so)
STATEMENTS = 10


class AverageRating:
    """For figures that count ``rated`` orders (ratings given) and their ``rating_sum`` (1-5 each): the average
    rating, two decimals rounded half up; None when nothing was rated."""

    rated: int
    rating_sum: int

    @property
    def average_rating(self) -> Decimal | None:
        if not self.rated:
            return None
        return (Decimal(self.rating_sum) / Decimal(self.rated)).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)


@dataclass
class Count:
    id: int | None
    name: str
    orders: int


@dataclass
class Times:
    """Durations in whole seconds (None when no order has one)."""

    orders: int = 0
    median: int | None = None
    p90: int | None = None
    #: the mean (the dashboard shows it beside the median)
    average: int | None = None


@dataclass
class Rate:
    count: int
    of: int

    @property
    def percent(self) -> Decimal | None:
        """Percent with one decimal (half up); None when there is nothing to divide by."""
        if not self.of:
            return None
        return (Decimal(self.count) * 100 / Decimal(self.of)).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)


@dataclass
class HotSpotOrder:
    id: int
    number: str
    created_at: datetime
    status: str


@dataclass
class HotSpot:
    category_id: int
    category: str
    room_id: int | None
    room_code: str | None
    building_id: int | None
    building: str | None
    public_area: str | None
    #: its orders in the range
    count: int
    first_at: datetime
    last_at: datetime
    #: the most of them within one 90-day window
    peak: int
    #: its orders, oldest first: filled for the first ``hot_spot_orders`` hot spots asked of ``compute``
    orders: list[HotSpotOrder] = field(default_factory=list)

    @property
    def place(self) -> str:
        if self.room_code:
            return self.room_code
        return f'{self.building} {self.public_area}' if self.building else self.public_area or ''


@dataclass
class Stats(AverageRating):
    start: date
    end: date
    building_id: int | None
    total: int
    by_category: list[Count]
    by_building: list[Count]
    #: ('2026-03', orders) for every month of the range, empty ones included
    by_month: list[tuple[str, int]]
    response: Times
    resolution: Times
    overdue: Rate
    reopened: Rate
    rated: int
    rating_sum: int
    #: the worst first: the highest peak, then the most orders, then the earliest
    hot_spots: list[HotSpot]
    #: every building of the project (id, name), for the filter
    buildings: list[tuple[int, str]]


# --- the range ----------------------------------------------------------------------------------------------------

def default_range(today: date) -> tuple[date, date]:
    """The last 12 months: the first day of the month 11 months before today's, to today."""
    months = today.year * 12 + today.month - 1 - 11
    return date(months // 12, months % 12 + 1, 1), today


def _months(start: date, end: date) -> list[date]:
    first, last = start.year * 12 + start.month - 1, end.year * 12 + end.month - 1
    return [date(m // 12, m % 12 + 1, 1) for m in range(first, last + 1)]


def parse_day(value, field_name: str) -> date | None:
    if value is None or value == '':
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise DomainError(_l('日期格式应为 2026-01-31'), field=field_name) from None


def check_range(tenant, start=None, end=None, building_id=None) -> tuple[date, date, int | None]:
    """The range and building asked for (strings from a query, dates or None), checked: defaults for missing days,
    start not after end, at most MAX_MONTHS months, the building one of the project's. Raises DomainError."""
    default_start, default_end = default_range(tenant_today(tenant))
    start = parse_day(start, 'start') or default_start
    end = parse_day(end, 'end') or default_end
    if start > end:
        raise DomainError(_l('开始日期不能晚于结束日期'), field='start')
    if len(_months(start, end)) > MAX_MONTHS:
        raise DomainError(_l('统计区间最长 %(n)s 个月', n=MAX_MONTHS), field='start')
    if building_id in (None, ''):
        building_id = None
    else:
        try:
            building_id = int(building_id)
        except (TypeError, ValueError):
            raise DomainError(_l('没有这个楼栋'), field='building') from None
        if not 0 < building_id < 2**31 or db.session.get(Building, building_id) is None:
            raise DomainError(_l('没有这个楼栋'), field='building')
    return start, end, building_id


def _utc(day: date, zone) -> datetime:
    """Local midnight of ``day`` as aware UTC."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class Orders:
    """The orders created from ``start`` to ``end`` (local days, both included), of one building or all: SQL
    conditions on bind parameters (``where``) and their values (``params``), so that the statements built on them
    are built once (core.prepared) and run with each range's values."""

    start: date
    end: date
    low: datetime
    high: datetime
    building_id: int | None = None

    @classmethod
    def of(cls, tenant, start: date, end: date, building_id: int | None = None) -> Orders:
        zone = tenant_zone(tenant)
        return cls(start, end, _utc(start, zone), _utc(end + timedelta(days=1), zone), building_id)

    @property
    def one_building(self) -> bool:
        return self.building_id is not None

    @property
    def where(self) -> list:
        return orders_where(self.one_building)

    @property
    def params(self) -> dict:
        return {'orders_from': self.low, 'orders_before': self.high, 'orders_building': self.building_id}


def orders_where(one_building: bool) -> list:
    """SQL: the orders of an ``Orders`` range, on its bind parameters."""
    where = [WorkOrder.created_at >= sa.bindparam('orders_from'), WorkOrder.created_at < sa.bindparam('orders_before')]
    if one_building:
        where.append(WorkOrder.building_id == sa.bindparam('orders_building'))
    return where


def building_choices():
    """The project's buildings (id, name), in their order."""
    return sa.select(Building.id, Building.name).order_by(Building.sort_order, Building.name, Building.id)


def seconds_between(later, earlier):
    """``later - earlier`` in seconds, in SQL: julianday on SQLite, epoch of the interval on PostgreSQL."""
    if db.session.get_bind().dialect.name == 'postgresql':
        return sa.func.extract('epoch', later - earlier)
    return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400


# --- the figures --------------------------------------------------------------------------------------------------

def _percentile_rows(durations):
    """SQL: of a one-column select of durations (seconds, NULLs skipped), ranked, only the rows at the floor and
    ceiling of each position p·(n-1), each with the count and the mean of them all (see _times)."""
    inner = durations.subquery()
    d = inner.c[0]
    ranked = (sa.select(d.label('d'), sa.func.row_number().over(order_by=d).label('rn'),
                        sa.func.count().over().label('n'), sa.func.avg(d).over().label('mean'))
              .where(d.is_not(None)).subquery())
    k, n = ranked.c.rn - 1, ranked.c.n - 1
    # floor(pos) and ceil(pos) are the integers k with pos - 1 < k < pos + 1; in integers, for pos = p/100·n
    near = [sa.and_(100 * k > p * n - 100, 100 * k < p * n + 100) for p in PERCENTILES]
    return sa.select(ranked.c.rn, ranked.c.n, ranked.c.d, ranked.c.mean).where(sa.or_(*near)).order_by(ranked.c.rn)


def _times(rows) -> Times:
    """Median, 90th percentile, count and mean from the rows of _percentile_rows."""
    if not rows:
        return Times()
    count = rows[0].n
    values = {rn - 1: Fraction(str(value)) for rn, _n, value, _mean in rows}

    def at(p: int) -> int:
        pos = Fraction(p * (count - 1), 100)
        low, high = pos.numerator // pos.denominator, -(-pos.numerator // pos.denominator)
        return _round(values[low] + (pos - low) * (values[high] - values[low]))

    return Times(orders=count, median=at(50), p90=at(90), average=whole_seconds(rows[0].mean))


def whole_seconds(value) -> int | None:
    """Seconds from SQL (float on SQLite, Decimal on PostgreSQL) as a whole number, half up."""
    if value is None:
        return None
    return int(Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _round(value: Fraction) -> int:
    """Whole seconds, half up."""
    return int((Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def first_started(*where):
    """order_id -> the first 开始维修 of its history (of the events matching ``where`` too: across projects, the
    platform's company view names its projects, so it reads only theirs)."""
    return (sa.select(WorkOrderEvent.order_id.label('order_id'), sa.func.min(WorkOrderEvent.at).label('at'))
            .where(WorkOrderEvent.action == 'started', *where).group_by(WorkOrderEvent.order_id).subquery())


def _epoch_seconds(column):
    """A timestamp as whole seconds since 1970 (an integer a RANGE window can slide over), in SQL."""
    if db.session.get_bind().dialect.name == 'postgresql':
        return sa.cast(sa.func.floor(sa.func.extract('epoch', column)), sa.BigInteger)
    return sa.cast(sa.func.strftime('%s', column), sa.Integer)


PLACE = (WorkOrder.room_id, WorkOrder.building_id, WorkOrder.public_area, WorkOrder.category_id)


def _orders_in_window(where: list):
    """The orders of ``where`` (SQL conditions), each with the count of its place and category's orders in the
    HOT_SPOT_DAYS before it (a RANGE window over its time in seconds, both ends included)."""
    in_window = sa.func.count().over(partition_by=PLACE, order_by=_epoch_seconds(WorkOrder.created_at),
                                     range_=(-HOT_SPOT_DAYS * 86400, 0))
    return sa.select(WorkOrder.id, WorkOrder.number, WorkOrder.status, WorkOrder.created_at, *PLACE,
                     in_window.label('in_window')).where(*where)


def _hot_places(counted, limit: int | None = None):
    """One row per hot place and category of ``counted`` (_orders_in_window as a subquery or CTE), worst first
    (``rank`` 1, 2, …; ``hot``: how many there are in all, the first ``limit`` only when given): the largest count
    in a window is the place's ``peak``, and a peak of HOT_SPOT_ORDERS or more makes it hot."""
    keys = (counted.c.room_id, counted.c.building_id, counted.c.public_area, counted.c.category_id)
    peak, n, first_at = sa.func.max(counted.c.in_window), sa.func.count(), sa.func.min(counted.c.created_at)
    rank = sa.func.row_number().over(order_by=(peak.desc(), n.desc(), first_at, *keys)).label('rank')
    places = (sa.select(*keys, peak.label('peak'), n.label('n'), first_at.label('first_at'),
                        sa.func.max(counted.c.created_at).label('last_at'), rank, sa.func.count().over().label('hot'))
              .group_by(*keys).having(peak >= HOT_SPOT_ORDERS))
    return (places if limit is None else places.order_by(rank).limit(limit)).subquery()


@prepared
def _hot_spot_rows(one_building: bool, limit: int | None):
    hot = _hot_places(_orders_in_window(orders_where(one_building)).subquery(), limit)
    return (sa.select(hot.c.rank, hot.c.hot, hot.c.room_id, hot.c.building_id, hot.c.public_area, hot.c.category_id,
                      hot.c.n, hot.c.first_at, hot.c.last_at, hot.c.peak, Room.code, Building.name,
                      RepairCategory.name)
            .select_from(hot)
            .join(RepairCategory, RepairCategory.id == hot.c.category_id)
            .outerjoin(Room, Room.id == hot.c.room_id)
            .outerjoin(Building, Building.id == hot.c.building_id)
            .order_by(hot.c.rank))


@prepared
def _hot_spot_orders(one_building: bool, with_orders: int | None):
    counted = _orders_in_window(orders_where(one_building)).cte('counted')  # the window, computed once
    listed_places = _hot_places(counted, with_orders)
    same_place = [counted.c[key].is_not_distinct_from(listed_places.c[key])
                  for key in ('room_id', 'building_id', 'public_area', 'category_id')]
    return (sa.select(listed_places.c.rank, counted.c.id, counted.c.number, counted.c.created_at, counted.c.status)
            .select_from(counted).join(listed_places, sa.and_(*same_place))
            .order_by(counted.c.created_at, counted.c.id))


def hot_spots(orders: Orders, *, limit: int | None = None,
              with_orders: int | None = None) -> tuple[list[HotSpot], int]:
    """(the hot spots of the orders, worst first — the first ``limit`` of them when given —, how many there are in
    all), with the orders of the first ``with_orders`` (all when None). Two statements, one when ``with_orders`` is
    0: the places come back one row each, grouped in SQL, and their orders in a second statement."""
    rows = db.session.execute(_hot_spot_rows(orders.one_building, limit), orders.params).all()
    spots = {rank: HotSpot(category_id=category_id, category=category_name, room_id=room_id, room_code=room_code,
                           building_id=building_id, building=building_name, public_area=area, count=n,
                           first_at=_as_utc(first), last_at=_as_utc(last), peak=peak)
             for (rank, _hot, room_id, building_id, area, category_id, n, first, last, peak, room_code, building_name,
                  category_name) in rows}
    if with_orders != 0:  # also with no hot spot: the page runs the same statements whatever the data
        for rank, order_id, number, created_at, status in db.session.execute(
                _hot_spot_orders(orders.one_building, with_orders), orders.params):
            spots[rank].orders.append(HotSpotOrder(order_id, number, _as_utc(created_at), status))
    return list(spots.values()), rows[0].hot if rows else 0


def _as_utc(value):
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def month_binds(months: int) -> list:
    """Bind parameters month_0, month_1, … for the starts of ``months`` months (UTC), as month_bucket takes them."""
    return [sa.bindparam(f'month_{index}') for index in range(months)]


def month_bucket(column, starts: list):
    """SQL: the index of the month ``column`` falls in, given the months' starts (UTC datetimes or bind parameters;
    the caller keeps ``column`` within the first start and the end of the last month)."""
    if len(starts) == 1:
        return sa.literal(0)
    return sa.case(*[(column < start, index - 1) for index, start in enumerate(starts) if index],
                   else_=len(starts) - 1)


@prepared
def _orders_per_month(one_building: bool, months: int):
    """The index of each order's month (month_bucket on month_binds), and the orders."""
    bucket = month_bucket(WorkOrder.created_at, month_binds(months)).label('bucket')
    return sa.select(bucket, sa.func.count()).where(*orders_where(one_building)).group_by(bucket)


def orders_by_month(tenant, orders: Orders) -> list[tuple[str, int]]:
    """('2026-03', orders) for every local month of the range, empty ones included: one statement."""
    months = _months(orders.start, orders.end)
    zone = tenant_zone(tenant)
    starts = {f'month_{index}': _utc(month, zone) for index, month in enumerate(months)}
    per_month = dict(db.session.execute(_orders_per_month(orders.one_building, len(months)),
                                        orders.params | starts).all())
    return [(month.strftime('%Y-%m'), per_month.get(index, 0)) for index, month in enumerate(months)]


@prepared
def _response_times(one_building: bool):
    started = first_started()
    return _percentile_rows(sa.select(seconds_between(started.c.at, WorkOrder.created_at))
                            .join(started, started.c.order_id == WorkOrder.id).where(*orders_where(one_building)))


@prepared
def _resolution_times(one_building: bool):
    return _percentile_rows(sa.select(seconds_between(WorkOrder.completed_at, WorkOrder.created_at))
                            .where(*orders_where(one_building), WorkOrder.completed_at.is_not(None)))


def response_times(orders: Orders) -> Times:
    """Submission to the first 开始维修, over the orders that have one: one statement."""
    return _times(db.session.execute(_response_times(orders.one_building), orders.params).all())


def resolution_times(orders: Orders) -> Times:
    """Submission to the (last) completion, over the orders completed: one statement."""
    return _times(db.session.execute(_resolution_times(orders.one_building), orders.params).all())


def compute(tenant, start: date, end: date, building_id: int | None = None, *,
            hot_spot_orders: int | None = None) -> Stats:
    """Every figure for orders created from ``start`` to ``end`` (local days, both included), of one building or
    all, with the orders of the first ``hot_spot_orders`` hot spots (all when None). STATEMENTS statements, whatever
    the number of orders."""
    orders = Orders.of(tenant, start, end, building_id)
    where, params = orders.where, orders.params
    closed_once = sa.or_(WorkOrder.status.in_(('completed', 'confirmed')), WorkOrder.reopen_count > 0)
    summary = db.session.execute(sa.select(
        sa.func.count(),
        sa.func.count(WorkOrder.overdue_at),
        sa.func.coalesce(sa.func.sum(sa.case((WorkOrder.reopen_count > 0, 1), else_=0)), 0),
        sa.func.coalesce(sa.func.sum(sa.case((closed_once, 1), else_=0)), 0),
        sa.func.count(WorkOrder.rating),
        sa.func.coalesce(sa.func.sum(WorkOrder.rating), 0),
    ).where(*where), params).one()
    total, overdue, reopened, closed, rated, rating_sum = (int(value) for value in summary)

    per_category = dict(db.session.execute(sa.select(WorkOrder.category_id, sa.func.count()).where(*where)
                                           .group_by(WorkOrder.category_id), params).all())
    categories = db.session.execute(sa.select(RepairCategory.id, RepairCategory.name, RepairCategory.active)
                                    .order_by(RepairCategory.sort_order, RepairCategory.id)).all()
    by_category = [Count(cid, name, per_category.get(cid, 0)) for cid, name, active in categories
                   if active or per_category.get(cid)]

    per_building = dict(db.session.execute(sa.select(WorkOrder.building_id, sa.func.count()).where(*where)
                                           .group_by(WorkOrder.building_id), params).all())
    buildings = [tuple(row) for row in db.session.execute(building_choices()).all()]
    by_building = [Count(bid, name, per_building.get(bid, 0)) for bid, name in buildings
                   if building_id is None or bid == building_id]
    if per_building.get(None):
        by_building.append(Count(None, _('未指定楼栋'), per_building[None]))

    return Stats(start=start, end=end, building_id=building_id, total=total, by_category=by_category,
                 by_building=by_building, by_month=orders_by_month(tenant, orders),
                 response=response_times(orders), resolution=resolution_times(orders),
                 overdue=Rate(overdue, total), reopened=Rate(reopened, closed), rated=rated, rating_sum=rating_sum,
                 hot_spots=hot_spots(orders, with_orders=hot_spot_orders)[0], buildings=buildings)


# --- showing ------------------------------------------------------------------------------------------------------

def format_duration(seconds: int | None) -> str:
    """'2天3小时', '1小时5分', '12分' (minutes rounded down; under a minute: '不到1分'); '—' for None."""
    if seconds is None:
        return '—'
    minutes = seconds // 60
    days, hours, minutes = minutes // 1440, minutes % 1440 // 60, minutes % 60
    if days:
        return _('%(d)s天%(h)s小时', d=days, h=hours)
    if hours:
        return _('%(h)s小时%(m)s分', h=hours, m=minutes)
    if minutes:
        return _('%(m)s分', m=minutes)
    return _('不到1分')


def hours(seconds: int | None) -> Decimal | None:
    """Seconds as hours with two decimals (the export's and the API's unit for people)."""
    if seconds is None:
        return None
    return (Decimal(seconds) / 3600).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)


# --- the export ---------------------------------------------------------------------------------------------------

def _orders_of_range(orders: Orders):
    """The range's orders with their category, room, building and first start, in number order (one statement)."""
    started = first_started()
    room, building = aliased(Room), aliased(Building)
    return db.session.execute(
        sa.select(WorkOrder.number, WorkOrder.created_at, RepairCategory.name, building.name, room.code,
                  WorkOrder.public_area, WorkOrder.urgency, WorkOrder.channel, WorkOrder.status,
                  WorkOrder.assigned_at, started.c.at, WorkOrder.completed_at, WorkOrder.confirmed_at,
                  WorkOrder.overdue_at, WorkOrder.reopen_count, WorkOrder.rating, WorkOrder.description)
        .join(RepairCategory, RepairCategory.id == WorkOrder.category_id)
        .outerjoin(room, room.id == WorkOrder.room_id)
        .outerjoin(building, building.id == WorkOrder.building_id)
        .outerjoin(started, started.c.order_id == WorkOrder.id)
        .where(*orders.where).order_by(WorkOrder.created_at, WorkOrder.id), orders.params)


def export_xlsx(tenant, figures: Stats) -> bytes:
    """The figures as .xlsx (openpyxl write-only), one sheet each: by category, by building, by month, times and
    rates, hot spots, and the range's orders. Times in local time; every text cell through safe_cell."""
    from openpyxl import Workbook

    zone = tenant_zone(tenant)

    def local(value):
        value = _as_utc(value)
        return value.astimezone(zone).strftime('%Y-%m-%d %H:%M') if value else ''

    def text(*values):
        return [safe_cell(str(value)) if value is not None and not isinstance(value, int | Decimal) else value
                for value in values]

    book = Workbook(write_only=True)
    period = _('%(start)s 至 %(end)s', start=figures.start.isoformat(), end=figures.end.isoformat())
    for title, rows in ((_('按分类'), [(c.name, c.orders) for c in figures.by_category]),
                        (_('按楼栋'), [(c.name, c.orders) for c in figures.by_building]),
                        (_('按月份'), figures.by_month)):
        sheet = book.create_sheet(title)
        sheet.append(text(_('%(title)s（%(period)s）', title=title, period=period)))
        sheet.append(text(title[1:], _('工单数')))
        for name, count in rows:
            sheet.append(text(name, count))
        sheet.append(text(_('合计'), figures.total))

    sheet = book.create_sheet(_('时效与比率'))
    sheet.append(text(_('时效与比率（%(period)s）', period=period)))
    sheet.append(text(_('指标'), _('工单数'), _('中位数（小时）'), _('90分位（小时）')))
    for label, times in ((_('响应时长（提交至首次开始维修）'), figures.response),
                         (_('解决时长（提交至完工）'), figures.resolution)):
        sheet.append(text(label, times.orders, hours(times.median), hours(times.p90)))
    sheet.append([])
    sheet.append(text(_('指标'), _('数量'), _('基数'), _('比率（%）')))
    sheet.append(text(_('超时率'), figures.overdue.count, figures.overdue.of, figures.overdue.percent))
    sheet.append(text(_('返修率'), figures.reopened.count, figures.reopened.of, figures.reopened.percent))
    sheet.append(text(_('平均评分'), figures.rated, None, figures.average_rating))

    sheet = book.create_sheet(_('热点'))
    sheet.append(text(_('报修热点：同一房屋或公共区域、同一分类，%(days)s 天内 %(n)s 单及以上（%(period)s）',
                        days=HOT_SPOT_DAYS, n=HOT_SPOT_ORDERS, period=period)))
    sheet.append(text(_('位置'), _('分类'), _('工单数'), _('90天内最多'), _('首次报修'), _('最近报修'), _('工单号')))
    for spot in figures.hot_spots:
        sheet.append(text(spot.place, spot.category, spot.count, spot.peak, local(spot.first_at),
                          local(spot.last_at), ' '.join(order.number for order in spot.orders)))

    sheet = book.create_sheet(_('工单明细'))
    sheet.append(text(_('工单号'), _('报修时间'), _('分类'), _('楼栋'), _('房屋'), _('公共区域'), _('紧急程度'),
                      _('渠道'), _('状态'), _('派单时间'), _('首次开始维修'), _('完工时间'), _('确认时间'),
                      _('超时'), _('返修次数'), _('评分'), _('问题描述')))
    orders = Orders.of(tenant, figures.start, figures.end, figures.building_id)
    for (number, created_at, category, building, room_code, area, urgency, channel, status, assigned_at,
         started_at, completed_at, confirmed_at, overdue_at, reopen_count, rating, description) in \
            _orders_of_range(orders):
        sheet.append(text(number, local(created_at), category, building or '', room_code or '', area or '',
                          str(URGENCY_NAMES[urgency]), str(CHANNEL_NAMES[channel]), str(STATUS_NAMES[status]),
                          local(assigned_at), local(started_at), local(completed_at), local(confirmed_at),
                          _('是') if overdue_at else '', reopen_count, rating, description))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
