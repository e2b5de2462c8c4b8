"""Bill pages for staff (账单): the list with filters and search by room, one bill with its lines and their basis."""
from __future__ import annotations

import re

import sqlalchemy as sa
from flask import g, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..auth.models import mask_mobile
from ..auth.sessions import require_duty
from ..core.navigation import add_nav
from ..extensions import db
from ..money import capital, format_yuan
from ..property.models import Building
from ..tenancy.clock import tenant_today
from . import bills as queries
from . import bp, late_fees
from .late_fee_forms import WaiveForm
from .models import BILL_STATUS_NAMES, BILL_STATUSES

PER_PAGE = 30
_PERIOD_RE = re.compile(r'^20\d{2}-(0[1-9]|1[0-2])$')


@bp.get('/billing/bills')
@require_duty('cashier')
def bills():
    """All bills, latest period first; filter by period, building, status; search by room address."""
    period = (request.args.get('period') or '').strip()
    period = period if _PERIOD_RE.match(period) else None
    status = request.args.get('status') if request.args.get('status') in BILL_STATUSES else None
    building_id = request.args.get('building', type=int)
    room_text = (request.args.get('room') or '').strip()[:80]
    room_id, room_missing = None, False
    if room_text:
        room = queries.room_by_text(room_text)
        room_id, room_missing = (room.id, False) if room else (None, True)
    query = queries.list_query(period=period, building_id=building_id, status=status, room_id=room_id)
    if room_missing:
        query = query.where(sa.false())
    page = max(request.args.get('page', 1, type=int), 1)
    pagination = db.paginate(query, page=page, per_page=PER_PAGE, error_out=False)
    buildings = db.session.execute(sa.select(Building).order_by(Building.sort_order, Building.name)).scalars().all()
    filters = {k: v for k, v in (('period', period), ('status', status), ('building', building_id),
                                 ('room', room_text or None)) if v}
    return render_template('billing/bills.html', pagination=pagination, payers=queries.payers(pagination.items),
                           place=queries.place, filters=filters, buildings=buildings, room_missing=room_missing,
                           statuses=BILL_STATUS_NAMES, yuan=format_yuan)


add_nav('billing.bills', _l('账单'), ('admin', 'staff'), duties=('cashier',))


@bp.get('/billing/bills/<int:bill_id>')
@require_duty('cashier')
def bill_detail(bill_id):
    """One bill: its lines with the basis of each (formula), the payer (mobile masked for all but admins), the total
    in figures and in capitals (大写)."""
    bill = queries.load_bill(bill_id)
    payer = queries.payers([bill]).get(bill.payer_resident_id)
    mobile = ''
    if payer is not None and payer.mobile:
        mobile = payer.mobile if current_user.role == 'admin' else mask_mobile(payer.mobile)
    return render_template('billing/bills_detail.html', bill=bill, payer=payer, mobile=mobile,
                           place=queries.place(bill), statuses=BILL_STATUS_NAMES, yuan=format_yuan,
                           capital=capital(bill.total_fen), waive_form=WaiveForm(),
                           late_fee_pending=late_fees.pending_fen(bill, g.tenant, tenant_today(g.tenant)))
