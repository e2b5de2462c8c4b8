"""Inspection figures (巡检统计) under /inspections/report: completion per plan and per person, failures per device
and category for a range of local days; the inspection records of the range as .xlsx.

Who: admins, and staff with the technician or lift-safety duty. A bad range answers 422 with the message.
"""
from __future__ import annotations

import io

from flask import g, render_template, request, send_file
from flask_babel import lazy_gettext as _l

from ..auth.sessions import require_duty
from ..core.navigation import add_nav
from ..errors import DomainError
from ..extensions import db
from ..tenancy import clock
from . import bp, report

require_inspectors = require_duty('technician', 'lift_safety')
XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'


def _range():
    return report.check_range(g.tenant, request.args.get('start'), request.args.get('end'))


@bp.get('/inspections/report', endpoint='report')
@require_inspectors
def report_page():
    try:
        start, end = _range()
    except DomainError as error:
        db.session.rollback()
        return render_template('inspections/report.html', figures=None, error=error.message, args=request.args), 422
    figures = report.compute(g.tenant, start, end, clock.now_utc())
    return render_template('inspections/report.html', figures=figures, error=None, args=request.args)


add_nav('inspections.report', _l('巡检统计'), ('admin', 'staff'), duties=('technician', 'lift_safety'))


@bp.get('/inspections/report/records.xlsx', endpoint='records_export')
@require_inspectors
def records_export():
    """The inspection records of the range as .xlsx."""
    try:
        start, end = _range()
    except DomainError as error:
        db.session.rollback()
        return render_template('inspections/report.html', figures=None, error=error.message, args=request.args), 422
    data = report.records_xlsx(g.tenant, start, end)
    return send_file(io.BytesIO(data), as_attachment=True, mimetype=XLSX,
                     download_name=f'inspections-{start.isoformat()}-{end.isoformat()}.xlsx')
