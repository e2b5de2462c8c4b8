"""工单报表 (work orders): the orders submitted in the range — or, asked for, those completed (完工) in it — with their
category, building, place, status, response and resolution times and rating; and per building and category the
number of orders, how many are completed, the average response and resolution times and the average rating.

Times are the repair statistics' (repairs/stats.py, docs/repairs.md): response = submission to the *first* 开始维修,
resolution = submission to the (last) completion; a reopened order not completed again has none. The medians,
percentiles and hot spots stay on 报修统计 (/repairs/stats), which this report links to.

A page runs three statements: the summary, then the count and one page of orders.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..extensions import db
from ..models_base import Page, page_of
from ..property.models import Building, Room
from ..repairs.models import STATUS_NAMES, RepairCategory, WorkOrder
from ..repairs.stats import AverageRating, first_started, hours, seconds_between
from ..tenancy.clock import tenant_zone
from .common import ReportFilter, Sheet, as_utc, book_bytes, new_book, seconds_as_int

PER_PAGE = 50
BASES = ('created', 'closed')
BASIS_NAMES = {'created': _l('按报修日期'), 'closed': _l('按完工日期')}


@dataclass
class GroupRow(AverageRating):
    building_id: int | None
    building: str
    category: str
    orders: int
    completed: int
    response_orders: int
    response_seconds: int | None
    resolution_orders: int
    resolution_seconds: int | None
    rated: int
    rating_sum: int

    @property
    def response_avg(self) -> int | None:
        return _avg(self.response_seconds, self.response_orders)

    @property
    def resolution_avg(self) -> int | None:
        return _avg(self.resolution_seconds, self.resolution_orders)


def _avg(total: int | None, count: int) -> int | None:
    if not count or total is None:
        return None
    return int((Decimal(total) / Decimal(count)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass
class OrderRow:
    id: int
    number: str
    created_at: datetime
    category: str
    building: str
    place: str
    status: str
    started_at: datetime | None
    completed_at: datetime | None
    rating: int | None
    reopen_count: int

    @property
    def status_name(self) -> str:
        return str(STATUS_NAMES.get(self.status, self.status))

    @property
    def response_seconds(self) -> int | None:
        return int((self.started_at - self.created_at).total_seconds()) if self.started_at else None

    @property
    def resolution_seconds(self) -> int | None:
        return int((self.completed_at - self.created_at).total_seconds()) if self.completed_at else None


@dataclass
class WorkOrderReport:
    filter: ReportFilter
    basis: str
    groups: list[GroupRow]
    total: GroupRow
    orders: Page


def _where(tenant, f: ReportFilter, basis: str) -> list:
    low, high = f.bounds(tenant)
    column = WorkOrder.completed_at if basis == 'closed' else WorkOrder.created_at
    where = [column >= low, column < high]
    if f.building_id is not None:
        where.append(WorkOrder.building_id == f.building_id)
    return where


def summary(tenant, f: ReportFilter, basis: str) -> tuple[list[GroupRow], GroupRow]:
    """Per building and category, and the range's totals: one statement."""
    started = first_started()
    response = seconds_between(started.c.at, WorkOrder.created_at)
    resolution = seconds_between(WorkOrder.completed_at, WorkOrder.created_at)
    rows = db.session.execute(
        sa.select(WorkOrder.building_id, Building.name, RepairCategory.name, sa.func.count(WorkOrder.id),
                  sa.func.count(WorkOrder.completed_at), sa.func.count(started.c.at), sa.func.sum(response),
                  sa.func.count(WorkOrder.completed_at), sa.func.sum(resolution), sa.func.count(WorkOrder.rating),
                  sa.func.coalesce(sa.func.sum(WorkOrder.rating), 0))
        .join(RepairCategory, RepairCategory.id == WorkOrder.category_id)
        .outerjoin(Building, Building.id == WorkOrder.building_id)
        .outerjoin(started, started.c.order_id == WorkOrder.id)
        .where(*_where(tenant, f, basis))
        .group_by(WorkOrder.building_id, Building.name, Building.sort_order, RepairCategory.name,
                  RepairCategory.sort_order, RepairCategory.id)
        .order_by(sa.case((WorkOrder.building_id.is_(None), 1), else_=0), Building.sort_order, Building.name,
                  RepairCategory.sort_order, RepairCategory.id)).all()
    groups = []
    for (building_id, building, category, orders, completed, response_n, response_s, resolution_n, resolution_s,
         rated, rating_sum) in rows:
        groups.append(GroupRow(building_id, building or _('未指定楼栋'), category, int(orders), int(completed),
                               int(response_n), seconds_as_int(response_s), int(resolution_n),
                               seconds_as_int(resolution_s), int(rated), int(rating_sum)))
    total = GroupRow(None, _('合计'), '', 0, 0, 0, None, 0, None, 0, 0)
    for g in groups:
        total.orders += g.orders
        total.completed += g.completed
        total.response_orders += g.response_orders
        total.resolution_orders += g.resolution_orders
        total.rated += g.rated
        total.rating_sum += g.rating_sum
        if g.response_seconds is not None:
            total.response_seconds = (total.response_seconds or 0) + g.response_seconds
        if g.resolution_seconds is not None:
            total.resolution_seconds = (total.resolution_seconds or 0) + g.resolution_seconds
    return groups, total


def orders_query(tenant, f: ReportFilter, basis: str):
    started = first_started()
    column = WorkOrder.completed_at if basis == 'closed' else WorkOrder.created_at
    return (sa.select(WorkOrder.id, WorkOrder.number, WorkOrder.created_at, RepairCategory.name, Building.name,
                      Room.code, WorkOrder.public_area, WorkOrder.status, started.c.at, WorkOrder.completed_at,
                      WorkOrder.rating, WorkOrder.reopen_count)
            .join(RepairCategory, RepairCategory.id == WorkOrder.category_id)
            .outerjoin(Building, Building.id == WorkOrder.building_id)
            .outerjoin(Room, Room.id == WorkOrder.room_id)
            .outerjoin(started, started.c.order_id == WorkOrder.id)
            .where(*_where(tenant, f, basis))
            .order_by(column, WorkOrder.id))


def _order(values) -> OrderRow:
    (order_id, number, created_at, category, building, room, area, status, started_at, completed_at, rating,
     reopen_count) = values
    return OrderRow(order_id, number, as_utc(created_at), category, building or '', room or area or '', status,
                    as_utc(started_at), as_utc(completed_at), rating, int(reopen_count or 0))


def compute(tenant, f: ReportFilter, basis: str = 'created', *, page: int = 1,
            per_page: int = PER_PAGE) -> WorkOrderReport:
    """The report's page: three statements."""
    basis = basis if basis in BASES else 'created'
    groups, total = summary(tenant, f, basis)
    raw = page_of(orders_query(tenant, f, basis), page, per_page)
    orders = Page(items=[_order(values) for values in raw.items], page=raw.page, per_page=per_page,
                  total=raw.total)
    return WorkOrderReport(filter=f, basis=basis, groups=groups, total=total, orders=orders)


def export_xlsx(tenant, f: ReportFilter, basis: str = 'created', *, project_name: str = '',
                building_name: str = '') -> bytes:
    """Sheets 汇总 (per building and category; times in hours) and 工单明细, times in the project's timezone."""
    basis = basis if basis in BASES else 'created'
    groups, total = summary(tenant, f, basis)
    zone = tenant_zone(tenant)

    def local(value):
        return value.astimezone(zone).strftime('%Y-%m-%d %H:%M') if value else ''

    book = new_book()
    sheet = Sheet(book, _('汇总'))
    sheet.row(_('%(project)s 工单报表 %(start)s 至 %(end)s，%(basis)s（%(scope)s）', project=project_name,
                start=f.start.isoformat(), end=f.end.isoformat(), basis=str(BASIS_NAMES[basis]),
                scope=building_name or _('全部楼栋')).strip())
    sheet.row(_('楼栋'), _('分类'), _('工单数'), _('已完工'), _('平均响应（小时）'), _('平均解决（小时）'),
              _('评分单数'), _('平均评分'))
    for g in [*groups, total]:
        sheet.row(g.building, g.category, g.orders, g.completed, hours(g.response_avg), hours(g.resolution_avg),
                  g.rated, g.average_rating)
    sheet = Sheet(book, _('工单明细'))
    sheet.row(_('工单号'), _('报修时间'), _('分类'), _('楼栋'), _('位置'), _('状态'), _('首次开始维修'), _('完工时间'),
              _('响应（小时）'), _('解决（小时）'), _('返修次数'), _('评分'))
    for values in db.session.execute(orders_query(tenant, f, basis)):
        o = _order(values)
        sheet.row(o.number, local(o.created_at), o.category, o.building, o.place, o.status_name, local(o.started_at),
                  local(o.completed_at), hours(o.response_seconds), hours(o.resolution_seconds), o.reopen_count,
                  o.rating)
    return book_bytes(book)
