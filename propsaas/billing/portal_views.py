"""The resident portal's bills (我的账单): bills of the rooms the resident lives in, unpaid first; one bill with its
basis. Any other bill is 404."""
from __future__ import annotations

from flask import abort, g, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..auth.sessions import require_role
from ..core.navigation import add_nav
from ..extensions import db
from ..money import capital, format_yuan
from ..tenancy.clock import tenant_today
from . import bills as queries
from . import bp, late_fees
from .models import BILL_STATUS_NAMES

PER_PAGE = 20


@bp.get('/my/bills')
@require_role('resident')
def my_bills():
    page = max(request.args.get('page', 1, type=int), 1)
    pagination = db.paginate(queries.resident_query(current_user), page=page, per_page=PER_PAGE, error_out=False)
    return render_template('billing/my_bills.html', pagination=pagination, place=queries.place,
                           statuses=BILL_STATUS_NAMES, yuan=format_yuan, filters={})


add_nav('billing.my_bills', _l('账单'), ('resident',))


@bp.get('/my/bills/<int:bill_id>')
@require_role('resident', 'admin', 'staff')
def my_bill(bill_id):
    if current_user.role != 'resident':
        abort(404)  # nobody else has bills of their own: like another room's bill, it isn't there for them
    bill = queries.resident_bill(current_user, bill_id)
    return render_template('billing/my_bills_detail.html', bill=bill, place=queries.place(bill),
                           statuses=BILL_STATUS_NAMES, yuan=format_yuan, capital=capital(bill.total_fen),
                           late_fee_pending=late_fees.pending_fen(bill, g.tenant, tenant_today(g.tenant)))
