"""项目对比 (the company view): the project dashboard's key figures for every project of a company, side by side, and
the worst value of each column marked (the project that needs attention).

    table = comparison.compute(projects, now)

Every figure is the dashboard's (dashboard.figures, docs/dashboard.md), in each project's own timezone, computed
for all the projects at once: one statement per figure grouped by ``tenant_id`` under ``platform_scope()``, so the
number of statements (``STATEMENTS``) does not grow with the number of projects. Where the windows differ between
projects (another timezone, another 'today'), the bound is a CASE on ``tenant_id`` (``per_project``). The selects are
the dashboard's own where it has them (dashboard.figures: collection_selects, rated_in, repair_times_select,
announcement_reads_select, windows); arrears, open/overdue work orders and the inspection figures use the same
conditions as billing.arrears, repairs.board and inspections.report.

Callers pass only the company's projects (services.company_projects): every statement is limited to their ids.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..billing import arrears
from ..billing.models import Bill
from ..dashboard import figures as dashboard
from ..extensions import db
from ..inspections import report as inspection_report
from ..inspections.models import Device, InspectionPlan, InspectionTask
from ..notices.models import Announcement, Message
from ..property.models import Room
from ..repairs import board as repair_board
from ..repairs.models import OPEN_STATUSES, WorkOrder
from ..repairs.stats import AverageRating, hours, whole_seconds
from ..reports.common import Sheet, Yuan, book_bytes, new_book
from ..tenancy import clock
from ..tenancy.clock import tenant_zone
from ..tenancy.context import platform_scope
from ..tenancy.models import Tenant

#: households 1, receivable 1, received 1, arrears 1, work orders 1, repair times 1, ratings 1, inspections 1,
#: failures 1, devices 1, announcements 1
STATEMENTS = 11
#: arrears this old or older are 'over 90 days' (the aging buckets 91-180 and 180+)
OLD_ARREARS_DAYS = next(low for code, _label, low, _high in arrears.BUCKETS if code == 'd180')


@dataclass
class Row(AverageRating):
    """One project's figures (the dashboard's, see docs/dashboard.md)."""

    tenant: Tenant
    windows: dashboard.Windows
    households: int = 0
    bills: int = 0
    receivable_fen: int = 0
    received_fen: int = 0
    arrears_fen: int = 0
    #: the part of the arrears at least OLD_ARREARS_DAYS days overdue
    old_arrears_fen: int = 0
    open_orders: int = 0
    overdue_orders: int = 0
    response_orders: int = 0
    response_average: int | None = None
    resolution_orders: int = 0
    resolution_average: int | None = None
    rated: int = 0
    rating_sum: int = 0
    inspections_due: int = 0
    inspections_done: int = 0
    devices: int = 0
    device_days: int = 0
    failures: int = 0
    announcements: int = 0
    recipients: int = 0
    read: int = 0

    @property
    def collection_rate(self) -> Decimal | None:
        return dashboard.percent(self.received_fen, self.receivable_fen)

    @property
    def inspection_rate(self) -> Decimal | None:
        return dashboard.percent(self.inspections_done, self.inspections_due)

    @property
    def failure_rate(self) -> Decimal:
        return inspection_report.per_month(self.failures, self.device_days)

    @property
    def read_rate(self) -> Decimal | None:
        return dashboard.percent(self.read, self.recipients)


#: the columns where one project can be worse than the others: (attribute, True when higher is worse, its name)
ATTENTION = (
    ('collection_rate', False, _l('收缴率')), ('arrears_fen', True, _l('欠费合计')),
    ('old_arrears_fen', True, _l('90天以上欠费')), ('open_orders', True, _l('未完成工单')),
    ('overdue_orders', True, _l('超时工单')), ('response_average', True, _l('平均响应时长')),
    ('resolution_average', True, _l('平均解决时长')), ('average_rating', False, _l('平均评分')),
    ('inspection_rate', False, _l('巡检完成率')), ('failure_rate', True, _l('设备故障率')),
    ('read_rate', False, _l('公告阅读率')),
)


@dataclass
class Table:
    rows: list[Row]
    #: attribute -> the ids of the projects with the worst value in that column
    worst: dict[str, set[int]] = field(default_factory=dict)

    def is_worst(self, attribute: str, row: Row) -> bool:
        return row.tenant.id in self.worst.get(attribute, ())

    def attention(self, row: Row) -> list[str]:
        """The names of the columns where ``row`` is the worst project."""
        return [str(name) for attribute, _higher, name in ATTENTION if self.is_worst(attribute, row)]


def worst_values(rows: list[Row]) -> dict[str, set[int]]:
    """For each ATTENTION column, the projects holding its worst value — none when fewer than two projects have a
    value, or when they all have the same one (nobody stands out)."""
    worst = {}
    for attribute, higher_is_worse, _name in ATTENTION:
        values = {row.tenant.id: getattr(row, attribute) for row in rows if getattr(row, attribute) is not None}
        if len(values) < 2 or len(set(values.values())) == 1:
            continue
        bad = max(values.values()) if higher_is_worse else min(values.values())
        worst[attribute] = {tenant_id for tenant_id, value in values.items() if value == bad}
    return worst


def per_project(column, values: dict[int, object], type_):
    """SQL: ``values[tenant_id]`` for the row's project (``column`` its tenant_id) — one statement for projects whose
    windows differ (their timezones, their 'today')."""
    return sa.case({tenant_id: sa.literal(value, type_) for tenant_id, value in values.items()}, value=column)


def compute(projects: list[Tenant], now: datetime | None = None) -> Table:
    """The figures of ``projects`` (one company's) as of ``now`` (default: the clock): STATEMENTS statements."""
    now = now or clock.now_utc()
    rows = {t.id: Row(tenant=t, windows=dashboard.windows(t, now)) for t in projects}
    if not rows:
        return Table(rows=[])
    ids = list(rows)

    def each(attribute):
        return {tenant_id: getattr(row.windows, attribute) for tenant_id, row in rows.items()}

    with platform_scope():
        add_households(rows, ids)
        add_collection(rows, ids, each('period'))
        _arrears(rows, ids, each)
        _work_orders(rows, ids, now, each)
        _inspections(rows, ids, now, each)
        _announcements(rows, ids, now, each)
    ordered = [rows[t.id] for t in projects]
    return Table(rows=ordered, worst=worst_values(ordered))


def add_households(rows, ids) -> None:
    """``rows[tenant_id].households``: occupied rooms (also the console's, companies.services.figures)."""
    for tenant_id, count in db.session.execute(
            sa.select(Room.tenant_id, sa.func.count()).where(Room.tenant_id.in_(ids), Room.status == 'occupied')
            .group_by(Room.tenant_id)):
        rows[tenant_id].households = int(count)


def add_collection(rows, ids, periods: dict[int, str]) -> None:
    """``rows[tenant_id]``'s bills, receivable_fen and received_fen of its month ``periods[tenant_id]`` (the
    dashboard's collection; also the console's)."""
    period = per_project(Bill.tenant_id, periods, Bill.period.type)
    receivable, received = dashboard.collection_selects(period, Bill.tenant_id)
    for tenant_id, bills, total in db.session.execute(receivable.where(Bill.tenant_id.in_(ids))):
        rows[tenant_id].bills, rows[tenant_id].receivable_fen = int(bills), int(total)
    for tenant_id, paid in db.session.execute(received.where(Bill.tenant_id.in_(ids))):
        rows[tenant_id].received_fen = int(paid)


def _arrears(rows, ids, each) -> None:
    """billing.arrears.project_totals as of each project's today: the total, and the buckets from 91 days."""
    today = per_project(Bill.tenant_id, each('today'), Bill.due_on.type)
    old_since = per_project(Bill.tenant_id, {i: day - timedelta(days=OLD_ARREARS_DAYS)
                                             for i, day in each('today').items()}, Bill.due_on.type)
    balance = arrears.balance_fen()
    for tenant_id, total, old in db.session.execute(
            sa.select(Bill.tenant_id, sa.func.coalesce(sa.func.sum(balance), 0),
                      sa.func.coalesce(sa.func.sum(sa.case((Bill.due_on <= old_since, balance), else_=0)), 0))
            .where(Bill.tenant_id.in_(ids), *arrears.overdue_conditions(today)).group_by(Bill.tenant_id)):
        rows[tenant_id].arrears_fen, rows[tenant_id].old_arrears_fen = int(total), int(old)


def _work_orders(rows, ids, now, each) -> None:
    """Open and overdue now (repairs.board); response and resolution times, ratings over the trend window."""
    def count(condition):
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    for tenant_id, open_count, overdue in db.session.execute(
            sa.select(WorkOrder.tenant_id, count(WorkOrder.status.in_(OPEN_STATUSES)),
                      count(repair_board.overdue_condition(now)))
            .where(WorkOrder.tenant_id.in_(ids), WorkOrder.status.in_(repair_board.BOARD_STATUSES))
            .group_by(WorkOrder.tenant_id)):
        rows[tenant_id].open_orders, rows[tenant_id].overdue_orders = int(open_count), int(overdue)

    stamp = WorkOrder.created_at.type
    low = per_project(WorkOrder.tenant_id, {i: r.windows.starts[0] for i, r in rows.items()}, stamp)  # the trend's
    high = per_project(WorkOrder.tenant_id, each('tomorrow'), stamp)
    for tenant_id, responded, response, resolved, resolution in db.session.execute(
            dashboard.repair_times_select(low, high, WorkOrder.tenant_id, tenant_ids=ids)
            .where(WorkOrder.tenant_id.in_(ids))):
        row = rows[tenant_id]
        row.response_orders, row.response_average = int(responded), whole_seconds(response)
        row.resolution_orders, row.resolution_average = int(resolved), whole_seconds(resolution)

    for tenant_id, rated, total in db.session.execute(
            sa.select(WorkOrder.tenant_id, sa.func.count(), sa.func.sum(WorkOrder.rating))
            .where(WorkOrder.tenant_id.in_(ids), *dashboard.rated_in(low, high)).group_by(WorkOrder.tenant_id)):
        rows[tenant_id].rated, rows[tenant_id].rating_sum = int(rated), int(total or 0)


def _inspections(rows, ids, now, each) -> None:
    """This month's completion and failure rate, as inspections.report.compute counts them for the dashboard (the
    month's first day to today): tasks whose round started this month and are due by now; failures are the work
    orders linked to a device created this month (not cancelled), over the days the devices were in the ledger."""
    stamp = InspectionTask.period_start.type
    low = per_project(InspectionTask.tenant_id, each('month_start_utc'), stamp)
    high = per_project(InspectionTask.tenant_id, each('tomorrow'), stamp)
    done = sa.func.coalesce(sa.func.sum(sa.case((InspectionTask.status == 'done', 1), else_=0)), 0)
    for tenant_id, due, done_count in db.session.execute(
            sa.select(InspectionTask.tenant_id, sa.func.count(InspectionTask.id), done)
            .join(InspectionPlan, InspectionPlan.id == InspectionTask.plan_id)
            .where(InspectionTask.tenant_id.in_(ids), InspectionTask.period_start >= low,
                   InspectionTask.period_start < high, InspectionTask.due_at <= now)
            .group_by(InspectionTask.tenant_id)):
        rows[tenant_id].inspections_due, rows[tenant_id].inspections_done = int(due), int(done_count)

    low = per_project(WorkOrder.tenant_id, each('month_start_utc'), stamp)
    high = per_project(WorkOrder.tenant_id, each('tomorrow'), stamp)
    failures = dict(db.session.execute(
        sa.select(WorkOrder.device_id, sa.func.count()).where(
            WorkOrder.tenant_id.in_(ids), WorkOrder.device_id.is_not(None), WorkOrder.created_at >= low,
            WorkOrder.created_at < high, WorkOrder.status != 'cancelled').group_by(WorkOrder.device_id)).all())
    for device in db.session.execute(sa.select(Device).where(Device.tenant_id.in_(ids))
                                     .order_by(Device.tenant_id, Device.id)).scalars():
        row = rows[device.tenant_id]
        days = inspection_report.days_in_ledger(device, row.windows.month_start, row.windows.today,
                                                tenant_zone(row.tenant))
        failed = failures.get(device.id, 0)
        if not failed and (days == 0 or device.status == 'retired'):
            continue  # as inspections.report.compute: not in this month's ledger
        row.devices += 1
        row.device_days += days
        row.failures += failed


def _announcements(rows, ids, now, each) -> None:
    since = per_project(Message.tenant_id, each('since_utc'), Announcement.published_at.type)
    for tenant_id, announcements, recipients, read in db.session.execute(
            dashboard.announcement_reads_select(since, now, Message.tenant_id).where(Message.tenant_id.in_(ids))):
        row = rows[tenant_id]
        row.announcements, row.recipients, row.read = int(announcements), int(recipients), int(read)


# --- the export ---------------------------------------------------------------------------------------------------

def export_xlsx(table: Table, company: str) -> bytes:
    """The table as .xlsx: money in yuan and durations in hours as numbers, rates in percent, text formula-safe
    (reports.common.Sheet), and a last column naming where the project is the worst."""
    book = new_book()
    sheet = Sheet(book, _('项目对比'))
    sheet.row(_('%(company)s 项目对比', company=company))
    sheet.row(_('项目'), _('网址'), _('本月'), _('入住户数'), _('本月应收（元）'), _('本月实收（元）'),
              _('收缴率（%）'), _('欠费合计（元）'), _('其中90天以上（元）'), _('未完成工单'), _('超时工单'),
              _('平均响应时长（小时）'), _('平均解决时长（小时）'), _('平均评分（12个月）'), _('本月巡检完成率（%）'),
              _('本月设备故障率（次/台·月）'), _('公告阅读率（近30天，%）'), _('需关注'))
    for row in table.rows:
        sheet.row(row.tenant.name, row.tenant.slug, row.windows.period, row.households, Yuan(row.receivable_fen),
                  Yuan(row.received_fen), row.collection_rate, Yuan(row.arrears_fen), Yuan(row.old_arrears_fen),
                  row.open_orders, row.overdue_orders, hours(row.response_average), hours(row.resolution_average),
                  row.average_rating, row.inspection_rate, row.failure_rate, row.read_rate,
                  '、'.join(table.attention(row)))
    return book_bytes(book)
