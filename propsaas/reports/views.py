"""报表 pages under /reports: the index, and each report as a page (date range — this month by default — and
building filter, a table, 导出 Excel). The exports are written directly: each is at most a year of one project's
records, in write-only mode, like the repair statistics' and the arrears list's.

Who: admins; staff see the reports of their duties — the money reports (收费统计, 收款日记账, and the arrears list
in billing) with the cashier (收费) duty, work orders with the service desk (客服前台), inspections and equipment
with the technician (工程) or lift-safety duty — as the pages behind them are gated. Others get 403.
A bad filter answers 422 with the reason, never a 500.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

from flask import g, render_template, request, send_file
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..auth.sessions import require_duty
from ..core.navigation import add_nav
from ..errors import DomainError
from ..extensions import db
from ..money import format_yuan
from ..repairs.stats import format_duration
from ..tenancy import clock
from ..tenancy.clock import local_datetime
from . import bp, equipment, fees, inspections, journal, work_orders
from .common import XLSX, building_choices, parse_filter

MONEY_DUTIES = ('cashier',)
DESK_DUTIES = ('service_desk',)
INSPECTION_DUTIES = ('technician', 'lift_safety')


@dataclass(frozen=True)
class Entry:
    endpoint: str
    title: object
    description: object
    duties: tuple[str, ...]


REPORTS = (
    Entry('reports.fees', _l('收费统计'), _l('按收费项目、楼栋和月份：应收、实收、欠收和收缴率。'), MONEY_DUTIES),
    Entry('billing.arrears', _l('欠费清单'), _l('截至今天的欠费房屋，按账龄分列，可按楼栋筛选并导出（收费管理）。'),
          MONEY_DUTIES),
    Entry('reports.payments', _l('收款日记账'), _l('每日按收款方式和收款人对账：收款、退款、冲正和净额。'),
          MONEY_DUTIES),
    Entry('reports.work_orders', _l('工单报表'), _l('报修或完工在区间内的工单：分类、楼栋、响应和解决时长、评分。'),
          DESK_DUTIES),
    Entry('reports.inspections', _l('巡检报表'), _l('按巡检计划和人员：应检、已完成、超时完成和漏检。'),
          INSPECTION_DUTIES),
    Entry('reports.equipment', _l('设备故障报表'), _l('按设备和类别：故障次数、月均故障和平均故障间隔（MTBF）。'),
          INSPECTION_DUTIES),
)
ALL_DUTIES = tuple(dict.fromkeys(duty for entry in REPORTS for duty in entry.duties))


def _mine() -> list[Entry]:
    return [entry for entry in REPORTS if any(current_user.has_duty(duty) for duty in entry.duties)]


@bp.get('/reports', endpoint='index')
@require_duty(*ALL_DUTIES)
def index():
    return render_template('reports/index.html', reports=_mine())


add_nav('reports.index', _l('报表'), ('admin', 'staff'), duties=ALL_DUTIES)


def _filter():
    """(filter, None) or (None, the DomainError) for the query's start, end and building."""
    try:
        return parse_filter(g.tenant, request.args.get('start'), request.args.get('end'),
                            request.args.get('building')), None
    except DomainError as error:
        db.session.rollback()
        return None, error


#: a page number past this is the last page anyway (and an offset SQLite can hold)
MAX_PAGE = 100_000


def _page() -> int:
    return min(max(request.args.get('page', 1, type=int) or 1, 1), MAX_PAGE)


def _building_name(f) -> str:
    return dict(building_choices()).get(f.building_id, '') if f.building_id else ''


def _render(template: str, endpoint: str, f, error, *, extra: dict | None = None, **context):
    """A report page; with a bad filter, the form and the reason (422). ``filters``: the query arguments that ask
    for the same report again (the export link, the pager)."""
    filters = {**f.args(), **(extra or {})} if f else {}
    context.update(f=f, error=error.message if error else None, endpoint=endpoint, args=request.args,
                   buildings=building_choices(), filters=filters, yuan=format_yuan,
                   duration=format_duration, local_datetime=local_datetime)
    return render_template(template, **context), 422 if error else 200


def _download(data: bytes, name: str):
    return send_file(io.BytesIO(data), as_attachment=True, download_name=name, mimetype=XLSX)


@bp.get('/reports/fees', endpoint='fees')
@require_duty(*MONEY_DUTIES)
def fees_page():
    f, error = _filter()
    report = fees.compute(f, page=_page()) if f else None
    return _render('reports/fees.html', 'reports.fees', f, error, report=report)


@bp.get('/reports/fees.xlsx', endpoint='fees_export')
@require_duty(*MONEY_DUTIES)
def fees_export():
    f, error = _filter()
    if error:
        return _render('reports/fees.html', 'reports.fees', f, error, report=None)
    data = fees.export_xlsx(f, project_name=g.tenant.name, building_name=_building_name(f))
    return _download(data, f'fee-collection-{f.slug()}.xlsx')


@bp.get('/reports/payments', endpoint='payments')
@require_duty(*MONEY_DUTIES)
def payments_page():
    f, error = _filter()
    report = journal.compute(g.tenant, f, page=_page()) if f else None
    return _render('reports/payments.html', 'reports.payments', f, error, report=report)


@bp.get('/reports/payments.xlsx', endpoint='payments_export')
@require_duty(*MONEY_DUTIES)
def payments_export():
    f, error = _filter()
    if error:
        return _render('reports/payments.html', 'reports.payments', f, error, report=None)
    data = journal.export_xlsx(g.tenant, f, project_name=g.tenant.name, building_name=_building_name(f))
    return _download(data, f'payment-journal-{f.slug()}.xlsx')


def _work_filter():
    """(filter, basis, error): the common filter and 'by' (created, the default, or closed)."""
    f, error = _filter()
    basis = request.args.get('by') or 'created'
    if f and basis not in work_orders.BASES:
        f, error = None, DomainError(_l('请选择按报修日期或按完工日期'), field='by')
    return f, basis, error


def _work_render(f, basis, error, report):
    extra = {'by': basis} if f and basis != 'created' else {}
    return _render('reports/work_orders.html', 'reports.work_orders', f, error, report=report, basis=basis,
                   bases=work_orders.BASIS_NAMES, extra=extra)


@bp.get('/reports/work-orders', endpoint='work_orders')
@require_duty(*DESK_DUTIES)
def work_orders_page():
    f, basis, error = _work_filter()
    report = work_orders.compute(g.tenant, f, basis, page=_page()) if f else None
    return _work_render(f, basis, error, report)


@bp.get('/reports/work-orders.xlsx', endpoint='work_orders_export')
@require_duty(*DESK_DUTIES)
def work_orders_export():
    f, basis, error = _work_filter()
    if error:
        return _work_render(f, basis, error, None)
    data = work_orders.export_xlsx(g.tenant, f, basis, project_name=g.tenant.name, building_name=_building_name(f))
    return _download(data, f'work-orders-{f.slug()}.xlsx')


@bp.get('/reports/inspections', endpoint='inspections')
@require_duty(*INSPECTION_DUTIES)
def inspections_page():
    f, error = _filter()
    report = inspections.compute(g.tenant, f, clock.now_utc()) if f else None
    return _render('reports/inspections.html', 'reports.inspections', f, error, report=report)


@bp.get('/reports/inspections.xlsx', endpoint='inspections_export')
@require_duty(*INSPECTION_DUTIES)
def inspections_export():
    f, error = _filter()
    if error:
        return _render('reports/inspections.html', 'reports.inspections', f, error, report=None)
    data = inspections.export_xlsx(g.tenant, f, clock.now_utc(), project_name=g.tenant.name,
                                   building_name=_building_name(f))
    return _download(data, f'inspections-{f.slug()}.xlsx')


@bp.get('/reports/equipment', endpoint='equipment')
@require_duty(*INSPECTION_DUTIES)
def equipment_page():
    f, error = _filter()
    report = equipment.compute(g.tenant, f) if f else None
    return _render('reports/equipment.html', 'reports.equipment', f, error, report=report)


@bp.get('/reports/equipment.xlsx', endpoint='equipment_export')
@require_duty(*INSPECTION_DUTIES)
def equipment_export():
    f, error = _filter()
    if error:
        return _render('reports/equipment.html', 'reports.equipment', f, error, report=None)
    data = equipment.export_xlsx(g.tenant, f, project_name=g.tenant.name, building_name=_building_name(f))
    return _download(data, f'equipment-failures-{f.slug()}.xlsx')
