"""Repair statistics pages (报修统计) under /repairs/stats: the figures for a range of local days and a building,
the worst hot spots highlighted with links to their orders, and everything as .xlsx.

Who: admins, and staff with the service desk (客服前台) duty. Bad filters (a date that is no date, start after end, a
range over MAX_MONTHS months, a building not of the project) answer 422 with the message, never a 500.
"""
from __future__ import annotations

import io

from flask import current_app, g, render_template, request, send_file
from flask_babel import lazy_gettext as _l

from ..auth.sessions import require_duty
from ..core.navigation import add_nav
from ..errors import DomainError
from ..extensions import db
from ..tenancy.clock import local_datetime
from . import bp, stats

require_desk = require_duty('service_desk')
XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'
#: the page lists the worst hot spots with their orders; the export has them all
SHOWN_HOT_SPOTS = 20


def _figures(hot_spot_orders: int | None = None):
    """(figures, None), or (None, the DomainError) for bad filters."""
    try:
        start, end, building_id = stats.check_range(g.tenant, request.args.get('start'), request.args.get('end'),
                                                    request.args.get('building'))
    except DomainError as error:
        return None, error
    return stats.compute(g.tenant, start, end, building_id, hot_spot_orders=hot_spot_orders), None


@bp.get('/repairs/stats', endpoint='stats')
@require_desk
def stats_page():
    figures, error = _figures(SHOWN_HOT_SPOTS)
    if error is not None:
        db.session.rollback()
        buildings = [tuple(row) for row in db.session.execute(stats.building_choices()).all()]
        return render_template('repairs/stats.html', figures=None, error=error.message, buildings=buildings,
                               args=request.args, links=False), 422
    filters = {'start': figures.start.isoformat(), 'end': figures.end.isoformat()}
    if figures.building_id:
        filters['building'] = figures.building_id
    busiest = max((count for _month, count in figures.by_month), default=0)
    return render_template('repairs/stats.html', figures=figures, error=None, buildings=figures.buildings,
                           filters=filters, args=request.args, busiest=busiest,
                           links='repairs.order_detail' in current_app.view_functions,
                           duration=stats.format_duration, local_datetime=local_datetime,
                           hot_days=stats.HOT_SPOT_DAYS, hot_orders=stats.HOT_SPOT_ORDERS,
                           hot_spots=figures.hot_spots[:SHOWN_HOT_SPOTS])


add_nav('repairs.stats', _l('报修统计'), ('admin', 'staff'), duties=('service_desk',), after='repairs.board')


@bp.get('/repairs/stats/export', endpoint='stats_export')
@require_desk
def stats_export():
    """The figures and the range's orders as .xlsx."""
    figures, error = _figures()
    if error is not None:
        db.session.rollback()
        return render_template('repairs/stats.html', figures=None, error=error.message,
                               buildings=[tuple(row) for row in db.session.execute(stats.building_choices()).all()],
                               args=request.args, links=False), 422
    data = stats.export_xlsx(g.tenant, figures)
    name = f'repairs-stats-{figures.start.isoformat()}-{figures.end.isoformat()}.xlsx'
    return send_file(io.BytesIO(data), as_attachment=True, download_name=name, mimetype=XLSX)
