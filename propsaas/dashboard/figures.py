"""The project dashboard's figures (数据看板): what an admin reads at a glance, each a small aggregate in SQL.

    board = figures.compute(tenant, now)

Windows, all in the project's timezone (tenancy.clock): **this month** is the local calendar month of ``now``;
the **trend** is the 12 local months ending with this one (months with no data show 0); **recent announcements**
are those published in the last 30 days.

Definitions (docs/dashboard.md says the same for users):

- **receivable** (本月应收): the total of this month's bills (``period`` = this month), void bills left out.
- **received** (本月实收): what has been allocated to those bills so far, net: a reversal (冲正) puts negative
  allocations against the bills it had settled, so a reversed payment counts nothing; a refund (退款) only ever
  pays back unallocated prepaid money, so it never changes what a bill received.
- **collection rate** (收缴率): received / receivable.
- **arrears** (欠费) and its **aging** (账龄): billing.arrears.project_totals as of today.
- **revenue** (实收趋势) per month: money actually taken in, net of what was given back — payments by the local
  month of their ``paid_at``, minus refunds by the month of the refund, minus reversals by the month *of the payment
  they undo* (a payment entered in error was never revenue, in any month).
- **work orders**: open (待派单, 已派单, 维修中) and overdue now (repairs.board.status_counts); response and
  resolution times of the orders submitted in the trend window, as repairs.stats defines them (submission to the
  first 开始维修; submission to the last completion, so a reopened order counts until it is completed again),
  averaged here, with the medians of 报修统计; hot spots (repairs.stats).
- **satisfaction** (满意度) per month: the ratings residents gave, by the local month they confirmed the order.
- **inspection completion** (巡检完成率) this month and the **equipment failure rate** (设备故障率, failures per
  device per month) this month: inspections.report.
- **announcement read rate** (公告阅读率): of the messages of the announcements published in the last 30 days (not
  withdrawn), how many were read.

``compute`` runs a fixed number of statements (``STATEMENTS``) whatever the amount of data.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from ..billing import arrears
from ..billing.models import Bill, Payment, PaymentAllocation
from ..core.prepared import prepared
from ..extensions import db
from ..inspections import report as inspection_report
from ..notices.models import Announcement, Message
from ..repairs import board as repair_board
from ..repairs import stats as repair_stats
from ..repairs.models import OPEN_STATUSES, WorkOrder, WorkOrderEvent
from ..repairs.stats import AverageRating, month_binds, month_bucket, seconds_between
from ..tenancy import clock
from ..tenancy.clock import tenant_zone

TREND_MONTHS = 12
ANNOUNCEMENT_DAYS = 30
#: the hot spots the dashboard lists (报修统计 has them all)
HOT_SPOTS = 5
#: the statements ``compute`` runs: its own five, arrears 1, repair statistics 4 (orders per month, response and
#: resolution times, hot spots), inspections 3 (completion, failures, devices)
STATEMENTS = 5 + 1 + 4 + 3


def percent(part: int, whole: int) -> Decimal | None:
    """part / whole in percent with one decimal (half up); None when there is nothing to divide by."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)


@dataclass
class Collection:
    """本月收缴: this month's bills."""

    period: str
    bills: int
    receivable_fen: int
    received_fen: int

    @property
    def outstanding_fen(self) -> int:
        return self.receivable_fen - self.received_fen

    @property
    def rate(self) -> Decimal | None:
        return percent(self.received_fen, self.receivable_fen)


@dataclass
class Month(AverageRating):
    """One local month of the trend."""

    month: str
    #: net money taken in (payments − refunds − reversals, see the module's docstring)
    received_fen: int = 0
    #: work orders submitted
    orders: int = 0
    #: ratings given (by the month the resident confirmed)
    rated: int = 0
    rating_sum: int = 0

    @property
    def first_day(self) -> date:
        return date.fromisoformat(self.month + '-01')

    @property
    def last_day(self) -> date:
        return _month_starts(self.first_day, 2)[1] - timedelta(days=1)


@dataclass
class Repairs(AverageRating):
    open: int
    #: open orders past a deadline now (repairs.board.overdue_condition)
    overdue: int
    by_status: dict[str, int]
    #: seconds, over the orders of the trend window that have one; None when none has
    response_average: int | None
    response_median: int | None
    response_orders: int
    resolution_average: int | None
    resolution_median: int | None
    resolution_orders: int
    rated: int
    rating_sum: int
    hot_spots: list[repair_stats.HotSpot]
    hot_spot_count: int


@dataclass
class Inspections:
    """This month's rounds and equipment."""

    due: int
    done: int
    devices: int
    device_days: int
    failures: int

    @property
    def rate(self) -> Decimal | None:
        return percent(self.done, self.due)

    @property
    def failures_per_device_month(self) -> Decimal:
        return inspection_report.per_month(self.failures, self.device_days)


@dataclass
class Announcements:
    announcements: int
    recipients: int
    read: int

    @property
    def rate(self) -> Decimal | None:
        return percent(self.read, self.recipients)


@dataclass
class Dashboard:
    today: date
    month_start: date
    trend_start: date
    announcements_since: date
    collection: Collection
    arrears: arrears.Totals
    months: list[Month] = field(default_factory=list)
    repairs: Repairs | None = None
    inspections: Inspections | None = None
    announcements: Announcements | None = None


# --- time ---------------------------------------------------------------------------------------------------------

@dataclass
class Windows:
    """The dashboard's windows for one project as of ``now`` (shared with the company view, companies.comparison,
    so both count the same days)."""

    today: date
    month_start: date
    #: the trend's months, oldest first, and their starts as aware UTC
    trend: list[date]
    starts: list[datetime]
    #: local midnight after today, UTC: the end of every window
    tomorrow: datetime
    #: the first day of the announcement window, and its local midnight in UTC
    since: date
    since_utc: datetime

    @property
    def period(self) -> str:
        return self.month_start.strftime('%Y-%m')

    @property
    def month_start_utc(self) -> datetime:
        return self.starts[-1]


def windows(tenant, now: datetime) -> Windows:
    zone = tenant_zone(tenant)
    today = now.astimezone(zone).date()
    month_start = today.replace(day=1)
    months_back = month_start.year * 12 + month_start.month - TREND_MONTHS  # 11 months before this one
    trend = _month_starts(date(months_back // 12, months_back % 12 + 1, 1), TREND_MONTHS)
    since = today - timedelta(days=ANNOUNCEMENT_DAYS - 1)
    return Windows(today=today, month_start=month_start, trend=trend, starts=[_utc(day, zone) for day in trend],
                   tomorrow=_utc(today + timedelta(days=1), zone), since=since, since_utc=_utc(since, zone))


def _month_starts(first: date, count: int) -> list[date]:
    base = first.year * 12 + first.month - 1
    return [date((base + i) // 12, (base + i) % 12 + 1, 1) for i in range(count)]


def _utc(day: date, zone) -> datetime:
    """Local midnight of ``day`` as aware UTC."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


# --- the figures --------------------------------------------------------------------------------------------------

def _grouped(query, by):
    return query.group_by(*by) if by else query


def collection_selects(period, *by):
    """(bills and receivable, received) of the live bills of ``period`` (a 'YYYY-MM', or an SQL expression of one),
    each select grouped by the columns ``by`` (none: one row). ``by`` are Bill's columns (received joins Bill)."""
    live = sa.and_(Bill.period == period, Bill.status != 'void')
    receivable = sa.select(*by, sa.func.count(), sa.func.coalesce(sa.func.sum(Bill.total_fen), 0)).where(live)
    received = (sa.select(*by, sa.func.coalesce(sa.func.sum(PaymentAllocation.amount_fen), 0))
                .select_from(PaymentAllocation).join(Bill, Bill.id == PaymentAllocation.bill_id).where(live))
    return _grouped(receivable, by), _grouped(received, by)


@prepared
def _collection():
    receivable, received = collection_selects(sa.bindparam('period'))
    return receivable.add_columns(received.scalar_subquery())


def collection(period: str) -> Collection:
    """This month's receivable and received (one statement)."""
    bills, total, paid = db.session.execute(_collection(), {'period': period}).one()
    return Collection(period=period, bills=int(bills), receivable_fen=int(total), received_fen=int(paid))


def _month_params(starts: list[datetime], end: datetime) -> dict:
    """The bind parameters of repairs.stats.month_binds: the months' starts (UTC), and the end of the last."""
    return {f'month_{index}': start for index, start in enumerate(starts)} | {'months_end': end}


@prepared
def _revenue(months: int):
    original = aliased(Payment, name='original')  # the payment a reversal undoes
    counted_at = sa.case((Payment.kind == 'reversal', original.paid_at), else_=Payment.paid_at)
    signed = sa.case((Payment.kind == 'payment', Payment.amount_fen), else_=-Payment.amount_fen)
    starts = month_binds(months)
    bucket = month_bucket(counted_at, starts).label('bucket')
    return (sa.select(bucket, sa.func.sum(signed)).select_from(Payment)
            .outerjoin(original, original.id == Payment.reverses_id)
            .where(counted_at >= starts[0], counted_at < sa.bindparam('months_end')).group_by(bucket))


def revenue_by_month(starts: list[datetime], end: datetime) -> list[int]:
    """Net money taken in per month (fen), months given by their UTC starts, the last ending at ``end``: one
    statement. A reversal counts in the month of the payment it undoes."""
    rows = db.session.execute(_revenue(len(starts)), _month_params(starts, end)).all()
    out = [0] * len(starts)
    for index, fen in rows:
        out[int(index)] = int(fen or 0)
    return out


def rated_in(low, high) -> list:
    """SQL: the orders whose rating counts in [low, high): rated, by the time the resident confirmed."""
    return [WorkOrder.rating.is_not(None), WorkOrder.confirmed_at >= low, WorkOrder.confirmed_at < high]


@prepared
def _ratings(months: int):
    starts = month_binds(months)
    bucket = month_bucket(WorkOrder.confirmed_at, starts).label('bucket')
    return (sa.select(bucket, sa.func.count(), sa.func.sum(WorkOrder.rating))
            .where(*rated_in(starts[0], sa.bindparam('months_end'))).group_by(bucket))


def ratings_by_month(starts: list[datetime], end: datetime) -> list[tuple[int, int]]:
    """(ratings, their sum) per month, by the month the resident confirmed: one statement."""
    rows = db.session.execute(_ratings(len(starts)), _month_params(starts, end)).all()
    out = [(0, 0)] * len(starts)
    for index, count, total in rows:
        out[int(index)] = (int(count), int(total or 0))
    return out


def repair_times_select(low, high, *by, tenant_ids=None):
    """Orders with a response, average response seconds, orders resolved, average resolution seconds of the orders
    submitted in [low, high) (datetimes or SQL expressions), grouped by WorkOrder's columns ``by`` (none: one row);
    ``tenant_ids``: the projects read across (platform scope), else the current one."""
    started = repair_stats.first_started(*([WorkOrderEvent.tenant_id.in_(tenant_ids)] if tenant_ids else []))
    response = seconds_between(started.c.at, WorkOrder.created_at)
    resolution = sa.case((WorkOrder.completed_at.is_not(None),
                          seconds_between(WorkOrder.completed_at, WorkOrder.created_at)))
    return _grouped(
        sa.select(*by, sa.func.count(started.c.at), sa.func.avg(response), sa.func.count(WorkOrder.completed_at),
                  sa.func.avg(resolution))
        .select_from(WorkOrder).outerjoin(started, started.c.order_id == WorkOrder.id)
        .where(WorkOrder.created_at >= low, WorkOrder.created_at < high), by)


def announcement_reads_select(since, now: datetime, *by):
    """Announcements published in [since, now] (``since`` a datetime or an SQL expression) and not withdrawn: how
    many, their residents' messages and how many were read, grouped by Message's columns ``by`` (none: one row)."""
    return _grouped(
        sa.select(*by, sa.func.count(sa.distinct(Message.announcement_id)), sa.func.count(Message.id),
                  sa.func.count(Message.read_at))
        .select_from(Message).join(Announcement, Announcement.id == Message.announcement_id)
        .where(Announcement.status == 'published', Announcement.published_at >= since,
               Announcement.published_at <= now, Message.resident_id.is_not(None)), by)


@prepared
def _announcement_reads():
    return announcement_reads_select(sa.bindparam('since'), sa.bindparam('now'))


def announcement_reads(since: datetime, now: datetime) -> Announcements:
    """Announcements published in [since, now] and not withdrawn: their residents' messages and how many were read
    (one statement)."""
    row = db.session.execute(_announcement_reads(), {'since': since, 'now': now}).one()
    return Announcements(announcements=int(row[0]), recipients=int(row[1]), read=int(row[2]))


def compute(tenant, now: datetime | None = None) -> Dashboard:
    """Every figure of the dashboard as of ``now`` (default: the clock): STATEMENTS statements."""
    now = now or clock.now_utc()
    w = windows(tenant, now)
    today, month_start, trend, starts, tomorrow, since = w.today, w.month_start, w.trend, w.starts, w.tomorrow, w.since
    board = Dashboard(today=today, month_start=month_start, trend_start=trend[0], announcements_since=since,
                      collection=collection(month_start.strftime('%Y-%m')), arrears=arrears.project_totals(today))

    revenue = revenue_by_month(starts, tomorrow)
    ratings = ratings_by_month(starts, tomorrow)
    # the orders submitted in the trend window, as 报修统计 counts them for the same days
    submitted = repair_stats.Orders.of(tenant, trend[0], today)
    orders = repair_stats.orders_by_month(tenant, submitted)
    board.months = [Month(month=month, received_fen=revenue[i], orders=count, rated=ratings[i][0],
                          rating_sum=ratings[i][1]) for i, (month, count) in enumerate(orders)]

    counts = repair_board.status_counts(now)
    response, resolution = repair_stats.response_times(submitted), repair_stats.resolution_times(submitted)
    hot_spots, hot_spot_count = repair_stats.hot_spots(submitted, limit=HOT_SPOTS, with_orders=0)
    board.repairs = Repairs(
        open=sum(counts[status] for status in OPEN_STATUSES), overdue=counts['overdue'], by_status=counts,
        response_average=response.average, response_median=response.median, response_orders=response.orders,
        resolution_average=resolution.average, resolution_median=resolution.median,
        resolution_orders=resolution.orders, rated=sum(m.rated for m in board.months),
        rating_sum=sum(m.rating_sum for m in board.months), hot_spots=hot_spots, hot_spot_count=hot_spot_count)

    plans = inspection_report.completion(w.month_start_utc, tomorrow, now)
    _devices, categories = inspection_report.equipment(tenant, month_start, today)
    board.inspections = Inspections(
        due=sum(p.due for p in plans), done=sum(p.done for p in plans), devices=sum(c.devices for c in categories),
        device_days=sum(c.days for c in categories), failures=sum(c.failures for c in categories))

    board.announcements = announcement_reads(w.since_utc, now)
    return board
