"""The technician's phone pages: '我的工单' — orders assigned to them, in progress and assigned first, urgent first,
with their deadlines; each opens the order page (phone-friendly) where they start and complete the work."""
from __future__ import annotations

from flask import render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..auth.sessions import require_duty
from ..core.navigation import add_nav
from ..extensions import db
from ..tenancy import clock
from . import board, bp
from .staff_views import page_context

PER_PAGE = 30


@bp.get('/repairs/mine', endpoint='my_orders')
@require_duty('technician')
def my_orders():
    now = clock.now_utc()
    page = max(request.args.get('page', 1, type=int) or 1, 1)
    pagination = db.paginate(board.my_orders_query(current_user.id), page=page, per_page=PER_PAGE,
                             error_out=False)
    return render_template('repairs/my_orders.html', **page_context(
        pagination=pagination, now=now, is_overdue=board.is_overdue, filters={}))


add_nav('repairs.my_orders', _l('我的工单'), ('admin', 'staff'), duties=('technician',),
        badge=board.new_for_technician)
